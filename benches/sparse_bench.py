"""Sparse data (document vectors): fastkmeans sparse x dense against the same numbers dense, and
against scikit-learn on the same sparse matrix: `make bench-sparse`.

The data are TF-IDF-like rows (n documents, d terms, ~nnz_per_row terms each, drawn from one of
`topics` topics), float32, L2-normalised. Two measurements:

* Lloyd from the same initial centres, 10 iterations (tol = 0): ms per iteration for fastkmeans on
  the CSR matrix, fastkmeans on the densified matrix, scikit-learn KMeans (lloyd) on the CSR
  matrix; final loss relative to scikit-learn's.
* A whole fit with SageMaker's defaults (k = 20, mini_batch_size 5000, one epoch) on the CSR
  matrix, next to MiniBatchKMeans (batch 5000, one epoch) on it.

Usage: python benches/sparse_bench.py [--n N] [--d D] [--nnz NNZ_PER_ROW] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

THREADS = os.cpu_count() or 1
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from fastkmeans import KMeans, _core  # noqa: E402
from fastkmeans._validation import core_rows  # noqa: E402


def documents(n: int, d: int, nnz: int, topics: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, topics, n)
    # Half of each row's terms from its topic's vocabulary, half from the whole vocabulary.
    width = d // topics
    own = np.repeat(topic, nnz // 2) * width + rng.integers(0, width, n * (nnz // 2))
    common = rng.integers(0, d, n * (nnz - nnz // 2))
    rows = np.concatenate([np.repeat(np.arange(n), nnz // 2), np.repeat(np.arange(n), nnz - nnz // 2)])
    values = rng.exponential(1.0, rows.size).astype(np.float32)
    X = sp.csr_matrix((values, (rows, np.concatenate([own, common]))), shape=(n, d), dtype=np.float32)
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X, dtype=np.float32)


def loss(X, centers: np.ndarray) -> float:
    return float(_core.assign(core_rows(X), centers.astype(np.float32))[1].sum())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=5_000)
    parser.add_argument("--nnz", type=int, default=40)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.cluster import MiniBatchKMeans

    X = documents(args.n, args.d, args.nnz, args.k)
    dense = X.toarray()
    c0 = dense[np.random.default_rng(1).choice(args.n, args.k, replace=False)]
    print(f"{args.n} x {args.d} float32, {X.nnz / args.n:.0f} non-zeros per row ({X.nnz / args.n / args.d:.2%}), "
          f"k = {args.k}, {THREADS} threads; dense copy {dense.nbytes / 1e6:.0f} MB, CSR "
          f"{(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6:.0f} MB")

    def ours(data):
        return lambda: _core.fit_lloyd(core_rows(data), k=args.k, init_method="random", num_trials=1,
                                       max_iter=args.iters, tol=0.0, seed=0, init_centers=c0)["centers"]

    def sklearn():
        return SkKMeans(args.k, init=c0, n_init=1, max_iter=args.iters, tol=0.0, algorithm="lloyd").fit(X)

    rows = []
    t_sk, sk = timed(sklearn)
    sk_loss = loss(X, sk.cluster_centers_)
    for name, fn in (("fastkmeans, CSR", ours(X)), ("fastkmeans, same numbers dense", ours(dense))):
        ours(X)()  # warm up the pool
        t, centers = timed(fn)
        rows.append((name, t, loss(X, centers)))
    rows.append(("sklearn KMeans (lloyd), CSR", t_sk, sk_loss))
    print(f"\nLloyd, {args.iters} iterations from the same centres")
    print("| contender | ms / iteration | loss / sklearn | fastkmeans CSR speed-up |\n|---|---|---|---|")
    for name, t, value in rows:
        print(f"| {name} | {1e3 * t / args.iters:.1f} | {value / sk_loss:.5f} | {t / rows[0][1]:.2f}× |")

    t_fk, model = timed(lambda: KMeans(k=args.k, random_state=0).fit(X))
    t_mb, mbk = timed(lambda: MiniBatchKMeans(args.k, batch_size=5000, max_iter=1, n_init=1, random_state=0).fit(X))
    fit_rows = [("fastkmeans, SageMaker defaults, CSR", t_fk, model.inertia_),
                ("MiniBatchKMeans (batch 5000, one epoch), CSR", t_mb, loss(X, mbk.cluster_centers_))]
    print("\nWhole fit\n| contender | seconds | loss / MiniBatchKMeans | fastkmeans speed-up |\n|---|---|---|---|")
    for name, t, value in fit_rows:
        print(f"| {name} | {t:.2f} | {value / fit_rows[1][2]:.4f} | {t / t_fk:.2f}× |")
    if args.json:
        args.json.write_text(json.dumps({"lloyd": rows, "fit": fit_rows}, indent=1))


if __name__ == "__main__":
    main()
