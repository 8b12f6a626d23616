"""Which package this is: the distribution's name on PyPI, its version, and where it came from.

The import name ``fastkmeans`` is shared with an unrelated PyPI project (a GPU k-means); this
package is installed as ``DISTRIBUTION``, and ``describe()`` says so wherever a version is shown.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Optional

__all__ = ["DISTRIBUTION", "describe", "distribution_version", "other_fastkmeans"]

DISTRIBUTION = "fastkmeans-sagemaker"
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
    line = (f"fastkmeans {distribution_version()} (distribution {DISTRIBUTION}: SageMaker's k-means, Rust core "
            f"{', '.join(_core.BACKENDS)}, {_core.CPU_TILES} tiles; {location}; Python {sys.version.split()[0]})")
    other = other_fastkmeans()
    if other is not None:
        line += (f"\nwarning: the unrelated distribution fastkmeans {other} is installed too and writes the same "
                 f"package directory: pip uninstall fastkmeans {DISTRIBUTION}, then pip install {DISTRIBUTION}")
    return line


def other_fastkmeans() -> Optional[str]:
    """Return the version of PyPI's unrelated ``fastkmeans`` distribution if it is installed too, else None."""
    try:
        return version("fastkmeans")
    except PackageNotFoundError:
        return None
