"""Which package this is: the distribution's name on PyPI, its version, and where it came from.

The import name ``fastkmeans`` is shared with an unrelated PyPI project (a GPU k-means); this
package is installed as ``DISTRIBUTION``, and ``describe()`` says so wherever a version is shown.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

__all__ = ["DISTRIBUTION", "describe", "distribution_version"]

DISTRIBUTION = "fastkmeans"
"""The name to ``pip install``."""


def distribution_version() -> str:
    """Return the installed distribution's version, or ``0+unknown`` in a source tree without an install."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "0+unknown"


def describe() -> str:
    """Return one line that identifies this package unambiguously: name, version, distribution, location."""
    from fastkmeans import _core

    location = os.path.dirname(os.path.abspath(__file__))
    return (f"fastkmeans {distribution_version()} (distribution {DISTRIBUTION}: SageMaker's k-means, Rust core "
            f"{', '.join(_core.BACKENDS)}; {location}; Python {sys.version.split()[0]})")
