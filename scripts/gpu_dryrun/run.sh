#!/usr/bin/env bash
# `make cuda-dryrun`: tests/test_cuda.py and benches/gpu_bench.py run here with every GPU call
# sent to the CPU (conftest.py beside this file), so that the Python a GPU session runs is known
# to work before that session. The subprocess test (the PTX path) is deselected: its child
# process would not be patched.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/conftest.py" "$REPO/tests/test_cuda.py" "$WORK/"
cd "$WORK"
"$PY" -m pytest -p no:cacheprovider -o addopts="" -q -W ignore::pytest.PytestUnknownMarkWarning \
    -k "not ptx_fallback" test_cuda.py
"$PY" - "$REPO/benches" <<'PY'
import json
import sys

sys.path[:0] = [".", sys.argv[1]]
import conftest  # noqa: E402,F401 - the patches
import gpu_bench  # noqa: E402

gpu_bench.SMALL = [(20_000, 8, 10)]
sys.argv = ["gpu_bench", "--small", "--out", "bench.json"]
gpu_bench.main()
row = json.load(open("bench.json"))[0]
missing = [key for key in ("fastkmeans_lloyd_s", "fastkmeans_epoch_s", "fastkmeans_tf32_lloyd_s", "fastkmeans_gemm_lloyd_s",
                           "fastkmeans_streamed_lloyd_s", "fastkmeans_transform_200k_s", "fastkmeans_seeded_fit1_s",
                           "cpu_seeded_fit1_s", "fastkmeans_silhouette_20k_s", "cpu_silhouette_20k_s",
                           "fastkmeans_dispersion_1m_s", "cpu_dispersion_1m_s")
           if key not in row]
assert not missing, f"the benchmark did not time {missing}: {row}"
print("gpu_bench.py dry run: every fastkmeans timing present")
PY
