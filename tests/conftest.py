"""Shared test settings: hypothesis profiles, as pydantic-core keeps them; and what the Dask tests
share: a real LocalCluster fixture (``client``) and a timeout for fits that could hang (``within``,
which the thread tests use to run a call on a thread other than the one that imported fastkmeans).

``HYPOTHESIS_PROFILE=thorough`` runs many more examples than the default ``fast`` CI profile.
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("fast", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# Run by tests/test_server_sdk.py in the SDK's own environment (.sdk-venv), never imported here.
collect_ignore = ["sdk/sdk_client.py"]


@pytest.fixture(scope="module")
def client():
    """A real distributed.LocalCluster for the Dask tests: two worker processes on loopback, started
    once per test module."""
    distributed = pytest.importorskip("distributed", reason="the dask extra (distributed) is not installed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def within(seconds, function, *args, **kwargs):
    """Run ``function`` in a thread; fail the test (TimeoutError) if it has not returned within ``seconds``."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(function, *args, **kwargs).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)  # a hung fit must not hang the test run too
