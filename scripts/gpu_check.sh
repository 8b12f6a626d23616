#!/usr/bin/env bash
# The one device check of the CUDA backend (docs/gpu.md), run in the repository root of a GPU
# machine that has Python, numpy, pytest, hypothesis and torch but no Rust and no network:
#   here:   make wheel-cuda            (builds dist/cuda/fastkmeans-*.whl, abi3, x86-64, --features cuda)
#   there:  bash scripts/gpu_check.sh  (with dist/cuda carried; results under $OUT)
# Installs the wheel into /tmp/site, then runs the cuda tests and benches/gpu_bench.py.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
"$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site dist/cuda/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
# The driver, NVRTC and cuBLAS versions: PTX from an NVRTC newer than the driver is refused.
(nvidia-smi; ldconfig -p | grep -E "libcuda.so|libnvrtc|libcublas"; "$PY" -c "import torch; print('torch', torch.__version__)") >"$OUT/env.txt" 2>&1
"$PY" - <<'PY' 2>&1 | tee "$OUT/probe.txt"
from fastkmeans import _core, _device
print("compiled:", _core.cuda_compiled(), "probe:", _device.probe())
print("device:", _core.cuda_describe(0))
PY
REPO=$(pwd)
# The tests run from a copy, so that `fastkmeans` is the installed wheel, not python/ here.
rm -rf /tmp/fk_tests && cp -r "$REPO/tests" /tmp/fk_tests && cd /tmp/fk_tests
timeout 240 "$PY" -m pytest -p no:cacheprovider -o addopts="" -m "cuda or not cuda" -q -rs \
    test_cuda.py test_device.py 2>&1 | tee "$OUT/pytest.txt"
cd "$REPO"
SMALL=${GPU_BENCH_SMALL:+--small}
timeout 300 "$PY" benches/gpu_bench.py $SMALL --out "$OUT/bench.json" 2>&1 | tee "$OUT/bench.txt"
