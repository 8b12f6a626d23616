"""k-means|| on Dask: scalable k-means++ (Bahmani et al. 2012) over the partitions, reduced on the client.

The in-memory algorithm (``rust/core/src/algo/kmeans_parallel.rs``, ``docs/seeding.md``) run over
persisted partitions:

1. One task per partition counts its rows, which numbers every row globally. The first candidate
   is the row whose global number is drawn uniformly from the seed.
2. Each partition keeps, for each of its rows, the squared distance ``d2`` to its closest
   candidate and that candidate's number (12 bytes a row, persisted on its worker). Each round one
   task per partition measures its rows against the new candidates (``_core.assign``, one pass),
   keeps the closer, and returns its potential ψ_p = Σ d2 and its rows per candidate.
3. A task adds the ψ_p into ψ; then one task per partition takes each of its rows with
   probability min(1, ℓ · d2 / ψ), ℓ = ``oversampling`` · k, and returns the rows taken: the next
   candidates. Steps 2 and 3 are one graph, so a round is one round trip from the client.
   ``rounds`` rounds (5, ℓ = 2k: the core's defaults), fewer if a round takes nothing.
4. The client adds up the rows per candidate (the candidates' weights) and reduces the weighted
   candidates to k by weighted greedy k-means++ and weighted Lloyd (``_core.reduce_candidates``,
   the core's own reduction: weighted, unlike dask-ml's), the best of ``trials`` reductions by
   their weighted loss over the candidates.

Each round moves the new candidates to every partition and ℓ rows (in expectation) back, plus one
number and one count per candidate from each partition: O(partitions × k × d) bytes, never the
rows. There are ``rounds`` + 1 distance passes over the data (against the k passes k-means++
would need) and ``rounds`` + 3 round trips (the counts and the first row come first).

The seeds do not depend on the partitioning, the number of workers or the scheduling, only on the
data, its row order, ``k`` and the seed: row ``i``'s uniform draw in round ``r`` is the ``i``-th
number of a counter-based Philox stream keyed by the seed and ``r`` (NumPy's ``Philox``, whose
counter can be set so that a partition starts at its first row's number), and ψ is the exact sum
of every ``d2``, correctly rounded once (``exact_sum``), so no partial sum depends on where the
partitions begin. ``d2`` itself is the core's exact distance of one row to one candidate, and the
rows per candidate are counts. The rows taken in a round are ordered by global number, as the
in-memory algorithm orders them.

Where the rounds leave fewer than k candidates (few distinct rows), more rounds follow, each with
twice the ℓ of the one before, until there are k or every row lies on a candidate; then rows drawn
uniformly among those that are not candidates fill up to k (the in-memory algorithm draws one row
at a time instead, by D² then uniformly: the idea is the same, the draws are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fastkmeans import _core
from fastkmeans._validation import core_rows, take_rows
from fastkmeans.dask._partitions import aligned, aligned_rows, seed_for, sizeof

__all__ = ["DEFAULT_OVERSAMPLING", "DEFAULT_ROUNDS", "Seeding", "exact_sum", "seed", "uniforms"]

DEFAULT_OVERSAMPLING = 2
"""ℓ / k, as the core's ``kmeans_parallel::DEFAULT_OVERSAMPLING``."""
DEFAULT_ROUNDS = 5
"""Oversampling rounds, as the core's ``kmeans_parallel::DEFAULT_ROUNDS``."""

# Purposes of the random streams (seed_for's first key after the seed); _lloyd.py's sample uses 21.
_FIRST, _ROUND, _FILL, _REDUCE = 31, 32, 33, 34
# exact_sum's unit: 2**-1074 (the smallest subnormal) times 2**-53, so that every float64 is a whole number of units.
_UNIT_BITS = 1074 + 53
# Rows per bincount in exact_sum: sums of 26-bit halves over this many rows stay below 2**53, exact in float64.
_EXACT_BLOCK = 1 << 26


@dataclass
class Seeding:
    """The k starting centres and what k-means|| did to find them."""

    centers: np.ndarray
    n_candidates: int
    rounds: int
    """Oversampling rounds run (the first candidate's pass not counted)."""
    bytes_moved: int
    """Bytes of candidates, potentials and counts that moved between the client and the partitions."""


def seed(rows: Sequence[Any], k: int, seed: int, *, trials: int = 1, oversampling: int = DEFAULT_OVERSAMPLING,
         rounds: int = DEFAULT_ROUNDS, n_threads: Optional[int] = None) -> Seeding:
    """Seed ``k`` centres by k-means|| over persisted partitions.

    Parameters
    ----------
    rows : sequence of dask.delayed
        One per partition: its checked rows (ndarray or CSR, as ``partition_rows`` returns them),
        or None for an empty partition. Persisted, since every round reads them.
    k : int
        Centres wanted, >= 1.
    seed : int
        The fit's seed.
    trials : int, default=1
        Reductions of the candidates on the client (each from its own stream); the one with the
        smallest weighted loss over the candidates is kept.
    oversampling, rounds : int
        ℓ / k and the number of oversampling rounds, both >= 1.
    n_threads : int or None, default=None
        Threads for the core, on the workers and on the client.

    Returns
    -------
    Seeding
        ``centers`` of shape (k, n_features), in the rows' dtype.

    Raises
    ------
    ValueError
        When the partitions hold fewer than k rows, or for ``k``, ``trials``, ``oversampling`` or
        ``rounds`` below 1 (naming it).
    """
    import dask

    for name, value in (("k", k), ("trials", trials), ("oversampling", oversampling), ("rounds", rounds)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    counts = [int(c) for c in dask.compute(*[dask.delayed(_count, pure=True)(r) for r in rows])]
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    n = int(offsets[-1])
    if n < k:
        raise ValueError(f"n_samples={n} should be >= k={k}.")
    parts = list(rows)
    numbers = np.array([_generator(seed_for(seed, _FIRST)).integers(n)], dtype=np.int64)
    new = _fetch(parts, offsets, numbers)
    closest: List[Any] = [None] * len(parts)
    chosen: List[Tuple[np.ndarray, np.ndarray]] = []
    n_candidates, rounds_run, ell, moved = 0, 0, float(oversampling * k), 0
    while True:
        # One round trip: the distance pass against the new candidates, ψ, and (while rounds are
        # left, or candidates lacking) the next round's draws, which wait for ψ on the workers.
        chosen.append((numbers, new))
        draw = rounds_run < rounds or n_candidates + new.shape[0] < k
        if draw and rounds_run >= rounds:  # too few candidates: more rounds, each taking more rows
            ell *= 2.0
        key = seed_for(seed, _ROUND, rounds_run)
        closest, psi, weights, taken, received = _step(parts, closest, new, n_candidates, offsets,
                                                       (ell, key) if draw else None, n_threads)
        n_candidates += new.shape[0]
        moved += received
        if not draw:
            break
        rounds_run += 1
        numbers, new = taken
        while new.shape[0] == 0 and psi > 0.0 and n_candidates < k:  # nothing drawn, yet too few: draw again
            ell *= 2.0
            numbers, new, received = _oversample(parts, closest, offsets, psi, ell, seed_for(seed, _ROUND, rounds_run))
            rounds_run += 1
            moved += received
        if new.shape[0] == 0:  # nothing drawn: ψ = 0 (every row on a candidate), or the in-memory early stop
            break
    if n_candidates < k:  # every row lies on a candidate: other rows, any of them, fill up to k
        numbers = _fill(n, np.concatenate([c[0] for c in chosen]), k - n_candidates, seed_for(seed, _FILL))
        chosen.append((numbers, _fetch(parts, offsets, numbers)))
        weights = np.concatenate([weights, np.zeros(numbers.shape[0])])
    candidates = np.ascontiguousarray(np.concatenate([c[1] for c in chosen]))
    centers = _reduce(candidates, weights, k, seed, trials, n_threads)
    return Seeding(centers, candidates.shape[0], rounds_run, moved)


def exact_sum(values: np.ndarray) -> int:
    """Return the exact sum of non-negative finite float64 ``values``, in units of 2**-1127.

    Every float64 is a whole number of these units, so the sum is exact: sums over any split of
    the values add up to the same integer, whatever the split, and ``total / 2**1127`` (Python's
    integer division) rounds it once, correctly. Each value's 52 stored mantissa bits are cut into
    two halves of 26 bits, added per exponent by ``np.bincount`` in float64, exact since each sum
    stays below 2**53; the exponents' sums are then shifted into place as Python integers.

    Parameters
    ----------
    values : ndarray of shape (n,)
        float64, finite and >= 0 (squared distances).

    Returns
    -------
    int
        The sum times 2**1127.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans.dask._kmeans_parallel import exact_sum
    >>> values = np.array([1e16, 1.0, -0.0 + 1.0, 3e-300])
    >>> exact_sum(values) == exact_sum(values[:1]) + exact_sum(values[1:])
    True
    >>> exact_sum(values) / 2**1127 == 1e16 + 2.0
    True
    """
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    total = 0
    for start in range(0, bits.shape[0], _EXACT_BLOCK):
        block = bits[start:start + _EXACT_BLOCK]
        exponent = (block >> np.uint64(52)).astype(np.intp)
        mantissa = block & np.uint64((1 << 52) - 1)
        high = np.bincount(exponent, weights=(mantissa >> np.uint64(26)).astype(np.float64), minlength=2048)
        low = np.bincount(exponent, weights=(mantissa & np.uint64((1 << 26) - 1)).astype(np.float64), minlength=2048)
        count = np.bincount(exponent, minlength=2048)
        for e in np.flatnonzero(count):
            # A normal number is (2**52 + mantissa) * 2**(e - 1075); a subnormal (e = 0) mantissa * 2**-1074.
            whole = (int(high[e]) << 26) + int(low[e]) + (int(count[e]) << 52 if e > 0 else 0)
            total += whole << (max(int(e), 1) + 52)
    return total


def uniforms(key: int, start: int, size: int) -> np.ndarray:
    """Return numbers ``start`` to ``start + size`` of the uniform stream ``key``: float64 in [0, 1).

    The stream is NumPy's counter-based ``Philox`` (four 64-bit outputs per counter value, one
    output per uniform), so any stretch of it is computed without the numbers before it: a
    partition draws for its rows exactly what one partition holding every row would.

    Parameters
    ----------
    key : int
        The stream's key, in [0, 2**64).
    start, size : int
        The first number's position and how many, >= 0.

    Returns
    -------
    ndarray of shape (size,)
        float64 in [0, 1), 53 random bits each.

    Examples
    --------
    >>> import numpy as np
    >>> from fastkmeans.dask._kmeans_parallel import uniforms
    >>> bool(np.array_equal(uniforms(7, 0, 10)[3:], uniforms(7, 3, 7)))
    True
    """
    skip = start % 4
    return _generator(key, start // 4).random(skip + size)[skip:]


def _generator(key: int, counter: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(key=key, counter=counter))


def _step(parts: List[Any], closest: List[Any], new: np.ndarray, first: int, offsets: np.ndarray,
          draw: Optional[Tuple[float, int]], n_threads: Optional[int]
          ) -> Tuple[List[Any], float, np.ndarray, Tuple[np.ndarray, np.ndarray], int]:
    """Update every partition's closest candidates with ``new`` (numbered from ``first``), then draw.

    One graph, one round trip: the updated states are persisted on the workers, ψ is added up on a
    worker, and with ``draw = (ℓ, key)`` every partition draws its rows against that ψ. Returns the
    states, ψ, the rows per candidate, the rows drawn (global numbers and rows, in global order;
    none without ``draw``) and the bytes moved (``new`` to every partition, counts and rows back).
    """
    import dask

    shared = dask.delayed(new, pure=True)
    states = dask.persist(*[dask.delayed(_closest, pure=True)(r, c, shared, first, n_threads)
                            for r, c in zip(parts, closest)])
    summaries = [dask.delayed(_summary, pure=True)(s) for s in states]
    psi = dask.delayed(_potential, pure=True)(summaries)
    draws = [] if draw is None else [dask.delayed(_draw, pure=True)(r, s, psi, *draw, int(offsets[i]))
                                     for i, (r, s) in enumerate(zip(parts, states))]
    psi_value, counted, taken = dask.compute(psi, summaries, draws)
    weights = np.zeros(first + new.shape[0])
    for _, counts in counted:  # whole numbers below 2**53: exact in any order
        weights[:counts.shape[0]] += counts
    drawn = _gathered(taken, offsets)
    return (list(states), psi_value, weights, drawn,
            sizeof(counted) + sizeof(new) * len(parts) + sizeof(taken))


def _gathered(taken: Sequence[Tuple[np.ndarray, Optional[np.ndarray]]],
              offsets: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return the partitions' draws as global numbers and rows, in global order."""
    found = [(local + offsets[i], aligned(rows)) for i, (local, rows) in enumerate(taken) if local.shape[0] > 0]
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    return np.concatenate([f[0] for f in found]), np.ascontiguousarray(np.concatenate([f[1] for f in found]))


def _oversample(parts: List[Any], closest: List[Any], offsets: np.ndarray, psi: float, ell: float,
                key: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Return one round's draws without a distance pass (global numbers and rows), and the bytes moved."""
    import dask

    taken = dask.compute(*[dask.delayed(_draw, pure=True)(r, c, psi, ell, key, int(offsets[i]))
                           for i, (r, c) in enumerate(zip(parts, closest))])
    return (*_gathered(taken, offsets), sizeof(taken))


def _reduce(candidates: np.ndarray, weights: np.ndarray, k: int, seed: int, trials: int,
            n_threads: Optional[int]) -> np.ndarray:
    """Return the best of ``trials`` reductions of the weighted candidates, by weighted ssd over the candidates."""
    best: Optional[np.ndarray] = None
    best_ssd = float("inf")
    for trial in range(trials):
        centers = _core.reduce_candidates(candidates, weights, k=k, seed=seed_for(seed, _REDUCE, trial),
                                          n_threads=n_threads)
        ssd = _core.loss(candidates, centers, weights, n_threads=n_threads)[0]
        if best is None or ssd < best_ssd:
            best, best_ssd = centers, ssd
    assert best is not None
    return np.ascontiguousarray(best)


def _fetch(rows: Sequence[Any], offsets: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Return the rows numbered ``wanted`` (sorted, global numbers), dense, gathered from their partitions."""
    import dask

    part = np.searchsorted(offsets, wanted, side="right") - 1
    tasks = [dask.delayed(_take, pure=True)(rows[p], wanted[part == p] - offsets[p]) for p in np.unique(part)]
    return np.ascontiguousarray(np.concatenate([aligned(t) for t in dask.compute(*tasks)]))


def _fill(n: int, avoid: np.ndarray, count: int, key: int) -> np.ndarray:
    """``count`` distinct global row numbers in [0, n) outside ``avoid``, drawn uniformly; sorted."""
    generator = _generator(key)
    chosen: Dict[int, None] = {}  # ordered: the first drawn are kept
    excluded = set(avoid.tolist())
    while len(chosen) < count:  # n >= k, so n - len(avoid) >= count rows are free
        for i in generator.integers(n, size=2 * count).tolist():
            if i not in excluded and i not in chosen and len(chosen) < count:
                chosen[i] = None
    return np.sort(np.fromiter(chosen, dtype=np.int64))


# Tasks (run on the workers) ---------------------------------------------------------------------

def _count(rows: Optional[Any]) -> int:
    return 0 if rows is None else int(rows.shape[0])


def _take(rows: Any, local: np.ndarray) -> np.ndarray:
    taken = take_rows(rows, np.asarray(local, dtype=np.int64))
    dense: np.ndarray = taken.toarray() if hasattr(taken, "toarray") else taken
    return dense


def _closest(rows: Optional[Any], state: Optional[Dict[str, Any]], new: np.ndarray, first: int,
             n_threads: Optional[int]) -> Optional[Dict[str, Any]]:
    """Return a partition's closest candidates after ``new`` (the core's ``Closest::update``): strictly closer wins."""
    if rows is None:
        return None
    rows = aligned_rows(rows)
    labels, dist2 = _core.assign(core_rows(rows), aligned(new).astype(rows.dtype, copy=False), n_threads=n_threads)
    if state is None:
        d2, owner = dist2, labels.astype(np.int32) + first
    else:
        d2, owner = state["d2"].copy(), state["owner"].copy()
        closer = dist2 < d2
        d2[closer], owner[closer] = dist2[closer], labels[closer] + first
    return {"d2": d2, "owner": owner, "n_candidates": first + new.shape[0]}


def _summary(state: Optional[Dict[str, Any]]) -> Tuple[int, np.ndarray]:
    """Return a partition's share of ψ (exact, see ``exact_sum``) and its rows per candidate."""
    if state is None:
        return 0, np.zeros(0)
    counts = np.bincount(state["owner"], minlength=state["n_candidates"]).astype(np.float64)
    return exact_sum(state["d2"]), counts


def _potential(summaries: List[Tuple[int, np.ndarray]]) -> float:
    """Return ψ: the partitions' exact sums added, rounded once."""
    try:
        return float(sum(s[0] for s in summaries) / 2**_UNIT_BITS)
    except OverflowError:  # squared distances past float64's range: no row can be drawn by them
        return float("inf")


def _draw(rows: Optional[Any], state: Optional[Dict[str, Any]], psi: float, ell: float, key: int,
          offset: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Return the numbers and rows a partition takes in a round: row i with probability min(1, ℓ · d2_i / ψ)."""
    if rows is None or state is None or not (0.0 < psi < float("inf")):
        return np.zeros(0, dtype=np.int64), None
    d2 = state["d2"]
    probability = d2 * (ell / psi)  # the core's w · d2 · (ℓ / ψ) with w = 1
    taken = np.flatnonzero((probability > 0.0) & (uniforms(key, offset, d2.shape[0]) < probability))
    return taken, _take(aligned_rows(rows), taken)
