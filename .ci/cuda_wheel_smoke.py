"""The CUDA-enabled wheel on a machine without a GPU: it imports, says why no GPU is usable,
fits with device="auto" on the CPU (saying so in a log line), and device="cuda" raises the
"no usable GPU" error. Run by `make wheel-cuda-test` and the release workflow's cuda-wheel job.
"""

import logging

import numpy as np

import fastkmeans
from fastkmeans import _core, _device

assert _core.cuda_compiled() and "cuda" in _core.BACKENDS, _core.BACKENDS
count, reason = _device.probe()
print(f"devices: {count}; reason: {reason}")
x = np.random.default_rng(0).random((500, 4), dtype=np.float32)
records = []
handler = logging.Handler()
handler.emit = records.append  # type: ignore[method-assign]
logging.getLogger("fastkmeans").addHandler(handler)
logging.getLogger("fastkmeans").setLevel(logging.INFO)
fastkmeans.KMeans(k=3, device="auto", random_state=0).fit(x)
if count == 0:
    assert any("running on the CPU" in r.getMessage() for r in records), records
    try:
        fastkmeans.KMeans(k=3, device="cuda").fit(x)
    except RuntimeError as e:
        assert "no usable GPU" in str(e), e
    else:
        raise AssertionError("device='cuda' ran without a GPU")
print("CUDA wheel smoke test passed")
