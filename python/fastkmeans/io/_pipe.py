"""SageMaker's Pipe mode: a channel whose every pass is a new FIFO, ``<channel>_0``, ``<channel>_1``, ...

In Pipe mode SageMaker streams a channel's data through a named pipe instead of copying files:
the first pass over ``train`` reads ``/opt/ml/input/data/train_0``, the next ``train_1``, and so
on. ``PipeModeSource`` is a ``Source`` whose every read opens the next pipe, so training's passes
(the seeding sample, then one per epoch) each read their own FIFO, as SageMaker's algorithm does.
"""

from __future__ import annotations

import os
import time
from typing import Iterator

from fastkmeans.io._batch import Batch
from fastkmeans.io._source import Source

__all__ = ["PipeModeSource"]


class PipeModeSource(Source):
    """The passes over a Pipe-mode channel, one FIFO each.

    Parameters
    ----------
    folder : str
        Where the FIFOs appear (SageMaker's ``/opt/ml/input/data``).
    channel : str
        The channel's name (``train``, ``test``).
    content_type : str
        ``text/csv`` (with ``label_size``) or ``application/x-recordio-protobuf``: a pipe's format
        cannot be sniffed without consuming it.
    wait_s : float, default=60.0
        How long to wait for the next FIFO to appear.
    """

    def __init__(self, folder: str, channel: str, content_type: str, wait_s: float = 60.0) -> None:
        self.folder, self.channel, self.wait_s = folder, channel, wait_s
        self.passes = 0
        super().__init__(self._wait(self._path(0)), content_type=content_type)

    def _path(self, index: int) -> str:
        return os.path.join(self.folder, f"{self.channel}_{index}")

    def _wait(self, path: str) -> str:
        deadline = time.monotonic() + self.wait_s
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise FileNotFoundError(f"{path}: the Pipe-mode FIFO did not appear within {self.wait_s:g} s")
            time.sleep(0.01)
        return path

    def _raw_batches(self) -> Iterator[Batch]:
        path = self._wait(self._path(self.passes))
        self.passes += 1
        yield from self._read_file(path, self._format(path))

    def __repr__(self) -> str:
        """Return ``PipeModeSource(<folder>/<channel>_N)``."""
        return f"PipeModeSource({os.path.join(self.folder, self.channel)}_N)"
