"""Coalescing of concurrent requests into one call of the Rust core.

Each request's rows go into a queue; one task takes them out, as many as have arrived (up to
``max_batch_rows``), optionally waiting up to ``max_wait_s`` for more, and assigns them all in one
core call. While the core works on a batch, the requests that arrive meanwhile queue up and make
the next batch, so per-request overhead is paid once per batch and throughput rises with load.
Small batches run on the event loop itself (a hop to a thread costs more than the work); larger
ones on a worker thread, so the event loop keeps reading requests while the core computes.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["Batcher", "BatchSettings"]

# (closest_cluster int32, distance_to_cluster float64), one entry per row.
Result = Tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class BatchSettings:
    """The batcher's knobs.

    Parameters
    ----------
    max_batch_rows : int, default=65536
        Most rows in one core call; a single larger request is assigned alone.
    max_wait_s : float, default=0.0
        How long the first request of a batch may wait for others to join it. 0 coalesces only
        the requests that arrived while the core was busy: no request ever waits for company.
    inline_rows : int, default=2048
        Batches of at most this many rows run on the event loop; larger ones on a thread.
    """

    max_batch_rows: int = 65536
    max_wait_s: float = 0.0
    inline_rows: int = 2048


@dataclass
class _Job:
    rows: Any
    future: "asyncio.Future[Result]"


class Batcher:
    """Assigns the rows of concurrent requests in shared core calls.

    Parameters
    ----------
    assign : callable
        ``assign(rows) -> (closest_cluster, distance_to_cluster)`` for a dense array or CSR matrix.
    settings : BatchSettings
        The knobs.
    """

    def __init__(self, assign: Callable[[Any], Result], settings: BatchSettings) -> None:
        self._assign = assign
        self._settings = settings
        self._queue: Optional[asyncio.Queue[_Job]] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastkmeans-assign")
        self.batches = 0
        self.rows = 0

    async def assign(self, rows: Any) -> Result:
        """Return the assignment of ``rows``, computed in a batch with whatever else is waiting."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(rows, future))
        return await future

    async def close(self) -> None:
        """Stop the batching task (requests still queued are answered first) and the thread."""
        if self._task is not None and self._queue is not None:
            while not self._queue.empty():
                await asyncio.sleep(0.001)
            self._task.cancel()
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        assert self._queue is not None
        queue, settings = self._queue, self._settings
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await queue.get()]
            n_rows = jobs[0].rows.shape[0]
            deadline = loop.time() + settings.max_wait_s
            while n_rows < settings.max_batch_rows:
                if queue.empty():
                    await asyncio.sleep(0)  # let the requests already read by the loop join
                if queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        jobs.append(await asyncio.wait_for(queue.get(), remaining))
                    except asyncio.TimeoutError:
                        break
                else:
                    job = queue.get_nowait()
                    if n_rows + job.rows.shape[0] > settings.max_batch_rows:
                        await self._finish([job], loop)  # too big to join: it goes alone, after this batch
                        continue
                    jobs.append(job)
                n_rows += jobs[-1].rows.shape[0]
            await self._finish(jobs, loop)

    async def _finish(self, jobs: List[_Job], loop: asyncio.AbstractEventLoop) -> None:
        jobs = [job for job in jobs if not job.future.done()]  # a cancelled request needs no answer
        if not jobs:
            return
        for group in _groups(jobs):
            rows = _stack([job.rows for job in group])
            try:
                if rows.shape[0] <= self._settings.inline_rows:
                    closest, distance = self._assign(rows)
                else:
                    closest, distance = await loop.run_in_executor(self._executor, self._assign, rows)
            except Exception as error:  # a bug, not a bad request: every waiting request learns of it
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            self.batches += 1
            self.rows += rows.shape[0]
            start = 0
            for job in group:
                end = start + job.rows.shape[0]
                if not job.future.done():
                    job.future.set_result((closest[start:end], distance[start:end]))
                start = end


def _groups(jobs: List[_Job]) -> List[List[_Job]]:
    """Split jobs into runs that stack: dense rows with dense rows of the same dtype, sparse with sparse."""
    if len(jobs) == 1:
        return [jobs]
    groups: Dict[Tuple[bool, np.dtype], List[_Job]] = {}
    for job in jobs:
        groups.setdefault((isinstance(job.rows, np.ndarray), job.rows.dtype), []).append(job)
    return list(groups.values())


def _stack(parts: List[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return sys.modules["scipy.sparse"].vstack(parts, format="csr")
