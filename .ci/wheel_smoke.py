"""Smoke test of an installed wheel (`make wheel-test` runs it with no Rust on PATH).

Prints the wheel's import time; exits non-zero on any failure.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

if os.environ.get("FASTKMEANS_REQUIRE_NO_RUST") == "1":
    assert shutil.which("cargo") is None and shutil.which("rustc") is None, "Rust must not be on PATH"

start = time.perf_counter()
import fastkmeans  # noqa: E402

import_seconds = time.perf_counter() - start

import numpy as np  # noqa: E402

assert "site-packages" in fastkmeans.__file__, f"imported from the source tree: {fastkmeans.__file__}"
# The distribution is fastkmeans-sagemaker (PyPI's "fastkmeans" is another project); the import name is fastkmeans.
from importlib.metadata import PackageNotFoundError, version  # noqa: E402

installed = version("fastkmeans-sagemaker")
assert installed == fastkmeans.__version__, (installed, fastkmeans.__version__)
try:
    version("fastkmeans")
    raise AssertionError("a distribution named fastkmeans is installed: the wheel must be fastkmeans-sagemaker")
except PackageNotFoundError:
    pass
cli = subprocess.run([os.path.join(os.path.dirname(sys.executable), "fastkmeans"), "--version"], capture_output=True,
                     text=True, check=True).stdout
assert cli.startswith(f"fastkmeans {fastkmeans.__version__} (distribution fastkmeans-sagemaker"), cli
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(center, 0.1, size=(500, 3)) for center in (0.0, 5.0, 10.0)])
model = fastkmeans.KMeans(k=3, init_method="kmeans++", random_state=0).fit(X)
labels = model.predict(X)
assert sorted(np.bincount(labels).tolist()) == [500, 500, 500], np.bincount(labels)
closest, distance = model.assign(X[:2])
assert closest.shape == (2,) and bool(np.all(distance < 1.0))
restored = fastkmeans.KMeans.from_hyperparameters(model.get_hyperparameters() | {"feature_dim": "3"})
assert restored.k == 3
from fastkmeans.io import read_recordio, write_recordio  # noqa: E402

with tempfile.TemporaryDirectory() as folder:
    write_recordio(X.astype(np.float32), os.path.join(folder, "train.pbr"))
    assert np.array_equal(read_recordio(os.path.join(folder, "train.pbr")), X.astype(np.float32))
print(f"fastkmeans {fastkmeans.__version__} wheel OK: import {import_seconds * 1e3:.0f} ms, "
      f"fit/predict on {X.shape[0]} rows, RecordIO round trip, "
      f"{subprocess.check_output([sys.executable, '--version'], text=True).strip()}")
