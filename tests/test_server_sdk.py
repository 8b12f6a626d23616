"""The SageMaker Python SDK's own serializers and deserializers against a real server (slow).

The SDK (sagemaker<3: v3 dropped the k-means classes) lives in its own environment, `.sdk-venv`
(`make sdk-venv`), so that its pins never touch the test environment; this test builds it on first
use and skips, saying why, where it cannot be installed.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

import fastkmeans

pytest.importorskip("uvicorn", reason="the serve extra is not installed")
from _serving import Server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SDK_PYTHON = os.path.join(ROOT, ".sdk-venv", "bin", "python")
ROWS = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [9.0, 10.0, 11.0]])


def sdk_python():
    if not os.path.exists(os.path.join(ROOT, ".sdk-venv", ".installed")):
        result = subprocess.run(["make", "-C", ROOT, "sdk-venv"], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"the SageMaker SDK (sagemaker<3) could not be installed: {result.stderr[-500:]}")
    return SDK_PYTHON


@pytest.mark.slow
def test_sdk_serializers_requests_and_deserializers_read_the_answers(tmp_path):
    python = sdk_python()
    rng = np.random.default_rng(0)
    model = fastkmeans.KMeans(k=3, random_state=0).fit(
        np.concatenate([rng.normal(c, 0.5, size=(100, 3)) for c in (0.0, 5.0, 10.0)]))
    model.save(str(tmp_path / "model.fkm"))
    closest, distance = model.assign(ROWS)
    with Server(str(tmp_path / "model.fkm")) as server:
        result = subprocess.run([python, os.path.join(ROOT, "tests", "sdk", "sdk_client.py"), str(server.port)],
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "SAGEMAKER_SUPPRESS_V2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])  # the SDK may print notices before
    assert len(answers) == 6 * 4
    for case, pairs in answers.items():
        n = 1 if case.startswith("record-1d") else 3
        assert [c for c, _ in pairs] == closest[:n].astype(float).tolist(), case
        assert np.allclose([d for _, d in pairs], distance[:n], rtol=1e-6), case
