"""Whole fits as users call them, default settings, seeding included: part of `make bench`.

Every contender fits the same array with its library's defaults (only k and the seed given):
scikit-learn `KMeans(k)` (k-means++, one init) and `MiniBatchKMeans(k)`, scikit-learn-intelex
`KMeans(k)`, FAISS `faiss.Kmeans(d, k)` (which subsamples 256 rows per centroid by default), and
fastkmeans `KMeans(k)` (the default recipe), `KMeans(k, algorithm="lloyd")` (seeded from a coreset),
`KMeans(k, algorithm="lloyd", local_lloyd_init_method=...)` with "kmeans++" and "kmeans||",
`KMeans(k, init_method="kmeans++")` and `KMeans(k, recipe="sagemaker")` (SageMaker's exact recipe).
The contenders take turns seed by seed, so a slow spell of a shared machine hits them all; the
table gives the median wall seconds, the median loss (training sum of squared distances,
recomputed here in float64 for every contender alike) divided by scikit-learn KMeans' median loss,
and the mean loss over the seeds divided by scikit-learn's mean, with the range of the seeds'
losses over that mean (scikit-learn's own loss varies by seed too). On the blobs it also times the
seeding of `KMeans(k, algorithm="lloyd")` alone (a one-pass fit minus one Lloyd pass from its
seeds, best of 3), with the coreset, k-means++ and k-means||, and gives its share of that fit's
median time. Every timed call follows an idle pause (benches/compare.py's `timed`), so that no
contender's threads still spin; on a virtual machine the host may empty the caches meanwhile, and
on sets of a few hundred rows that first call takes several times as long as the next. `--warm`
times the second of two calls in a row instead on the real, held-out and sweep sets (not on the blobs,
where a fit takes seconds), as a loop over seeds or k runs them, at twice the runs.

Data: the 1,000,000 x 32 blobs with k = 100 of benches/compare.py (one seed: scikit-learn takes
about 25 s a fit there), the real sets of ../shared/data (benches/quality.py's loaders) and
scikit-learn's bundled digits (1,797 x 64, k = 10) and the colours of its sample image flower.jpg
(273,280 pixels x 3, in [0, 1], k = 64: colour quantisation, low-dimensional with many clusters).
`--held-out` adds sets held out from the tuning of the default (though the small tables among them,
iris, wine, breast cancer, diabetes and USArrests, informed the small-table rule of 2026-12-05):
scikit-learn's bundled iris, wine and breast cancer (standardised), diabetes, digits at k = 30, the
colours of china.jpg at k = 16 and 64 and of flower.jpg at k = 8, ../shared/data's USArrests
(standardised), and MNIST at k = 20 and in float32. `--sweep` adds an elbow sweep, k = 2-10, over
six small tables, where a fit takes a millisecond or less: iris, wine and breast cancer
(standardised), diabetes, and ../shared/data's USArrests and state crime (standardised).

Usage: python benches/whole_fit.py [--quick] [--seeds N] [--blob-seeds N] [--repeats N] [--only NAME ...]
                                   [--default-only] [--held-out] [--sweep] [--warm] [--json PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402  (sets the thread counts before numpy loads)
import numpy as np  # noqa: E402
import quality  # noqa: E402

import fastkmeans  # noqa: E402
from fastkmeans import _core  # noqa: E402

Fit = Callable[[np.ndarray, int, int], np.ndarray]


# Contenders: (X, k, seed) -> final centres -----------------------------------------------------

def fastkmeans_fit(**params) -> Fit:
    return lambda x, k, seed: fastkmeans.KMeans(k, random_state=seed, **params).fit(x).cluster_centers_


def sklearn_fit(module, name: str) -> Fit:
    return lambda x, k, seed: getattr(module, name)(k, random_state=seed).fit(x).cluster_centers_


def faiss_fit(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    kmeans = compare.faiss.Kmeans(x.shape[1], k, seed=seed + 1)
    kmeans.train(np.ascontiguousarray(x, dtype=np.float32))
    return kmeans.centroids


def contenders(with_previous: bool, default_only: bool = False) -> Dict[str, Fit]:
    out: Dict[str, Fit] = {}
    if compare.sk_cluster is not None:
        out["scikit-learn KMeans()"] = sklearn_fit(compare.sk_cluster, "KMeans")
    if default_only:
        out["fastkmeans KMeans(k)"] = fastkmeans_fit()
        return out
    if compare.sk_cluster is not None:
        out["scikit-learn MiniBatchKMeans()"] = sklearn_fit(compare.sk_cluster, "MiniBatchKMeans")
    if compare.sklearnex_cluster is not None:
        out["scikit-learn-intelex KMeans()"] = sklearn_fit(compare.sklearnex_cluster, "KMeans")
    if compare.faiss is not None:
        out["faiss.Kmeans()"] = faiss_fit
    out["fastkmeans KMeans(k)"] = fastkmeans_fit()
    out['fastkmeans KMeans(k, algorithm="lloyd")'] = fastkmeans_fit(algorithm="lloyd")
    for init in ("kmeans++", "kmeans||"):
        out[f'fastkmeans KMeans(k, algorithm="lloyd", local_lloyd_init_method="{init}")'] = fastkmeans_fit(
            algorithm="lloyd", local_lloyd_init_method=init)
    out['fastkmeans KMeans(k, init_method="kmeans++")'] = fastkmeans_fit(init_method="kmeans++")
    out['fastkmeans KMeans(k, recipe="sagemaker")'] = fastkmeans_fit(recipe="sagemaker")
    if with_previous:
        out["fastkmeans before issue 15 (recipe=sagemaker, reseed_ratio=0)"] = fastkmeans_fit(
            recipe="sagemaker", reseed_ratio=0.0)
    return out


# Data --------------------------------------------------------------------------------------------

def real_sets(quick: bool) -> List[Tuple[str, Callable[[], np.ndarray], int]]:
    """(name, loader, k) for the real sets of ../shared/data; k is the number of true groups."""
    sipu = [("birch1", 100), ("birch2", 100), ("birch3", 100), ("s1", 15), ("s2", 15), ("s3", 15), ("s4", 15),
            ("a1", 20), ("a2", 35), ("a3", 50), ("unbalance", 8), ("dim032", 16), ("dim064", 16)]
    sets = [(name, (lambda name=name: np.loadtxt(quality.DATA / "sipu" / f"{name}.txt")), k) for name, k in sipu]
    sets.append(("skin_nonskin", lambda: np.loadtxt(quality.DATA / "skin_nonskin" / "Skin_NonSkin.txt")[:, :3], 2))
    sets.append(("mnist (t10k)", mnist, 10))
    sets.append(("digits (scikit-learn)", digits, 10))
    sets.append(("flower.jpg colours (scikit-learn)", flower, 64))
    if not quick:
        sets.append(("kddcup99 (log1p, standardised)", quality.load_kddcup99, 23))
    return sets


def standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / x.std(axis=0)


def standardised_csv(folder: str, name: str, columns: range) -> Callable[[], np.ndarray]:
    """A loader of the standardised `columns` of ../shared/data's `folder`/`name` (a header line)."""
    path = quality.DATA / folder / name
    return lambda: standardised(np.loadtxt(path, delimiter=",", skiprows=1, usecols=columns))


def held_out_sets() -> List[Tuple[str, Callable[[], np.ndarray], int]]:
    """(name, loader, k) for sets held out from the default's tuning (see the module docs)."""
    from sklearn import datasets  # bundled with scikit-learn: nothing to download

    def colours(name: str) -> np.ndarray:
        return datasets.load_sample_image(name).reshape(-1, 3).astype(np.float64) / 255

    usarrests = standardised_csv("usarrests", "USArrests.csv", range(1, 5))
    return [
        ("iris (held out)", lambda: datasets.load_iris().data, 3),
        ("wine, standardised (held out)", lambda: standardised(datasets.load_wine().data), 3),
        ("breast cancer, standardised (held out)", lambda: standardised(datasets.load_breast_cancer().data), 2),
        ("diabetes (held out)", lambda: datasets.load_diabetes().data, 4),
        ("USArrests, standardised (held out)", usarrests, 4),
        ("digits k = 30 (held out)", digits, 30),
        ("china.jpg colours k = 16 (held out)", lambda: colours("china.jpg"), 16),
        ("china.jpg colours k = 64 (held out)", lambda: colours("china.jpg"), 64),
        ("flower.jpg colours k = 8 (held out)", flower, 8),
        ("mnist k = 20 (held out)", mnist, 20),
        ("mnist float32 (held out)", lambda: mnist().astype(np.float32), 10),
    ]


def sweep_sets() -> List[Tuple[str, Callable[[], np.ndarray], int]]:
    """(name, loader, k) for the elbow sweep: six small tables at k = 2-10 (see the module docs)."""
    from sklearn import datasets  # bundled with scikit-learn: nothing to download

    tables = [
        ("iris", lambda: datasets.load_iris().data),
        ("wine, standardised", lambda: standardised(datasets.load_wine().data)),
        ("breast cancer, standardised", lambda: standardised(datasets.load_breast_cancer().data)),
        ("diabetes", lambda: datasets.load_diabetes().data),
        ("USArrests, standardised", standardised_csv("usarrests", "USArrests.csv", range(1, 5))),
        ("state crime, standardised", standardised_csv("statecrime", "statecrime.csv", range(1, 8))),
    ]
    return [(f"{name} k = {k} (sweep)", load, k) for name, load in tables for k in range(2, 11)]


def mnist() -> np.ndarray:
    path = quality.DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)


def digits() -> np.ndarray:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: nothing to download
    return load_digits().data.astype(np.float64)


def flower() -> np.ndarray:
    """Colour quantisation: the pixels of scikit-learn's sample image flower.jpg as RGB in [0, 1]."""
    from sklearn.datasets import load_sample_image  # bundled with scikit-learn: nothing to download
    return load_sample_image("flower.jpg").reshape(-1, 3).astype(np.float64) / 255


def loss(x: np.ndarray, centers: np.ndarray) -> float:
    _, dist2 = _core.assign(x, np.ascontiguousarray(centers, dtype=x.dtype))
    return float(dist2.sum())


# Runs --------------------------------------------------------------------------------------------

def run_set(name: str, x: np.ndarray, k: int, seeds: int, fits: Dict[str, Fit], table: compare.Table,
            results: dict, repeats: int = 1, warm: bool = False) -> None:
    print(f"\n{name}: {x.shape[0]} x {x.shape[1]}, k = {k}, {seeds} seed(s)", flush=True)
    times: Dict[str, List[float]] = {who: [] for who in fits}
    losses: Dict[str, List[float]] = {who: [] for who in fits}
    for seed in range(seeds):
        # Each seed's fit is the same computation every time: its fastest of `repeats` runs, the
        # contenders taking turns.
        runs = compare.best_interleaved(repeats, {who: (lambda fit=fit, seed=seed: fit(x, k, seed))
                                                   for who, fit in fits.items()}, warm)
        for who, (seconds, centers) in runs.items():
            times[who].append(seconds)
            losses[who].append(loss(x, centers))
    reference = "scikit-learn KMeans()"
    ref_losses = losses.get(reference, losses["fastkmeans KMeans(k)"])
    ref_loss, ref_mean = statistics.median(ref_losses), statistics.mean(ref_losses)
    ref_time = statistics.median(times.get(reference, times["fastkmeans KMeans(k)"]))
    results[name] = {}
    for who in fits:
        seconds, ratio = statistics.median(times[who]), statistics.median(losses[who]) / ref_loss
        spread = f"{min(losses[who]) / ref_mean:.4f}-{max(losses[who]) / ref_mean:.4f}"
        table.add(name, who, f"{seconds:.3f}", f"{ratio:.4f}", f"{statistics.mean(losses[who]) / ref_mean:.4f}",
                  spread, f"{seconds / ref_time:.3f}")
        results[name][who] = {"seconds": times[who], "loss": losses[who]}


def lloyd_seeding_share(x: np.ndarray, k: int, results: dict, name: str) -> List[str]:
    """Each Lloyd contender's seeding alone, and its share of that fit's median time."""
    def one_pass(**extra) -> dict:
        return _core.fit_lloyd(x, k=k, num_trials=1, max_iter=1, tol=0.0, seed=0, **extra)
    notes = []
    lloyd = 'fastkmeans KMeans(k, algorithm="lloyd"'
    for init, who in (("coreset", f"{lloyd})"), ("kmeans++", f'{lloyd}, local_lloyd_init_method="kmeans++")'),
                      ("kmeans||", f'{lloyd}, local_lloyd_init_method="kmeans||")')):
        seeded, from_seeds = [], []
        for _ in range(3):
            seconds, out = compare.timed(lambda init=init: one_pass(init_method=init))
            seeded.append(seconds)
            centers = out["centers"]
            from_seeds.append(compare.timed(lambda c=centers: one_pass(init_method="random", init_centers=c))[0])
        seeding = max(min(seeded) - min(from_seeds), 0.0)
        whole = statistics.median(results[name][who]["seconds"])
        results[name][f"{init} seeding seconds"] = seeding
        notes.append(f"{who} on {name}: seeding {seeding:.3f} s of a {whole:.3f} s fit "
                     f"({100 * seeding / whole:.1f}%)")
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no blobs, no kddcup99, one seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per real set (default 3)")
    parser.add_argument("--blob-seeds", type=int, default=1,
                        help="seeds on the blobs (default 1: scikit-learn takes about 25 s a fit there)")
    parser.add_argument("--only", nargs="*", help="data sets to run (substring match; 'blobs' for the blobs)")
    parser.add_argument("--with-previous", action="store_true",
                        help="also fastkmeans as it was before issue 15 (recipe='sagemaker', reseed_ratio=0)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each seed's fit this many times, keeping the fastest (default 1; the "
                             "sets of a few thousand rows take milliseconds, and a shared machine's "
                             "slow spells swamp one run)")
    parser.add_argument("--default-only", action="store_true",
                        help="only scikit-learn KMeans() and fastkmeans KMeans(k) (shorter runs)")
    parser.add_argument("--held-out", action="store_true",
                        help="also the sets held out from the default's tuning (see the module docs)")
    parser.add_argument("--sweep", action="store_true",
                        help="also the elbow sweep, k = 2-10 over six small tables (see the module docs)")
    parser.add_argument("--warm", action="store_true",
                        help="on the real, held-out and sweep sets (not the blobs), time each fit right after an "
                             "untimed run of the same fit, as in a loop over seeds or k: twice the runs "
                             "(default: the first call after an idle pause, whose cold caches dominate fits "
                             "of a few hundred rows)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    fits = contenders(args.with_previous, args.default_only)

    def wanted(name: str) -> bool:
        return not args.only or any(o in name for o in args.only)

    calls = ("on the real, held-out and sweep sets each timed call the second of two in a row" if args.warm
             else "each timed call after an idle pause")
    table = compare.Table(f"Whole fits, library defaults, seeding included ({compare.THREADS} threads; median "
                          f"over the seeds, contenders taking turns; {calls})",
                          ["data", "contender", "seconds", "loss / scikit-learn", "mean loss / scikit-learn's",
                           "seeds' range", "time / scikit-learn"])
    results: dict = {}
    for fit in fits.values():  # warm-up: thread pools, page faults, lazy imports
        fit(np.random.default_rng(0).standard_normal((2000, 4)), 4, 0)
    notes: List[str] = []
    if not args.quick and wanted("blobs"):
        blobs = compare.blobs(1_000_000, 32, 100, 1)
        run_set("blobs 1,000,000 x 32", blobs, 100, args.blob_seeds, fits, table, results)
        if not args.default_only:  # the Lloyd contenders whose seeding it times
            notes += lloyd_seeding_share(blobs, 100, results, "blobs 1,000,000 x 32")
    sets = real_sets(args.quick) + (held_out_sets() if args.held_out else []) + (sweep_sets() if args.sweep else [])
    for name, load, k in sets:
        if wanted(name):
            run_set(name, np.ascontiguousarray(load()), k, seeds, fits, table, results, args.repeats, args.warm)
    print(f"\n## Whole fits ({compare.THREADS} threads, fastkmeans {fastkmeans.__version__})\n")
    print(table.markdown())
    for note in notes:
        print(f"\n{note}")
    if args.json:
        args.json.write_text(json.dumps({"warm": args.warm, "sets": results}, indent=2))


if __name__ == "__main__":
    main()
