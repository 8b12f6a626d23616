"""Shared test settings: hypothesis profiles, as pydantic-core keeps them.

``HYPOTHESIS_PROFILE=thorough`` runs many more examples than the default ``fast`` CI profile.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("fast", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# Run by tests/test_server_sdk.py in the SDK's own environment (.sdk-venv), never imported here.
collect_ignore = ["sdk/sdk_client.py"]
