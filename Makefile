# The verbs people type. `make test` and `make demo` work from a clean clone: they create the
# virtual environment, build the extension and install the test dependencies themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
DIST := dist
WHEEL_VENV := .wheel-venv

.PHONY: demo test test-rust test-python browser develop lint typecheck docs quality bench bench-io bench-sparse bench-models bench-dask bench-metrics bench-serve bench-seeding wheel wheel-test wheel-cuda wheel-cuda-test cuda-check cuda-dryrun clean mxnet-venv sdk-venv

$(DEPS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.5,<2" "pytest>=7" "hypothesis>=6" "scikit-learn>=1.6" scipy protobuf joblib pandas "pyarrow>=15" ruff ziglang \
		check-jsonschema zizmor "mypy>=1.10" "mkdocs>=1.6,<2" "mkdocstrings[python]>=1.0" "mkdocstrings-python>=2.0" \
		"pymdown-extensions>=10" "onnx>=1.14" "onnxruntime>=1.16" "dask[array,dataframe]>=2024.1" "distributed>=2024.1" \
		"fsspec>=2023.1" "matplotlib>=3.5" "tqdm>=4.60" "starlette>=0.37" "uvicorn[standard]>=0.29" "click>=8.1"
	touch $@

# Builds the extension (release, as users get it) into the virtual environment. The distribution was
# called fastkmeans before it became fastkmeans-sagemaker: an old build of it is removed first, since
# both install the package fastkmeans.
develop: $(DEPS)
	$(PY) -m pip uninstall --yes --quiet fastkmeans 2>/dev/null || true
	$(VENV)/bin/maturin develop --release --quiet

demo: develop
	$(PY) examples/demo.py

test: test-rust test-python

test-rust:
	cargo test --release -p fastkmeans-core -p fastkmeans-io
	@grep -qw avx512f /proc/cpuinfo 2>/dev/null || echo "SKIPPED: no AVX-512F on this CPU: the AVX-512 tile tests (kernels::avx2::wide::tests) returned without comparing anything"

test-python: develop browser
	$(PY) -m pytest

# Headless Chromium for the HTML report's browser test (tests/test_report.py): Debian's chromium,
# installed when it is missing and apt-get can install it; otherwise that test skips, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		  { apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
		    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }; } || \
		echo "chromium is not installed and apt-get cannot install it here: the HTML report's browser test will skip"

lint: $(DEPS) typecheck
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	cargo clippy -p fastkmeans-core -p fastkmeans-python --all-targets --release --features cuda -- -D warnings
	$(VENV)/bin/ruff check python tests benches examples .ci
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --config .github/zizmor.yml .github/workflows/

# mypy --strict on the package, and stubtest: the extension's _core.pyi against the built module.
typecheck: develop
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest fastkmeans._core

# The documentation site (API reference from the docstrings) into site/, without network.
docs: $(DEPS)
	$(VENV)/bin/mkdocs build --strict

# Loss and time against scikit-learn on the real data sets of ../shared/data (several minutes).
quality: develop
	$(PY) benches/quality.py

# The anchors of `make bench`, installed once into the virtual environment.
BENCH_DEPS := $(VENV)/.bench-deps-installed
$(BENCH_DEPS): $(DEPS)
	$(PY) -m pip install --quiet faiss-cpu scikit-learn-intelex
	touch $@

# fastkmeans against scikit-learn, scikit-learn-intelex and FAISS, side by side (several minutes).
# Uses Fashion-MNIST for the 784-dimensional shape when Debian's dataset-fashion-mnist is installed.
# Then whole default fits, seeding included, on the blobs and the real sets of ../shared/data.
bench: develop $(BENCH_DEPS)
	$(PY) benches/compare.py
	$(PY) benches/whole_fit.py
	cargo bench -p fastkmeans-core --bench kernels

# Whole default fits with their seeding (greedy k-means++, k-means||) against scikit-learn and
# scikit-learn-intelex, and SageMaker's recipe with each init_method (a few minutes).
bench-seeding: develop $(BENCH_DEPS)
	$(PY) benches/seeding_bench.py

# Sparse document vectors: CSR against the same numbers dense and against scikit-learn (a minute).
bench-sparse: develop
	$(PY) benches/sparse_bench.py

# Save / load times of a 1,000 x 1,000 model: fastkmeans' file, pickle, SageMaker's model.tar.gz (seconds).
bench-models: develop
	$(PY) benches/models_bench.py

# dask-ml, the anchor of `make bench-dask`, installed once (the bench runs without it, saying so).
DASK_BENCH_DEPS := $(VENV)/.dask-bench-deps-installed
$(DASK_BENCH_DEPS): $(DEPS)
	$(PY) -m pip install --quiet dask-ml
	touch $@

# fastkmeans on a Dask LocalCluster (1 and 2 worker processes) against dask-ml's KMeans (minutes).
bench-dask: develop $(DASK_BENCH_DEPS)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benches/dask_bench.py

# silhouette_score against scikit-learn's at 20,000 x 16 (ratio, same run), 100,000 rows exact, CH and DB (a minute).
bench-metrics: develop
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benches/metrics_bench.py

# The inference endpoint under wrk (installed from Debian when missing): requests/s, p50/p99, a 60 s soak.
bench-serve: develop
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	$(PY) -m pip install --quiet granian
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benches/serve_bench.py

# Streaming a >= 2 GB CSV (written once to /tmp) through training, next to pandas.read_csv (minutes).
bench-io: develop
	$(PY) benches/io_bench.py

# An abi3 manylinux2014 x86-64 wheel (release profile, fat LTO; zig links against glibc 2.17)
# and an sdist, in dist/.
wheel: $(DEPS)
	rm -rf $(DIST)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 --out $(DIST)
	$(VENV)/bin/maturin sdist --out $(DIST)
	ls -l $(DIST)

# The CUDA-enabled wheel (docs/gpu.md): the same abi3 wheel with the `cuda` feature, which loads
# the driver, cuBLAS and NVRTC at run time (no CUDA toolkit to build it). scripts/gpu_check.sh
# runs its tests and benches/gpu_bench.py on a GPU machine.
wheel-cuda: $(DEPS)
	rm -rf $(DIST)/cuda
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 \
		--features cuda --out $(DIST)/cuda
	ls -l $(DIST)/cuda

# The CUDA wheel as users get it, here without a GPU: a fresh environment, import, fall back.
wheel-cuda-test: wheel-cuda
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet $(DIST)/cuda/*.whl
	cd /tmp && "$(CURDIR)/$(WHEEL_VENV)/bin/python" "$(CURDIR)/.ci/cuda_wheel_smoke.py"

# The CUDA kernels compile with NVRTC for sm_80 and sm_90 (no GPU needed), and the cuda module's unit tests
# (cache keys, CUBIN or PTX, chunk sizes) pass: NVIDIA's NVRTC wheel
# is unpacked under target/ on first use.
NVRTC_DIR := target/nvrtc
cuda-check:
	test -d $(NVRTC_DIR)/nvidia || (mkdir -p $(NVRTC_DIR) && $(PYTHON) -m pip download --quiet --no-deps \
		--only-binary=:all: --platform manylinux2014_x86_64 -d $(NVRTC_DIR) nvidia-cuda-nvrtc-cu12 && \
		cd $(NVRTC_DIR) && $(PYTHON) -m zipfile -e nvidia_cuda_nvrtc_cu12-*.whl .)
	FASTKMEANS_REQUIRE_NVRTC=1 FASTKMEANS_CUDA_LIB_DIR=$(CURDIR)/$(NVRTC_DIR)/nvidia/cuda_nvrtc/lib \
		cargo test --release -p fastkmeans-core --features cuda --lib --test cuda_kernels

# The GPU-only Python (tests/test_cuda.py, benches/gpu_bench.py) run here with every GPU call sent
# to the CPU: their own code works before the one GPU session runs them (scripts/gpu_dryrun/).
cuda-dryrun: develop
	bash scripts/gpu_dryrun/run.sh

# The wheel as users get it: a fresh virtual environment, no Rust on PATH, import, fit, predict.
wheel-test: wheel
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet $(DIST)/*.whl
	cd /tmp && env PATH=/usr/bin:/bin FASTKMEANS_REQUIRE_NO_RUST=1 \
		"$(CURDIR)/$(WHEEL_VENV)/bin/python" "$(CURDIR)/.ci/wheel_smoke.py"

# Real MXNet 1.9.1, in its own environment, for the slow interoperability test
# (tests/test_mxnet_interop.py, `pytest -m slow`): its wheel needs numpy < 1.24, whose wheels stop at
# Python 3.11. The test builds it on first use and skips, saying why, where it cannot be installed.
MXNET_VENV := .mxnet-venv
MXNET_PYTHON ?= $(shell command -v python3.11 || command -v python3.10 || command -v python3.9 || echo python3)
mxnet-venv: $(MXNET_VENV)/.installed
$(MXNET_VENV)/.installed:
	$(MXNET_PYTHON) -m venv $(MXNET_VENV)
	$(MXNET_VENV)/bin/python -m pip install --quiet "mxnet==1.9.1" "numpy==1.23.5"
	touch $@

# The SageMaker Python SDK (sagemaker<3), in its own environment, for the slow test of the endpoint
# with the SDK's serializers and deserializers (tests/test_server_sdk.py, `pytest -m slow`).
SDK_VENV := .sdk-venv
sdk-venv: $(SDK_VENV)/.installed
$(SDK_VENV)/.installed:
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet "sagemaker<3"
	touch $@

clean:
	rm -rf $(VENV) $(WHEEL_VENV) $(MXNET_VENV) $(SDK_VENV) $(DIST) target
