"""Model files: save and load times of a k = 1,000 x 1,000-feature model, next to pickle (`make bench-models`).

The model is a float32 streaming model with its state (K = 2,000 streaming centres, so the file
holds 3,000 x 1,000 floats and the counts, about 12 MB), built in a second or two. Printed: the
file sizes and the best-of-N times of ``save`` / ``fastkmeans.load`` (raw arrays behind a JSON
header, SHA-256 checked), pickle (no checksum, executes code), and SageMaker's model.tar.gz
(``save_model`` / ``load_model``: gzip, the k final centres only).

Usage: python benches/models_bench.py [--k K] [--d D] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time

import numpy as np

import fastkmeans
from fastkmeans.sagemaker import load_model, save_model


def best(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--d", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    X = np.random.default_rng(0).standard_normal((2 * args.k, args.d), dtype=np.float32)
    model = fastkmeans.KMeans(k=args.k, mini_batch_size=2 * args.k, extra_center_factor=2, local_lloyd_num_trials=1,
                              local_lloyd_max_iter=2, local_lloyd_init_method="random", random_state=0).fit(X)
    with tempfile.TemporaryDirectory() as folder:
        native, pickled, tar = (os.path.join(folder, name) for name in ("model.fkm", "model.pkl", "model.tar.gz"))
        rows = [
            ("fastkmeans save", best(lambda: model.save(native), args.repeat), native),
            ("fastkmeans load", best(lambda: fastkmeans.load(native), args.repeat), native),
            ("pickle dump", best(lambda: open(pickled, "wb").write(pickle.dumps(model)), args.repeat), pickled),
            ("pickle load", best(lambda: pickle.loads(open(pickled, "rb").read()), args.repeat), pickled),
            ("sagemaker save_model", best(lambda: save_model(model, tar), max(1, args.repeat // 4)), tar),
            ("sagemaker load_model", best(lambda: load_model(tar), args.repeat), tar),
        ]
        print(f"k = {args.k}, d = {args.d}, float32, streaming state of {model._state['centers'].shape[0]} centres")
        for name, ms, path in rows:
            print(f"{name:22s} {ms:8.2f} ms   {os.path.getsize(path) / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
