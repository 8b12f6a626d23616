"""Behaviour of fastkmeans.KMeans against naive oracles and invariants."""

import numpy as np
import pytest
from conftest import within
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from fastkmeans import KMeans, _core
from fastkmeans._validation import as_float_matrix

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


def matrices(min_rows=1, max_rows=60, max_cols=6):
    shape = st.tuples(st.integers(min_rows, max_rows), st.integers(1, max_cols))
    return hnp.arrays(np.float64, shape, elements=finite)


def brute_force(X, centers):
    d2 = ((X[:, None, :].astype(np.float64) - centers[None, :, :].astype(np.float64)) ** 2).sum(axis=2)
    return d2.argmin(axis=1), d2.min(axis=1)


def fitted(X, k, **params):
    return KMeans(k=k, random_state=0, **params).fit(X)


@given(X=matrices(min_rows=3), data=st.data())
def test_predict_equals_the_brute_force_argmin(X, data):
    k = data.draw(st.integers(1, min(5, len(X))))
    model = fitted(X, k)
    labels, dist2 = brute_force(X, model.cluster_centers_)
    got_labels, got_distance = model.assign(X)
    # Where two centres are within roundoff of each other the blocked kernel may pick either,
    # so compare the distance it achieves, and the label wherever the minimum is clear.
    np.testing.assert_allclose(got_distance**2, dist2, rtol=1e-9, atol=1e-9)
    all_d2 = ((X[:, None, :] - model.cluster_centers_[None]) ** 2).sum(axis=2)
    second = np.sort(all_d2, axis=1)[:, 1] if k > 1 else np.full(len(X), np.inf)
    clear = second - dist2 > 1e-6 * (1 + dist2)
    np.testing.assert_array_equal(model.predict(X)[clear], labels[clear])


def test_ties_go_to_the_lowest_centre_index():
    centers = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    X = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0], [1.0, 5.0]])
    labels, dist2 = _core.assign(X, centers)
    np.testing.assert_array_equal(labels, [0, 0, 1, 0])
    np.testing.assert_array_equal(dist2, [1.0, 0.0, 0.0, 26.0])


@given(X=matrices(min_rows=5), seed=st.integers(0, 2**32 - 1))
def test_permuting_rows_permutes_the_outputs_and_nothing_else(X, seed):
    model = fitted(X, 3)
    perm = np.random.default_rng(seed).permutation(len(X))
    labels, distance = model.assign(X)
    got_labels, got_distance = model.assign(X[perm])
    np.testing.assert_array_equal(got_labels, labels[perm])
    np.testing.assert_array_equal(got_distance, distance[perm])
    np.testing.assert_array_equal(model.transform(X[perm]), model.transform(X)[perm])
    assert model.score(X[perm]) == pytest.approx(model.score(X), rel=1e-12)


def test_training_on_permuted_rows_from_the_same_centres_gives_the_same_centres():
    X, _ = make_blobs(n_samples=3000, n_features=4, centers=6, random_state=3)
    init = X[:6].copy()
    perm = np.random.default_rng(1).permutation(len(X))
    common = dict(k=6, init_method="random", num_trials=1, max_iter=100, tol=0.0, seed=0)
    a = _core.fit_lloyd(X, init_centers=init, **common)
    b = _core.fit_lloyd(X[perm], init_centers=init, **common)
    np.testing.assert_array_equal(b["labels"], a["labels"][perm])
    np.testing.assert_allclose(b["centers"], a["centers"], rtol=1e-12)
    assert b["inertia"] == pytest.approx(a["inertia"], rel=1e-12)
    # With tol=0 a run stops once the loss stops falling. Once the labels settle, a pass moves
    # the centres only by rounding, which depends on the order the rows are summed in, so the two
    # orders may stop a pass or two apart; both stop soon after the labels settle.
    assert abs(b["n_iter"] - a["n_iter"]) <= 2 and max(a["n_iter"], b["n_iter"]) < 100


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
# Multiples of 1/8: distinct points whose squared distances are representable (values like 1e-244
# are distinct but their squared distance underflows to 0, so no algorithm can separate them).
@given(distinct=hnp.arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 4)),
                           elements=st.integers(-8000, 8000).map(lambda v: v / 8), unique=True),
       repeats=st.integers(1, 5))
def test_k_equal_to_the_number_of_distinct_points_gives_zero_loss(algorithm, distinct, repeats):
    distinct = np.unique(distinct, axis=0)
    X = np.repeat(distinct, repeats, axis=0)
    np.random.default_rng(0).shuffle(X)
    model = KMeans(k=len(distinct), algorithm=algorithm, init_method="kmeans++", random_state=1).fit(X)
    assert model.inertia_ == 0.0
    np.testing.assert_array_equal(np.unique(model.cluster_centers_, axis=0), distinct)


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
def test_float32_and_float64_agree(algorithm):
    X, _ = make_blobs(n_samples=4000, n_features=8, centers=7, cluster_std=0.7, random_state=5)
    m64 = KMeans(k=7, algorithm=algorithm, init_method="kmeans++", random_state=2).fit(X)
    m32 = KMeans(k=7, algorithm=algorithm, init_method="kmeans++", random_state=2).fit(X.astype(np.float32))
    assert m32.cluster_centers_.dtype == np.float32 and m64.cluster_centers_.dtype == np.float64
    assert adjusted_rand_score(m64.labels_, m32.labels_) == 1.0
    assert m32.inertia_ == pytest.approx(m64.inertia_, rel=1e-4)
    order32, order64 = np.lexsort(m32.cluster_centers_.T), np.lexsort(m64.cluster_centers_.T)
    np.testing.assert_allclose(m32.cluster_centers_[order32], m64.cluster_centers_[order64], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("algorithm", ["minibatch", "lloyd"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_well_separated_blobs_are_recovered_exactly(algorithm, seed):
    X, y = make_blobs(n_samples=6000, n_features=5, centers=9, cluster_std=0.5, center_box=(-40, 40), random_state=seed)
    model = KMeans(k=9, algorithm=algorithm, init_method="kmeans++", random_state=seed).fit(X)
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert adjusted_rand_score(y, model.predict(X)) == 1.0


def test_the_same_random_state_gives_identical_bits_on_any_number_of_threads():
    X, _ = make_blobs(n_samples=20000, n_features=6, centers=12, random_state=0)
    X = X.astype(np.float32)
    runs = [KMeans(k=12, epochs=2, mini_batch_size=1500, init_method="kmeans++", half_life_time_size=5000,
                   random_state=7, n_threads=n).fit(X) for n in (1, 2, 3, None)]
    for other in runs[1:]:
        assert other.cluster_centers_.tobytes() == runs[0].cluster_centers_.tobytes()
        assert other.labels_.tobytes() == runs[0].labels_.tobytes()
        assert other.inertia_ == runs[0].inertia_
    different = KMeans(k=12, epochs=2, mini_batch_size=1500, init_method="kmeans++", random_state=8).fit(X)
    assert different.cluster_centers_.tobytes() != runs[0].cluster_centers_.tobytes()


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_fits_give_the_same_bits_on_the_importing_thread_and_on_others(n_threads):
    # Small calls run on the importing thread's own pool there (with the default number of
    # threads), and as a job on a pool elsewhere; large fits (that could make over 2**32
    # multiply-adds) as a job on a pool from either thread.
    small, _ = make_blobs(n_samples=2000, n_features=8, centers=6, random_state=0)
    large, _ = make_blobs(n_samples=60000, n_features=8, centers=20, random_state=1)
    fits = [lambda: KMeans(k=6, random_state=1, n_threads=n_threads).fit(small),
            lambda: KMeans(k=6, algorithm="lloyd", random_state=1, n_threads=n_threads).fit(small.astype(np.float32)),
            lambda: KMeans(k=20, random_state=2, n_threads=n_threads).fit(large)]
    for fit in fits:
        here, there = fit(), within(120, fit)  # within: on another thread
        assert here.cluster_centers_.tobytes() == there.cluster_centers_.tobytes()
        assert here.labels_.tobytes() == there.labels_.tobytes()
        assert here.inertia_ == there.inertia_
        assert here.cluster_weights_.tobytes() == there.cluster_weights_.tobytes()
        rows = small[:50].astype(here.cluster_centers_.dtype)
        assert here.transform(rows).tobytes() == within(60, here.transform, rows).tobytes()


_WIDE_RUN = """
import sys, numpy as np
from sklearn.datasets import make_blobs
from fastkmeans import KMeans, _core
X, _ = make_blobs(n_samples=6000, n_features=40, centers=80, random_state=1)
out = [_core.CPU_TILES.encode(), b"|"]
for dtype in (np.float32, np.float64):
    x = X.astype(dtype)
    streamed = KMeans(k=80, random_state=3).fit(x)  # K = 80 * factor streaming centres, many panels
    lloyd = KMeans(k=10, algorithm="lloyd", random_state=3).fit(x)  # two panels in float64, the last half-width
    lone = KMeans(k=12, algorithm="lloyd", random_state=3).fit(x)  # one whole panel in float32
    grouped = KMeans(k=300, algorithm="lloyd", random_state=3).fit(x)  # Yinyang's listed scans, panels paired
    out += [m.cluster_centers_.tobytes() + m.labels_.tobytes() + m.transform(x[:500]).tobytes()
            for m in (streamed, lloyd, lone, grouped)]
# Rows of 3 and 12 features: one row per lane, in zmm registers (to 16 features) or ymm ones (to 8;
# 12 features then go to the microkernel), with the refine bounded at other k · d on each.
for d, ks in ((3, (16, 64)), (12, (8, 30))):
    Y, _ = make_blobs(n_samples=20000, n_features=d, centers=40, cluster_std=2.0, random_state=2)
    for dtype in (np.float32, np.float64):
        y = Y.astype(dtype)
        fits = [KMeans(k=k, random_state=5).fit(y) for k in ks]
        out += [m.cluster_centers_.tobytes() + m.labels_.tobytes() + m.transform(y[:500]).tobytes() for m in fits]
sys.stdout.buffer.write(b"".join(out))
"""


def _fits_in_a_process(script: str, **env: str):
    """The tiles a fresh interpreter ran `script` on, with `env` added (the switches are read once
    per process), and the bytes of its fits (what the script writes after the tiles and a "|")."""
    import os
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, check=True)
    tiles, fits = run.stdout.split(b"|", 1)
    assert len(fits) > 500_000  # centres, labels and distances of every fit
    return tiles.decode(), fits


def test_the_avx512_tiles_give_the_bits_of_the_avx2_tiles():
    # The full scans run panels of centres in zmm registers, two at a time, where the CPU has
    # AVX-512F (not on AMD's Zen 4: _core.CPU_TILES says), as do the grouped passes' listed scans,
    # and rows of up to 16 features one row per zmm lane; the same fits with them switched off
    # (FASTKMEANS_DISABLE_AVX512=1) are the same bits. The AMX filter (its own test below) is
    # off in both: every label comes from these tiles.
    if not _core.CPU_TILES.startswith("avx512"):
        pytest.skip(f"this CPU runs the {_core.CPU_TILES} tiles, not the AVX-512 ones")
    wide = _fits_in_a_process(_WIDE_RUN, FASTKMEANS_DISABLE_AVX512="0", FASTKMEANS_DISABLE_AMX="1")
    narrow = _fits_in_a_process(_WIDE_RUN, FASTKMEANS_DISABLE_AVX512="1", FASTKMEANS_DISABLE_AMX="1")
    assert (wide[0], narrow[0]) == ("avx512", "avx2")
    assert wide[1] == narrow[1]


_AMX_RUN = """
import sys, numpy as np
from sklearn.datasets import make_blobs
from fastkmeans import KMeans, _core
X, _ = make_blobs(n_samples=8000, n_features=40, centers=120, cluster_std=3.0, random_state=4)
x = X.astype(np.float32)
out = [_core.CPU_TILES.encode(), b"|"]
streamed = KMeans(k=80, random_state=3).fit(x)  # 800 streaming centres labelled by the filter
grouped = KMeans(k=300, algorithm="lloyd", random_state=3).fit(x)  # plain passes, then grouped ones
out += [m.cluster_centers_.tobytes() + m.labels_.tobytes() + m.transform(x[:300]).tobytes()
        for m in (streamed, grouped)]
# Rows of 784 features (25 steps of 32; uniform, so many rows are near-ties), k = 256.
Y = np.random.default_rng(0).random((3000, 784), dtype=np.float32)
model = KMeans(k=256, algorithm="lloyd", init_method="random", local_lloyd_max_iter=3, random_state=0).fit(Y)
out.append(model.cluster_centers_.tobytes() + model.labels_.tobytes() + model.predict(Y[::-1]).tobytes())
sys.stdout.buffer.write(b"".join(out))
"""


def test_the_amx_filter_gives_the_labels_of_the_exact_tiles():
    # Where the CPU and OS run AMX (_core.CPU_TILES ends in "+amx"), float32 labels against 256
    # centres and more come from a bfloat16 filter and exact rescoring of what it cannot rule out,
    # and Lloyd's first passes run plain until few rows change centre; the same fits with the
    # filter switched off (FASTKMEANS_DISABLE_AMX=1) are the same bits.
    if not _core.CPU_TILES.endswith("+amx"):
        pytest.skip(f"this CPU or OS runs the {_core.CPU_TILES} tiles, without AMX")
    filtered = _fits_in_a_process(_AMX_RUN, FASTKMEANS_DISABLE_AMX="0")
    exact = _fits_in_a_process(_AMX_RUN, FASTKMEANS_DISABLE_AMX="1")
    assert (filtered[0], exact[0]) == ("avx512+amx", "avx512")
    assert filtered[1] == exact[1]


def test_fitted_attributes_describe_the_training_data():
    X, _ = make_blobs(n_samples=3000, n_features=3, centers=4, random_state=0)
    model = KMeans(k=4, eval_metrics=["msd", "ssd"], random_state=0).fit(X)
    labels, dist2 = brute_force(X, model.cluster_centers_)
    assert model.cluster_centers_.shape == (4, 3) and model.n_features_in_ == 3
    assert model.labels_.dtype == np.int32
    np.testing.assert_array_equal(model.labels_, labels)
    assert model.inertia_ == pytest.approx(dist2.sum(), rel=1e-12)
    assert model.train_metrics_ == {"msd": pytest.approx(dist2.mean(), rel=1e-12), "ssd": pytest.approx(dist2.sum())}
    np.testing.assert_array_equal(model.cluster_sizes_, np.bincount(labels, minlength=4))
    # The streaming weights count every point merged (one epoch: each row once): each final centre
    # has the counts of the streaming centres nearest to it, summed in their order.
    assert model.cluster_weights_.sum() == pytest.approx(len(X))
    owner, _ = brute_force(model._state["centers"], model.cluster_centers_)
    expected = np.bincount(owner, weights=model._state["counts"], minlength=4)
    assert model.cluster_weights_.tobytes() == expected.tobytes()
    assert _core.absorbed_counts(model._state, model.cluster_centers_).tobytes() == expected.tobytes()
    assert model.extra_center_factor_ == 10 and model.local_lloyd_num_trials_ == 10
    assert model.n_steps_ == 1 and model.score(X) == pytest.approx(-model.inertia_)
    np.testing.assert_allclose(model.transform(X), np.sqrt(((X[:, None] - model.cluster_centers_[None]) ** 2).sum(2)),
                               rtol=1e-6, atol=1e-6)
    held_out = {"msd": pytest.approx(dist2[:100].mean()), "ssd": pytest.approx(dist2[:100].sum())}
    assert model.evaluate(X[:100]) == held_out


def test_partial_fit_streams_chunks_and_continues_a_fit():
    X, y = make_blobs(n_samples=9000, n_features=4, centers=5, cluster_std=0.6, center_box=(-30, 30), random_state=4)
    model = KMeans(k=5, mini_batch_size=1000, init_method="kmeans++", random_state=0)
    for chunk in np.array_split(X, 6):
        model.partial_fit(chunk)
    assert model._state["points_seen"] == len(X)
    assert model.n_steps_ == 6 * 2
    assert adjusted_rand_score(y, model.predict(X)) == 1.0
    resumed = KMeans(k=5, mini_batch_size=1000, init_method="kmeans++", random_state=0).fit(X)
    resumed.partial_fit(X[:500])
    assert resumed._state["points_seen"] == len(X) + 500
    assert adjusted_rand_score(y, resumed.predict(X)) == 1.0


def _fresh_state(X, k):
    seeded = _core.minibatch_seed(X[:200], n_centers=k, init_method="kmeans++", seed=3)
    return seeded["state"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("half_life", [0, 700])
def test_the_cores_batch_loop_merges_what_batches_fed_one_call_each_merge(dtype, half_life):
    X, _ = make_blobs(n_samples=5003, n_features=6, centers=8, random_state=1)
    X = X.astype(dtype)
    order = np.random.default_rng(0).permutation(len(X))
    order = np.concatenate([order, order[:100]])  # rows may come back
    state = _fresh_state(X, 40)
    looped = _core.minibatch_update(X, state=state, half_life_time_size=half_life, mini_batch_size=250, order=order)
    fed, ssd = dict(state), 0.0
    for start in range(0, len(order), 250):
        merged = _core.minibatch_update(X[order[start:start + 250]], state=fed, half_life_time_size=half_life)
        fed, ssd = merged["state"], ssd + merged["batch_ssd"]
    assert looped["n_batches"] == 21
    assert looped["batch_ssd"] == pytest.approx(ssd, rel=1e-12)
    for key in ("centers", "counts", "far_points", "far_weights", "far_dist2"):
        np.testing.assert_array_equal(looped["state"][key], fed[key])
    assert looped["state"]["points_seen"] == len(order)
    # Without an order, every row in turn.
    in_turn = _core.minibatch_update(X, state=state, half_life_time_size=half_life, mini_batch_size=250,
                                     order=np.arange(len(X)))
    plain = _core.minibatch_update(X, state=state, half_life_time_size=half_life, mini_batch_size=250)
    np.testing.assert_array_equal(plain["state"]["centers"], in_turn["state"]["centers"])
    # No mini_batch_size: everything given is one batch; an order may be any integer view.
    whole = _core.minibatch_update(X, state=state, half_life_time_size=half_life, order=order[::-1])
    one = _core.minibatch_update(X[order[::-1]], state=state, half_life_time_size=half_life)
    assert whole["n_batches"] == 1
    np.testing.assert_array_equal(whole["state"]["centers"], one["state"]["centers"])
    untouched = _fresh_state(X, 40)  # the caller's state is not modified
    for key in ("centers", "counts"):
        np.testing.assert_array_equal(state[key], untouched[key])


def test_the_cores_batch_loop_shuffles_by_seed_deterministically():
    X, _ = make_blobs(n_samples=3001, n_features=5, centers=6, random_state=2)
    state = _fresh_state(X, 30)

    def run(seed):
        return _core.minibatch_update(X, state=state, half_life_time_size=0, mini_batch_size=300, shuffle_seed=seed)

    first, again, other = run(7), run(7), run(8)
    in_turn = _core.minibatch_update(X, state=state, half_life_time_size=0, mini_batch_size=300)
    assert first["n_batches"] == 11 and first["state"]["points_seen"] == len(X)
    np.testing.assert_array_equal(first["state"]["centers"], again["state"]["centers"])
    assert not np.array_equal(first["state"]["centers"], other["state"]["centers"])
    assert not np.array_equal(first["state"]["centers"], in_turn["state"]["centers"])
    # Every row once: the counts add up to the rows merged.
    assert first["state"]["counts"].sum() == pytest.approx(len(X))


def test_the_cores_batch_loop_names_a_bad_order_or_batch_size():
    X = np.random.default_rng(0).standard_normal((300, 3))
    state = _fresh_state(X, 5)
    with pytest.raises(ValueError, match="row index 300 is out of range for 300 rows"):
        _core.minibatch_update(X, state=state, half_life_time_size=0, mini_batch_size=10,
                               order=np.array([0, 5, 300, 2]))
    with pytest.raises(ValueError, match="negative row index"):
        _core.minibatch_update(X, state=state, half_life_time_size=0, mini_batch_size=10, order=np.array([0, -1]))
    with pytest.raises(ValueError, match="mini_batch_size"):
        _core.minibatch_update(X, state=state, half_life_time_size=0, mini_batch_size=0)
    with pytest.raises(ValueError, match="order or shuffle_seed, not both"):
        _core.minibatch_update(X, state=state, half_life_time_size=0, order=np.arange(3), shuffle_seed=1)


def test_half_life_makes_the_model_follow_a_drifting_stream():
    rng = np.random.default_rng(0)
    old = rng.normal(0.0, 0.1, size=(5000, 2))
    new = rng.normal(10.0, 0.1, size=(5000, 2))
    kw = dict(k=1, mini_batch_size=500, extra_center_factor=1, random_state=0)
    forgetful = KMeans(half_life_time_size=500, **kw).partial_fit(old).partial_fit(new)
    remembering = KMeans(**kw).partial_fit(old).partial_fit(new)
    assert forgetful.cluster_centers_[0, 0] > 9.9
    assert remembering.cluster_centers_[0, 0] == pytest.approx(5.0, abs=0.1)


def test_contiguous_float_arrays_are_used_without_a_copy():
    for dtype in (np.float32, np.float64):
        X = np.ones((10, 3), dtype=dtype)
        assert as_float_matrix(X) is X
    fortran = np.asfortranarray(np.ones((10, 3)))
    assert as_float_matrix(fortran).flags.c_contiguous
    # Float arrays the core cannot read as they are: converted, never passed through.
    swapped = np.arange(30.0).reshape(10, 3).astype(">f8")
    assert as_float_matrix(swapped).dtype == np.float64 and as_float_matrix(swapped).dtype.isnative
    np.testing.assert_array_equal(as_float_matrix(swapped), swapped)
    unaligned = np.frombuffer(b"\0" + np.arange(30.0).tobytes(), dtype=np.float64, offset=1).reshape(10, 3)
    assert not unaligned.flags.aligned and as_float_matrix(unaligned).flags.aligned


@pytest.mark.parametrize("convert", [
    lambda X: X.tolist(),
    np.asfortranarray,
    lambda X: (X * 100).astype(np.int64),
    lambda X: X.astype(np.float16),
    lambda X: __import__("pandas").DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]),
])
def test_other_inputs_are_converted_once_and_give_the_same_clusters(convert):
    X, y = make_blobs(n_samples=600, n_features=3, centers=3, center_box=(-50, 50), random_state=0)
    X = np.round(X, 1)
    model = KMeans(k=3, init_method="kmeans++", random_state=0).fit(convert(X))
    assert adjusted_rand_score(y, model.predict(convert(X))) == 1.0
