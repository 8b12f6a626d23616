"""The request batcher: concurrent requests share core calls, each gets its own rows' answer back."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import scipy.sparse

from fastkmeans.server._batcher import Batcher, BatchSettings


class SlowAssign:
    """An assignment that takes 20 ms a call and records the size of every batch it got."""

    def __init__(self) -> None:
        self.batches = []
        self.threads = set()

    def __call__(self, rows):
        self.batches.append(rows.shape[0])
        self.threads.add(threading.current_thread().name)
        time.sleep(0.02)
        dense = rows.toarray() if scipy.sparse.issparse(rows) else rows
        return dense[:, 0].astype(np.int32), dense[:, 1].astype(np.float64)


def run(batcher, requests, stagger=0.0):
    async def main():
        async def one(i, rows):
            await asyncio.sleep(stagger * i)
            return await batcher.assign(rows)

        answers = await asyncio.gather(*(one(i, rows) for i, rows in enumerate(requests)))
        await batcher.close()
        return answers

    return asyncio.run(main())


def request(i, n=1):
    return np.column_stack([np.full(n, i), np.arange(n) + 1000 * i]).astype(np.float64)


def test_requests_arriving_while_the_core_is_busy_are_assigned_together():
    assign = SlowAssign()
    requests = [request(i) for i in range(50)]
    answers = run(Batcher(assign, BatchSettings(inline_rows=0)), requests)
    for i, (closest, distance) in enumerate(answers):
        assert closest.tolist() == [i] and distance.tolist() == [1000 * i]
    assert sum(assign.batches) == 50
    assert len(assign.batches) <= 3  # one alone, then everything that queued meanwhile
    assert assign.threads == {"fastkmeans-assign_0"}


def test_batches_are_bounded_in_rows_and_a_larger_request_goes_alone():
    assign = SlowAssign()
    requests = [request(i, 10) for i in range(20)] + [request(20, 250)]
    answers = run(Batcher(assign, BatchSettings(max_batch_rows=50, inline_rows=0)), requests)
    assert max(assign.batches) == 250
    assert all(size <= 50 for size in assign.batches if size != 250)
    assert answers[20][1].tolist() == (np.arange(250) + 20000).tolist()


def test_a_wait_lets_requests_that_come_a_little_later_join():
    assign = SlowAssign()
    requests = [request(i) for i in range(10)]
    run(Batcher(assign, BatchSettings(max_wait_s=0.2, inline_rows=1000)), requests, stagger=0.005)
    assert assign.batches == [10]
    assert assign.threads == {threading.current_thread().name}  # small batches run on the event loop


def test_dense_float32_float64_and_sparse_requests_are_batched_apart_and_answered_right():
    assign = SlowAssign()
    requests = [request(0), request(1).astype(np.float32), scipy.sparse.csr_matrix(request(2)), request(3),
                scipy.sparse.csr_matrix(request(4, 3))]
    answers = run(Batcher(assign, BatchSettings(max_wait_s=0.1)), requests)
    assert [a[0].tolist() for a in answers] == [[0], [1], [2], [3], [4, 4, 4]]
    assert sorted(assign.batches) == [1, 2, 4]


def test_a_failing_core_call_fails_its_requests_and_the_batcher_goes_on():
    calls = []

    def assign(rows):
        calls.append(rows.shape[0])
        if len(calls) == 1:
            raise RuntimeError("core failure")
        return np.zeros(rows.shape[0], np.int32), np.zeros(rows.shape[0])

    async def main():
        batcher = Batcher(assign, BatchSettings())
        with pytest.raises(RuntimeError, match="core failure"):
            await batcher.assign(request(0))
        closest, _ = await batcher.assign(request(1))
        await batcher.close()
        return closest

    assert asyncio.run(main()).tolist() == [0]
