"""The shuffle buffer: every row once per pass, random batches, independent of how the stream is cut."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastkmeans.io import Batch, ShuffleBuffer, default_buffer_rows


def stream(n_rows, cuts):
    """Rows 0..n_rows-1 (the row index in both columns), cut at the given positions."""
    rows = np.repeat(np.arange(n_rows, dtype=np.float64)[:, None], 2, axis=1)
    edges = [0, *sorted(set(c % (n_rows + 1) for c in cuts)), n_rows]
    return (Batch(rows[a:b], "s", a) for a, b in zip(edges[:-1], edges[1:]) if b > a)


def passes(n_rows, cuts, batch_rows, capacity, seed=0):
    buffer = ShuffleBuffer(stream(n_rows, cuts), batch_rows=batch_rows, capacity=capacity,
                           rng=np.random.default_rng(seed))
    return [batch[:, 0].astype(int) for batch in buffer], buffer


@given(n_rows=st.integers(1, 400), cuts=st.lists(st.integers(0, 400), max_size=8),
       batch_rows=st.integers(1, 50), capacity=st.integers(0, 200))
def test_every_row_comes_out_exactly_once_per_pass_in_full_batches_but_the_last(n_rows, cuts, batch_rows, capacity):
    batches, buffer = passes(n_rows, cuts, batch_rows, capacity)
    assert sorted(np.concatenate(batches).tolist()) == list(range(n_rows))
    assert all(len(batch) == batch_rows for batch in batches[:-1]) and 0 < len(batches[-1]) <= batch_rows
    assert buffer.rows_read == n_rows


@given(n_rows=st.integers(1, 400), cuts=st.lists(st.integers(0, 400), max_size=8),
       other_cuts=st.lists(st.integers(0, 400), max_size=8), batch_rows=st.integers(1, 50),
       capacity=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_the_batches_depend_on_the_rows_and_the_seed_not_on_how_the_stream_is_cut(
        n_rows, cuts, other_cuts, batch_rows, capacity, seed):
    first, _ = passes(n_rows, cuts, batch_rows, capacity, seed)
    second, _ = passes(n_rows, other_cuts, batch_rows, capacity, seed)
    assert [b.tolist() for b in first] == [b.tolist() for b in second]


def test_a_buffer_no_larger_than_a_batch_keeps_the_stream_order():
    batches, _ = passes(23, [5, 11], batch_rows=10, capacity=0)
    assert [b.tolist() for b in batches] == [list(range(10)), list(range(10, 20)), [20, 21, 22]]


def test_a_stream_shorter_than_the_buffer_is_shuffled_completely():
    batches, _ = passes(1000, [], batch_rows=100, capacity=5000)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(1000))
    # A full permutation moves rows far: their mean displacement is about n/3.
    assert np.abs(order - np.arange(1000)).mean() > 250


def test_the_shuffle_is_local_the_first_batch_comes_from_the_first_buffer_fill():
    batches, _ = passes(100_000, [], batch_rows=500, capacity=5000)
    assert batches[0].max() < 5000
    assert len(np.unique(batches[0])) == 500
    # Rows enter in order and wait about `capacity` rows: batch i draws from around row 500 i + 5000.
    assert abs(np.median(batches[100]) - (500 * 100 + 5000 - 5000 * np.log(2))) < 1500


def test_the_default_buffer_is_ten_batches_at_least_fifty_thousand_rows_at_most_128_mib():
    assert default_buffer_rows(5000, 50, 8) == 50_000
    assert default_buffer_rows(10_000, 10, 4) == 100_000
    assert default_buffer_rows(5000, 10_000, 8) == 10_000
    assert default_buffer_rows(100, 784, 4) * 784 * 4 <= 128 << 20
