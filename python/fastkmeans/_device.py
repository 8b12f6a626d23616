"""Where the O(n·k·d) work runs: ``KMeans(device=...)``.

``"cpu"`` (the default), ``"cuda"`` / ``"cuda:N"`` (an NVIDIA GPU; needs a wheel built with the
``cuda`` feature, see docs/gpu.md), ``"auto"`` (the first GPU when one is usable, else the CPU,
saying so in a log line). A ``+tf32`` suffix (``"cuda+tf32"``, ``"cuda:1+tf32"``, ``"auto+tf32"``)
lets cuBLAS use TF32 tensor cores for the distance tiles; near-ties are re-checked exactly, so each
label is the exactly nearest centre (float32 ranks by the CPU's own float32 scores).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

from fastkmeans import _core

__all__ = ["cuda_available", "current", "resolve", "using"]

_LOG = logging.getLogger("fastkmeans")
_SPEC = re.compile(r"^(cpu|auto|cuda)(?::(\d+))?(\+tf32)?$")

# The device of the calls into the core made inside ``using``: None for the CPU, else (ordinal, tf32).
_CURRENT: contextvars.ContextVar[Optional[Tuple[int, bool]]] = contextvars.ContextVar("fastkmeans_device",
                                                                                      default=None)


def cuda_lib_dirs() -> List[str]:
    """Return the ``nvidia/*/lib`` directories of NVIDIA's pip packages on ``sys.path``.

    nvidia-cublas-cu12, nvidia-cuda-nvrtc-cu12 and CUDA 13's ``nvidia/cu13/lib``: the loader looks
    there for cuBLAS and NVRTC after the system's paths.
    """
    dirs: List[str] = []
    for entry in sys.path:
        root = Path(entry or ".") / "nvidia"
        if root.is_dir():
            dirs.extend(str(lib) for lib in sorted(root.glob("*/lib")) if lib.is_dir())
    return dirs


def probe() -> Tuple[int, str]:
    """``(device_count, reason)``: the usable CUDA devices, and when there are none, why."""
    count, reason = _core.cuda_probe(cuda_lib_dirs())
    return count, reason


def cuda_available() -> bool:
    """Return whether ``device="cuda"`` can run here.

    True when the wheel has the ``cuda`` feature, the driver, cuBLAS and NVRTC load, and the
    driver sees at least one GPU.
    """
    return probe()[0] > 0


def resolve(device: Any) -> Optional[Tuple[int, bool]]:
    """Check ``device`` and return what the core takes: None for the CPU, else (ordinal, tf32).

    Raises ValueError for a value that is not a device, RuntimeError (saying which) when a GPU is
    asked for and the build has no ``cuda`` feature or no usable GPU is there.
    """
    if type(device) is str and device == "cpu":  # the default, on every fit and predict
        return None
    match = _SPEC.match(device) if isinstance(device, str) else None
    if match is None:
        raise ValueError(f'invalid device={device!r}: expected "cpu", "cuda", "cuda:N" or "auto" '
                         '(optionally with "+tf32")')
    kind, ordinal, tf32 = match.group(1), int(match.group(2) or 0), match.group(3) is not None
    if kind == "cpu":
        if match.group(2) is not None or tf32:
            raise ValueError(f'invalid device={device!r}: "cpu" takes no index or "+tf32"')
        return None
    if kind == "auto" and match.group(2) is not None:
        raise ValueError(f'invalid device={device!r}: "auto" takes no index')
    count, reason = probe()
    if kind == "auto":
        if count == 0:
            _LOG.info("device='auto': running on the CPU (no usable GPU: %s)", reason)
            return None
        try:  # a GPU that is there may still be unusable: too old, or its driver refuses the kernels
            name = _core.cuda_describe(0, tf32)
        except RuntimeError as error:
            _LOG.info("device='auto': running on the CPU (%s)", error)
            return None
        _LOG.info("device='auto': running on CUDA device 0 (%s)", name)
        return (0, tf32)
    if not _core.cuda_compiled():
        raise RuntimeError(f"device={device!r}: {reason}")
    if count == 0:
        raise RuntimeError(f"device={device!r}: no usable GPU: {reason}")
    if ordinal >= count:
        raise RuntimeError(f"device={device!r}: no usable GPU: CUDA device {ordinal} does not exist "
                           f"({count} device{'s' if count != 1 else ''})")
    # Opens the device (compiling or loading its kernels): the log line says which GPU and which
    # kernels (a CUBIN for its architecture, or PTX), and a device that cannot be used fails here.
    _LOG.info("device=%r: running on CUDA device %d (%s)", device, ordinal, _core.cuda_describe(ordinal, tf32))
    return (ordinal, tf32)


def current() -> Optional[Tuple[int, bool]]:
    """Return the device of the enclosing ``using`` block (None, the CPU, outside one)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(device: Optional[Tuple[int, bool]]) -> Iterator[None]:
    """Run the core calls of the block on ``device`` (a value of ``resolve``)."""
    token = _CURRENT.set(device)
    try:
        yield
    finally:
        _CURRENT.reset(token)
