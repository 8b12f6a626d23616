"""A dry run of the GPU-only Python (tests/test_cuda.py, benches/gpu_bench.py) where no GPU is.

The core's device argument is dropped, so every "GPU" call runs on the CPU: this checks the tests'
and the benchmark's own code (arguments, shapes, fixtures, the JSON) before the one short GPU
session runs them, not the GPU's answers. Used by scripts/gpu_dryrun/run.sh (`make cuda-dryrun`).
"""

import functools
from typing import Any, Callable

from fastkmeans import _core, _device


def _drop_device(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def on_the_cpu(*args: Any, device: Any = None, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    return on_the_cpu


for _name in ("assign", "assign_and_sum", "transform", "fit_lloyd", "fit_minibatch", "lloyd", "silhouette_samples",
              "dispersion"):
    if hasattr(_core, _name):
        setattr(_core, _name, _drop_device(getattr(_core, _name)))

FAKE = "Dry run (sm_90, cuda:0, float32; kernels: cubin sm_90 by NVRTC 0.0 (none))"
_core.cuda_describe = lambda ordinal=0, tf32=False: FAKE
_device.probe = lambda: (1, "")
_device.cuda_available = lambda: True
_core.cuda_compiled = lambda: True  # _device.resolve then answers (ordinal, tf32), as with a GPU
