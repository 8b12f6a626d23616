"""Damaged, foreign and crafted model files: each gives a ValueError that says what is wrong; fuzzed too."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastkmeans
from fastkmeans import KMeans, _persist

HEADER = struct.Struct("<8sIIQQ")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    """A saved streaming model (k = 3, d = 4, float64)."""
    X = np.random.default_rng(0).normal(size=(600, 4))
    path = tmp_path_factory.mktemp("good") / "model.fkm"
    KMeans(k=3, mini_batch_size=200, random_state=0).fit(X).save(path)
    return path.read_bytes()


def split(content: bytes):
    """(metadata dict, data section) of a valid file."""
    _, _, _, _, length = HEADER.unpack_from(content)
    start = -(-(HEADER.size + length) // 64) * 64
    return json.loads(content[HEADER.size:HEADER.size + length]), content[start:-32]


def forge(metadata, data: bytes, version: int = 1) -> bytes:
    """A file with a correct header and checksum around any metadata and data: a crafted model."""
    encoded = json.dumps(metadata).encode() if not isinstance(metadata, bytes) else metadata
    start = -(-(HEADER.size + len(encoded)) // 64) * 64
    total = start + len(data) + 32
    body = HEADER.pack(b"\x89FKM\r\n\x1a\n", version, 0, total, len(encoded)) + encoded
    body += bytes(start - len(body)) + data
    return body + hashlib.sha256(body).digest()


def load_bytes(tmp_path, content: bytes):
    path = tmp_path / "model.fkm"
    path.write_bytes(content)
    return fastkmeans.load(path)


def test_forge_reproduces_a_saved_file(good):
    metadata, data = split(good)
    assert forge(json.dumps(metadata, separators=(",", ":")).encode(), data) == good


# Damaged and foreign files ---------------------------------------------------------------------------


def test_a_file_from_a_newer_format_version_says_so(tmp_path, good):
    newer = good[:8] + struct.pack("<I", 2) + good[12:]
    with pytest.raises(ValueError, match=r"format version 2, newer than this fastkmeans .* \(up to 1\): upgrade"):
        load_bytes(tmp_path, newer)


@pytest.mark.parametrize("keep", [0, 5, 20, 31, 32, 100, -100, -33, -1])
def test_a_truncated_file_says_truncated(tmp_path, good, keep):
    with pytest.raises(ValueError) as caught:
        load_bytes(tmp_path, good[:keep] if keep else b"")
    message = str(caught.value)
    if keep == 0:
        assert "not a fastkmeans model file (it is empty)" in message
    elif 0 < keep < 8:
        assert "not a fastkmeans model file" in message
    else:
        assert "is truncated" in message


def test_every_flipped_bit_is_caught(tmp_path, good):
    """A flip anywhere: magic -> not a model, version -> newer/version 0, lengths -> truncated/corrupted,
    and everywhere else the checksum."""
    positions = list(range(0, 32)) + list(range(32, len(good), 7)) + [len(good) - 1]
    for position in positions:
        for bit in (0, 7):
            damaged = bytearray(good)
            damaged[position] ^= 1 << bit
            with pytest.raises(ValueError, match="not a fastkmeans model|newer|corrupted|truncated") as caught:
                load_bytes(tmp_path, bytes(damaged))
            if position >= 32:
                assert "corrupted: its SHA-256 checksum does not match" in str(caught.value)


def test_bytes_added_at_the_end_are_caught(tmp_path, good):
    with pytest.raises(ValueError, match="has .* bytes, but its header says"):
        load_bytes(tmp_path, good + b"\0")


@pytest.mark.parametrize("content, guess", [
    (gzip.compress(b"model_algo-1"), "gzip-compressed: a SageMaker model.tar.gz"),
    (struct.pack("<QQQ", 0x112, 0, 1), "MXNet NDArray file"),
    (pickle.dumps(KMeans()), "a pickle, which fastkmeans never loads"),
    (b"k,feature_dim\n8,7\n", "it starts with b'k,featur'"),
    (b"\x89FKM\n\x1a\n\x00" + bytes(40), "newlines converted"),
])
def test_a_file_of_another_kind_is_named(tmp_path, content, guess):
    with pytest.raises(ValueError, match="is not a fastkmeans model file") as caught:
        load_bytes(tmp_path, content)
    assert guess in str(caught.value)


def test_a_pickle_is_never_executed(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    with pytest.raises(ValueError, match="pickle"):
        load_bytes(tmp_path, pickle.dumps(Boom()))


# Crafted files: a correct checksum around wrong content -------------------------------------------------


def edited(good, edit):
    metadata, data = split(good)
    metadata = copy.deepcopy(metadata)
    edit(metadata)
    return forge(metadata, data)


CRAFTED = {
    "another kind": (lambda m: m.update(kind="os.system"), "holds 'os.system', not a fastkmeans.KMeans"),
    "bad hyperparameter": (lambda m: m["params"].update(k=0), "hyperparameters are invalid: Invalid hyperparameter "
                                                              "value 0 for k"),
    "unknown hyperparameter": (lambda m: m["params"].update(evil=1), "Unknown hyperparameter names: 'evil'"),
    "a million threads": (lambda m: m["params"].update(n_threads=10**6), "n_threads=1000000 is more than the 1024"),
    "negative random_state": (lambda m: m["params"].update(random_state=-1), "random_state should be an integer"),
    "k differs from the centres": (lambda m: m["params"].update(k=4), r"shape \(3, 4\), but the model needs \(4, 4\)"),
    "feature_dim differs": (lambda m: m["params"].update(feature_dim=9), r"feature_dim=9, but the centres have 4"),
    "unknown array": (lambda m: m["arrays"].update(__class__=m["arrays"]["cluster_centers_"]), "unknown arrays"),
    "unknown attribute": (lambda m: m["fitted"].update(predict=1), r"unknown fitted attributes \['predict'\]"),
    "array past the end": (lambda m: m["arrays"]["cluster_centers_"].update(offset=1 << 40), "does not lie in"),
    "absurd shape": (lambda m: m["arrays"]["cluster_centers_"].update(shape=[2**62, 2**62]), "dimension 0 of array"),
    "byte count disagrees": (lambda m: m["arrays"]["cluster_centers_"].update(bytes=8), "does not lie in"),
    "object dtype": (lambda m: m["arrays"]["cluster_centers_"].update(dtype="|O"), "has dtype '|O'"),
    "big-endian dtype": (lambda m: m["arrays"]["cluster_centers_"].update(dtype=">f8"), "has dtype '>f8'"),
    "no centres": (lambda m: m["arrays"].pop("cluster_centers_"), "holds no cluster_centers_"),
    "string scalar": (lambda m: m["fitted"].update(n_iter_="3"), "n_iter_ should be an integer"),
    "bool scalar": (lambda m: m["fitted"].update(n_steps_=True), "n_steps_ should be an integer"),
    "metric name": (lambda m: m["fitted"].update(train_metrics_={"loss": 1}), "train_metrics_ names"),
    "feature names": (lambda m: m["fitted"].update(feature_names_in_=["a"]), "list of 4 strings"),
    "seed out of range": (lambda m: m["state"].update(seed=2**64), "state seed should be an integer"),
    "partial state": (lambda m: m["state"].pop("points_seen"), "streaming state should hold"),
    "state without scalars": (lambda m: m.update(state=None), "state arrays but no state"),
    "metadata not an object": (lambda m: m.clear() or m.update(kind=["list"]), "holds \\['list'\\]"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_file_gives_a_clear_error(tmp_path, good, case):
    edit, message = CRAFTED[case]
    with pytest.raises(ValueError, match=message):
        load_bytes(tmp_path, edited(good, edit))


def test_nan_centres_and_mismatched_state_are_refused(tmp_path, good):
    metadata, data = split(good)
    entry = metadata["arrays"]["cluster_centers_"]
    poisoned = bytearray(data)
    poisoned[entry["offset"]:entry["offset"] + 8] = struct.pack("<d", float("nan"))
    with pytest.raises(ValueError, match="NaN or infinity"):
        load_bytes(tmp_path, forge(metadata, bytes(poisoned)))
    state = copy.deepcopy(metadata)
    state["arrays"]["state.counts"]["shape"] = [1]
    state["arrays"]["state.counts"]["bytes"] = 8
    with pytest.raises(ValueError, match=r"state.counts has shape \(1,\)"):
        load_bytes(tmp_path, forge(state, data))


def test_metadata_that_is_not_json_is_refused(tmp_path, good):
    _, data = split(good)
    with pytest.raises(ValueError, match="unreadable metadata"):
        load_bytes(tmp_path, forge(b"{not json", data))
    with pytest.raises(ValueError, match="unreadable metadata"):
        load_bytes(tmp_path, forge(b"[" * 100_000 + b"]" * 100_000, data))
    with pytest.raises(ValueError, match="unreadable metadata"):
        load_bytes(tmp_path, forge(b"\xff\xfe", data))


# Fuzzing: whatever the bytes, a ValueError or a model, nothing else -----------------------------------


def decode_or_value_error(content: bytes):
    try:
        model = _persist.decode(bytearray(content), "fuzzed")
    except ValueError as error:
        assert str(error).startswith("fuzzed: ")
        return None
    assert isinstance(model, KMeans) and model.cluster_centers_.ndim == 2
    return model


@given(st.binary(max_size=400))
def test_fuzz_random_bytes_never_crash(content):
    decode_or_value_error(content)
    decode_or_value_error(b"\x89FKM\r\n\x1a\n" + content)


@given(st.data())
def test_fuzz_mutated_files_never_crash(good, data):
    content = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(content)))
    decode_or_value_error(bytes(content[:cut]))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                    | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@given(st.data())
def test_fuzz_crafted_metadata_with_a_valid_checksum_never_crashes(good, data):
    metadata, section = split(good)
    metadata = copy.deepcopy(metadata)
    # Replace a few values anywhere in the metadata tree with arbitrary JSON.
    for _ in range(data.draw(st.integers(1, 3))):
        node = metadata
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            key = data.draw(st.sampled_from(keys))
            if isinstance(node[key], (dict, list)) and node[key] and data.draw(st.booleans()):
                node = node[key]
                continue
            node[key] = data.draw(JSON)
            break
    model = decode_or_value_error(forge(metadata, section))
    if model is not None:  # what loads must work
        model.predict(np.zeros((2, model.n_features_in_)))
