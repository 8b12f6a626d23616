#!/usr/bin/env bash
# The one device check of the CUDA backend (docs/gpu.md), run in the repository root of a GPU
# machine that has Python, numpy, pytest, hypothesis and torch but no Rust and no network:
#   here:   make wheel-cuda            (builds dist/cuda/fastkmeans-*.whl, abi3, x86-64, --features cuda)
#   there:  bash scripts/gpu_check.sh  (with dist/cuda carried; results under $OUT)
# It never stops at a failure: every step runs under its own time limit, and what each step did
# and how long it took is written down, so that one run tells a later session what to fix.
# Files under $OUT (at most 8 come back from the device tool):
#   summary.txt  each step's exit status and seconds, the pytest tally
#   env.txt      nvidia-smi, the driver, the CUDA libraries the loader can see, pip packages
#   probe.txt    the wheel's probe; the device as opened: CUBIN or PTX, NVRTC, cache file,
#                driver and libraries; a smoke assignment (fused, and through cuBLAS), transform,
#                k-means++ seeding, silhouette and dispersion against the CPU; the PTX path forced
#   pytest.txt   the cuda and device tests, every outcome (-rA) and the slowest durations
#   pytest.xml   the same as JUnit XML
#   bench.txt    benches/gpu_bench.py's output (bench.json: its numbers, rewritten per shape)
# Time: ~1 minute for the tests, 1-3 for the benchmark (GPU_BENCH_SMALL=1: smaller shapes);
# the limits below stop any step that hangs (a Python stack is dumped after 100 s of one test).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
REPO=$(pwd)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
export PYTHONUNBUFFERED=1 FASTKMEANS_CACHE_DIR=/tmp/fk_kernel_cache
rm -rf "$FASTKMEANS_CACHE_DIR"

# step NAME LIMIT_SECONDS COMMAND...: runs it, appends its status and time to summary.txt.
step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local status=$?
    echo "$name: exit $status in $((SECONDS - start)) s (limit $limit s)" | tee -a "$SUMMARY"
    return 0
}

echo "gpu_check.sh at $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >>"$SUMMARY"
ls -l dist/cuda >>"$SUMMARY" 2>&1
rm -rf /tmp/fk_site
step install 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/fk_site dist/cuda/*.whl
export PYTHONPATH=/tmp/fk_site${PYTHONPATH:+:$PYTHONPATH}

{
    nvidia-smi
    nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm --format=csv
    cat /proc/driver/nvidia/version
    echo "--- ldconfig"
    ldconfig -p | grep -E "libcuda.so|libnvrtc|libcublas"
    echo "--- /usr/local/cuda"
    ls -l /usr/local/cuda/lib64/ 2>&1 | grep -E "nvrtc|cublas" | head
    echo "--- pip"
    "$PY" -m pip list 2>/dev/null | grep -iE "^(nvidia|torch|numpy|faiss|cupy|pytest|hypothesis)"
    "$PY" -c "import sys; print(sys.version)"
    "$PY" -c "from fastkmeans import _device; print('nvidia lib dirs on sys.path:', _device.cuda_lib_dirs())"
} >"$OUT/env.txt" 2>&1

cat >/tmp/fk_probe.py <<'PY'
import logging, time
import numpy as np
from fastkmeans import _core, _device
logging.basicConfig(level=logging.INFO)
print("compiled:", _core.cuda_compiled(), "probe:", _device.probe())
start = time.perf_counter()
print("device:", _core.cuda_describe(0))
print(f"opened in {time.perf_counter() - start:.2f} s (NVRTC compile or cache read included)")
rng = np.random.default_rng(0)
x = rng.standard_normal((100_000, 32), dtype=np.float32)
c = x[:64].copy()
start = time.perf_counter()
got = _core.assign_and_sum(x, c, device=(0, False))
print(f"smoke assign_and_sum 100000 x 32, k = 64: {time.perf_counter() - start:.3f} s")
cpu = _core.assign_and_sum(x, c)
print("labels equal:", bool((got["labels"] == cpu["labels"]).all()),
      "dist2 equal:", bool((got["dist2"] == cpu["dist2"]).all()),
      "max |deltas| diff:", float(np.abs(got["deltas"] - cpu["deltas"]).max()))
import os
os.environ["FASTKMEANS_CUDA_ASSIGN"] = "gemm"  # the cuBLAS path in float32 (the fused kernel's alternative)
gemm = _core.assign(x, c, device=(0, False))
os.environ["FASTKMEANS_CUDA_ASSIGN"] = "fused"
print("gemm path labels equal:", bool((gemm[0] == cpu["labels"]).all()), "(near-ties may differ)")
t = _core.transform(x[:1000], c, device=(0, False))
print("transform max |gpu - cpu|:", float(np.abs(t - _core.transform(x[:1000], c)).max()))
# k-means++ on the device (20,000 x 32: past SEED_MIN_VALUES): the CPU's seeds, so one Lloyd
# iteration from them gives the CPU's labels.
kw = dict(k=50, init_method="kmeans++", num_trials=1, max_iter=1, tol=1e-4, seed=3)
start = time.perf_counter()
seeded = _core.fit_lloyd(x[:20_000], **kw, device=(0, False))
print(f"smoke greedy k-means++ 20000 x 32, k = 50, one Lloyd pass: {time.perf_counter() - start:.3f} s")
print("seeded labels equal:", bool((seeded["labels"] == _core.fit_lloyd(x[:20_000], **kw)["labels"]).all()))
codes = np.ascontiguousarray(cpu["labels"][:3000] % 7, dtype=np.int32)
s_gpu = _core.silhouette_samples(x[:3000], codes, 7, device=(0, False))
print("silhouette max |gpu - cpu|:", float(np.abs(s_gpu - _core.silhouette_samples(x[:3000], codes, 7)).max()))
codes = cpu["labels"].astype(np.int32)
d_gpu, d_cpu = _core.dispersion(x, codes, 64, device=(0, False)), _core.dispersion(x, codes, 64)
print("dispersion: calinski_harabasz", d_gpu["calinski_harabasz"], "cpu", d_cpu["calinski_harabasz"],
      "davies_bouldin", d_gpu["davies_bouldin"], "cpu", d_cpu["davies_bouldin"])
PY
cat >/tmp/fk_ptx.py <<'PY'
# The PTX fallback (what runs when NVRTC does not know the GPU or the driver refuses the CUBIN).
import numpy as np
from fastkmeans import _core
print("forced ptx:", _core.cuda_describe(0))
x = np.random.default_rng(1).standard_normal((50_000, 16), dtype=np.float32)
c = x[:40].copy()
got, cpu = _core.assign(x, c, device=(0, False)), _core.assign(x, c)
print("ptx labels equal:", bool((got[0] == cpu[0]).all()), "dist2 equal:", bool((got[1] == cpu[1]).all()))
PY
{
    step probe 120 "$PY" /tmp/fk_probe.py
    # A second process: the kernels now come from the disk cache.
    step probe_cached 60 "$PY" -c "from fastkmeans import _core; print('again:', _core.cuda_describe(0))"
    ls -l "$FASTKMEANS_CACHE_DIR"
    FASTKMEANS_CUDA_KERNELS=ptx step probe_ptx 120 "$PY" /tmp/fk_ptx.py
} >"$OUT/probe.txt" 2>&1

# The tests run from a copy, so that `fastkmeans` is the installed wheel, not python/ here.
rm -rf /tmp/fk_tests && cp -r "$REPO/tests" /tmp/fk_tests
# pytest-timeout, where installed, fails a test that runs past 90 s and goes on to the next.
PER_TEST=$("$PY" -c "import pytest_timeout" 2>/dev/null && echo "--timeout=90")
(
    cd /tmp/fk_tests || exit 1
    step pytest 200 "$PY" -m pytest -p no:cacheprovider -o addopts="" -o faulthandler_timeout=100 \
        -W ignore::pytest.PytestUnknownMarkWarning $PER_TEST -m "cuda or not cuda" -q -rA --durations=15 --junitxml="$OUT/pytest.xml" test_cuda.py test_device.py
) >"$OUT/pytest.txt" 2>&1
grep -E " in [0-9.]+s( \(|$)" "$OUT/pytest.txt" | tail -n 1 | sed 's/^/pytest tally: /' >>"$SUMMARY"
grep -E "^(FAILED|ERROR) " "$OUT/pytest.txt" >>"$SUMMARY"

SMALL=${GPU_BENCH_SMALL:+--small}
step bench 240 "$PY" benches/gpu_bench.py $SMALL --out "$OUT/bench.json" >"$OUT/bench.txt" 2>&1
cat "$SUMMARY"
