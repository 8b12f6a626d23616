"""fastkmeans against its anchors, side by side, in one process: `make bench`.

Every Lloyd contender starts from the same initial centres on the same float32 data and runs the
same number of iterations (tol = 0), so "ms per iteration" compares like with like; the final loss
of each is recomputed here the same way (exact squared distances in float64) and shown relative to
scikit-learn's. GFLOP/s counts the 2·n·k·d multiply-adds of one brute-force assignment per
iteration (an algorithm that prunes distance computations gets "effective" GFLOP/s), and "of peak"
divides by numpy's float32 GEMM rate measured at the start of the same run.

Anchors are run when installed: scikit-learn KMeans (lloyd, elkan) and MiniBatchKMeans,
scikit-learn-intelex (daal4py's KMeans), and faiss-cpu (Clustering with no subsampling,
IndexFlatL2). `make bench` installs them into the project's virtual environment.

Usage: python benches/compare.py [--quick] [--only NAME ...] [--iters N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

THREADS = os.cpu_count() or 1
# Every library gets the same number of threads: the machine's cores.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))

import numpy as np  # noqa: E402

import fastkmeans  # noqa: E402
from fastkmeans import _core  # noqa: E402

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


# Anchors -----------------------------------------------------------------------------------------

def optional(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None


sk_cluster = optional("sklearn.cluster")
sklearnex_cluster = optional("sklearnex.cluster")
faiss = optional("faiss")
if faiss is not None:
    faiss.omp_set_num_threads(THREADS)


# Idle time before every timed run. After a call, the anchors' worker threads (OpenMP, TBB,
# OpenBLAS) keep spinning for up to ~0.1 s; on a 2-core machine whoever runs next would lose
# cores to them. Measured: fastkmeans' Fashion-MNIST iteration ran at 26.6 ms right after FAISS,
# 20.0 ms alone, so every contender now starts on a quiet machine.
QUIET_SECONDS = 0.3


def timed(fn: Callable[..., object], *args, warm: bool = False) -> Tuple[float, object]:
    """Seconds of one call of `fn` after the quiet pause, and its result. `warm`: the call timed
    is the second of two in a row (the first untimed), as in a loop over seeds or k: on an idle
    virtual machine the host may have emptied the caches during the pause, and the first call
    after it pays for that (a fit of a few hundred rows then takes several times as long)."""
    time.sleep(QUIET_SECONDS)
    if warm:
        fn(*args)
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def best_interleaved(reps: int, contenders: Dict[str, Callable[[], object]],
                     warm: bool = False) -> Dict[str, Tuple[float, object]]:
    """The fastest of `reps` timed runs of each contender, with its result, the contenders taking
    turns run by run: a slow spell of this shared machine then falls on all of them, not on
    whichever happened to be running. `warm`: each timed run follows an untimed one (`timed`)."""
    best: Dict[str, Tuple[float, object]] = {}
    for _ in range(reps):
        for who, fn in contenders.items():
            run = timed(fn, warm=warm)
            if who not in best or run[0] < best[who][0]:
                best[who] = run
    return best


def best_of(reps: int, fn: Callable[..., object], *args) -> float:
    """The fastest of `reps` timed runs of one contender, in seconds (the same rule as above)."""
    return best_interleaved(reps, {"": lambda: fn(*args)})[""][0]


def lloyd_fastkmeans(x, c0, iters):
    out = _core.fit_lloyd(x, k=c0.shape[0], init_method="random", num_trials=1, max_iter=iters, tol=0.0, seed=0,
                          init_centers=c0)
    return out["centers"], out["n_iter"]


def lloyd_sklearn(algorithm, module):
    def run(x, c0, iters):
        km = module.KMeans(n_clusters=c0.shape[0], init=c0, n_init=1, max_iter=iters, tol=0.0, algorithm=algorithm)
        km.fit(x)
        return km.cluster_centers_, km.n_iter_
    return run


def lloyd_faiss(x, c0, iters):
    n, d = x.shape
    k = c0.shape[0]
    clus = faiss.Clustering(d, k)
    clus.niter = iters
    clus.max_points_per_centroid = n  # no subsampling: every row, as the others use
    clus.min_points_per_centroid = 0
    clus.verbose = False
    # Centroids present before train() are faiss' initialisation.
    faiss.copy_array_to_vector(c0.ravel(), clus.centroids)
    index = faiss.IndexFlatL2(d)
    clus.train(x, index)
    return faiss.vector_float_to_array(clus.centroids).reshape(k, d), iters


def lloyd_contenders() -> Dict[str, Callable]:
    out: Dict[str, Callable] = {"fastkmeans": lloyd_fastkmeans}
    if sk_cluster is not None:
        out["sklearn lloyd"] = lloyd_sklearn("lloyd", sk_cluster)
        out["sklearn elkan"] = lloyd_sklearn("elkan", sk_cluster)
    if sklearnex_cluster is not None:
        out["sklearn-intelex"] = lloyd_sklearn("lloyd", sklearnex_cluster)
    if faiss is not None:
        out["faiss"] = lloyd_faiss
    return out


# Data --------------------------------------------------------------------------------------------

def blobs(n: int, d: int, centers: int, seed: int) -> np.ndarray:
    """Gaussian blobs with overlapping spreads (float32), so Lloyd has work to do every iteration."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, size=(centers, d)).astype(np.float32)
    spread = rng.uniform(0.5, 3.0, size=centers).astype(np.float32)
    owner = rng.integers(0, centers, size=n)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x *= spread[owner, None]
    x += means[owner]
    return x


def fashion_mnist() -> Tuple[np.ndarray, str]:
    """Fashion-MNIST's 70,000 × 784 (Debian's dataset-fashion-mnist), else blobs of that shape."""
    files = [FASHION_MNIST / "train-images-idx3-ubyte.gz", FASHION_MNIST / "t10k-images-idx3-ubyte.gz"]
    if all(f.exists() for f in files):
        parts = [np.frombuffer(gzip.open(f).read(), np.uint8, offset=16).reshape(-1, 784) for f in files]
        return np.concatenate(parts).astype(np.float32) / 255.0, "Fashion-MNIST"
    return blobs(70_000, 784, 10, 3), "blobs (apt-get install dataset-fashion-mnist for the real set)"


def tutorial() -> np.ndarray:
    from sklearn.datasets import make_blobs

    x, _ = make_blobs(n_samples=5000, n_features=10, centers=5, cluster_std=1.5, random_state=42)
    return x.astype(np.float32)


def loss(x: np.ndarray, centers: np.ndarray) -> float:
    _, dist2 = _core.assign(x, np.ascontiguousarray(centers, dtype=x.dtype))
    return float(dist2.sum())


def sgemm_gflops() -> float:
    """numpy's float32 GEMM rate on 4096² operands: the machine's practical peak, best of three."""
    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    a @ a
    best = best_of(3, np.matmul, a, a)
    return 2 * 4096**3 / best / 1e9


# Runs --------------------------------------------------------------------------------------------

class Table:
    def __init__(self, title: str, columns: List[str]):
        self.title, self.columns, self.rows = title, columns, []

    def add(self, *cells) -> None:
        self.rows.append([c if isinstance(c, str) else f"{c:.3g}" if isinstance(c, float) else str(c) for c in cells])
        print("  " + " | ".join(self.rows[-1]), flush=True)

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def lloyd_table(name: str, x: np.ndarray, k: int, iters: int, peak: float, only: Optional[List[str]],
                results: dict, reps: int = 2) -> Table:
    n, d = x.shape
    c0 = x[np.random.default_rng(1).choice(n, k, replace=False)].copy()
    print(f"\n{name}: {n} x {d}, k = {k}, {iters} iterations from the same centres, best of {reps}", flush=True)
    contenders = {who: (lambda run=run: run(x, c0, iters)) for who, run in lloyd_contenders().items()
                  if not only or who == "fastkmeans" or any(o in who for o in only)}
    times: Dict[str, float] = {}
    losses: Dict[str, float] = {}
    for who, (seconds, (centers, n_iter)) in best_interleaved(reps, contenders).items():
        times[who] = seconds * 1e3 / max(int(n_iter), 1)
        losses[who] = loss(x, centers)
        print(f"  {who}: {times[who]:.1f} ms/iteration ({n_iter} iterations)", flush=True)
    ref = losses.get("sklearn lloyd", losses["fastkmeans"])
    flops = 2.0 * n * k * d
    table = Table(f"Lloyd, {name} ({n:,} × {d}, k = {k}), float32, {THREADS} threads, best of {reps} runs each, "
                  "taking turns",
                  ["contender", "ms / iteration", "GFLOP/s", "of sgemm peak", "loss / sklearn",
                   "fastkmeans speed-up"])
    for who in times:
        gflops = flops / (times[who] * 1e-3) / 1e9
        table.add(who, times[who], gflops, f"{gflops / peak:.0%}", f"{losses[who] / ref:.5f}",
                  f"{times[who] / times['fastkmeans']:.2f}×")
    results[name] = {"ms_per_iteration": times, "loss": losses}
    return table


def fresh_state(c0: np.ndarray) -> dict:
    """A streaming state holding the centres c0, nothing merged yet."""
    k, d = c0.shape
    return {"centers": c0.copy(), "counts": np.zeros(k), "points_seen": 0,
            "far_points": np.empty((0, d), c0.dtype), "far_weights": np.empty(0), "far_dist2": np.empty(0)}


def fastkmeans_epoch(x: np.ndarray, c0: np.ndarray, batch: int) -> np.ndarray:
    """One streaming epoch from the centres c0 (SageMaker's update with extra_center_factor=1):
    the core shuffles the rows and merges their batches one after another."""
    merged = _core.minibatch_update(x, state=fresh_state(c0), half_life_time_size=0, mini_batch_size=batch,
                                    shuffle_seed=0)
    return merged["state"]["centers"]


def fastkmeans_epoch_python(x: np.ndarray, c0: np.ndarray, batch: int) -> np.ndarray:
    """An epoch fed batch by batch from Python, as a caller with its own batches would: numpy
    shuffles (so the order, and the final loss, differ from the core's) and gathers each batch."""
    state = fresh_state(c0)
    order = np.random.default_rng(0).permutation(x.shape[0])
    for start in range(0, x.shape[0], batch):
        state = _core.minibatch_update(x[order[start:start + batch]], state=state, half_life_time_size=0)["state"]
    return state["centers"]


def minibatch_table(x: np.ndarray, k: int, results: dict, reps: int = 5) -> Table:
    n, d = x.shape
    c0 = x[np.random.default_rng(1).choice(n, k, replace=False)].copy()
    print(f"\nmini-batch: one epoch over {n} x {d}, k = {k}, batches of 5000, best of {reps}", flush=True)
    table = Table(f"Mini-batch, one epoch over {n:,} × {d}, k = {k}, batches of 5,000, best of {reps} runs each, "
                  "taking turns", ["contender", "seconds", "M points/s", "final loss / MiniBatchKMeans",
                                   "fastkmeans speed-up"])
    contenders: Dict[str, Callable[[], np.ndarray]] = {}
    if sk_cluster is not None:
        def mini_batch_kmeans() -> np.ndarray:
            mbk = sk_cluster.MiniBatchKMeans(n_clusters=k, init=c0, n_init=1, batch_size=5000, max_iter=1,
                                             max_no_improvement=None, tol=0.0, compute_labels=False, random_state=0)
            return mbk.fit(x).cluster_centers_
        contenders["MiniBatchKMeans (same initial centres)"] = mini_batch_kmeans
    contenders["fastkmeans epoch (same initial centres, extra_center_factor=1)"] = (
        lambda: fastkmeans_epoch(x, c0, 5000))
    contenders["fastkmeans epoch, batches fed one call each from Python"] = (
        lambda: fastkmeans_epoch_python(x, c0, 5000))
    contenders["fastkmeans fit, extra_center_factor=1 (seeding + epoch + labels_)"] = (
        lambda: fastkmeans.KMeans(k=k, extra_center_factor=1, random_state=0).fit(x).cluster_centers_)
    contenders["fastkmeans fit, SageMaker defaults (factor auto = 10, one epoch)"] = (
        lambda: fastkmeans.KMeans(k=k, random_state=0).fit(x).cluster_centers_)
    runs = {who: (seconds, loss(x, centers)) for who, (seconds, centers) in best_interleaved(reps, contenders).items()}
    base_time, base_loss = next(iter(runs.values()))
    for who, (seconds, final) in runs.items():
        table.add(who, seconds, n / seconds / 1e6, f"{final / base_loss:.4f}", f"{base_time / seconds:.1f}×")
    results["minibatch"] = {who: {"seconds": s, "loss": lo} for who, (s, lo) in runs.items()}
    return table


def assign_table(shapes: List[Tuple[str, np.ndarray, int]], results: dict) -> Table:
    table = Table("predict / assign (nearest centre of every row)",
                  ["shape", "contender", "ms", "M rows/s", "fastkmeans speed-up"])
    for name, x, k in shapes:
        centers = x[np.random.default_rng(2).choice(x.shape[0], k, replace=False)].copy()
        runs: Dict[str, float] = {}
        runs["fastkmeans"] = best_of(3, _core.assign, x, centers)
        if faiss is not None:
            index = faiss.IndexFlatL2(x.shape[1])
            index.add(centers)
            runs["faiss IndexFlatL2.search(x, 1)"] = best_of(3, index.search, x, 1)
        for who, seconds in runs.items():
            table.add(name, who, seconds * 1e3, x.shape[0] / seconds / 1e6, f"{seconds / runs['fastkmeans']:.2f}×")
        results[f"assign {name}"] = runs
    return table


def tutorial_table(x: np.ndarray, results: dict) -> Table:
    hyper = {"k": 5, "feature_dim": 10, "mini_batch_size": 500, "epochs": 10, "init_method": "random",
             "extra_center_factor": 2}
    table = Table("Whole fit of the tutorial data (5,000 × 10, k = 5), best of 5", ["contender", "ms"])
    runs = {"fastkmeans (tutorial hyperparameters)": lambda: fastkmeans.KMeans(**hyper, random_state=0).fit(x)}
    if sk_cluster is not None:
        runs["sklearn KMeans (k-means++, n_init=1)"] = lambda: sk_cluster.KMeans(5, n_init=1, random_state=0).fit(x)
    for who, run in runs.items():
        run()
        best = best_of(5, run)
        table.add(who, best * 1e3)
        results[f"tutorial {who}"] = best
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller shapes (a smoke run, not the targets)")
    parser.add_argument("--iters", type=int, default=10, help="Lloyd iterations per contender")
    parser.add_argument("--only", nargs="*", help="anchors to run besides fastkmeans (substring match)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--skip", nargs="*", default=[], help="sections to skip: lloyd minibatch assign tutorial")
    args = parser.parse_args()

    scale = 10 if args.quick else 1
    peak = sgemm_gflops()
    machine = f"{platform.processor() or platform.machine()}, {THREADS} threads"
    print(f"{machine}; numpy sgemm {peak:.0f} GFLOP/s; fastkmeans {fastkmeans.__version__}", flush=True)
    results: dict = {"sgemm_gflops": peak, "threads": THREADS}
    tables: List[Table] = []

    x1 = blobs(1_000_000 // scale, 32, 100, 1)
    x3 = blobs(200_000 // scale, 128, 1000, 2)
    x2, mnist_name = fashion_mnist()
    if args.quick:
        x2 = x2[:7000]
    if "tutorial" not in args.skip:
        tables.append(tutorial_table(tutorial(), results))
    if "lloyd" not in args.skip:
        tables.append(lloyd_table("tutorial blobs", tutorial(), 5, args.iters, peak, args.only, results))
        tables.append(lloyd_table("blobs", x1, 100, args.iters, peak, args.only, results))
        tables.append(lloyd_table(mnist_name, x2, 10, args.iters, peak, args.only, results))
        tables.append(lloyd_table("blobs", x3, 1000 // scale, args.iters, peak, args.only, results))
    if "minibatch" not in args.skip:
        tables.append(minibatch_table(x1, 100, results))
    if "assign" not in args.skip:
        tables.append(assign_table([(f"{x1.shape[0]:,} × 32, k = 100", x1, 100),
                                    (f"{x3.shape[0]:,} × 128, k = {1000 // scale}", x3, 1000 // scale)], results))

    print(f"\n## Results ({machine}, numpy sgemm {peak:.0f} GFLOP/s)\n")
    for table in tables:
        print(table.markdown() + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
