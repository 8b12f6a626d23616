"""The version has one source, Cargo.toml, and the installed package reports it."""

import re
from pathlib import Path

import fastkmeans


def test_the_package_version_is_the_cargo_workspace_version():
    cargo = (Path(__file__).resolve().parents[1] / "Cargo.toml").read_text()
    workspace_package = cargo.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    version = re.search(r'^version = "([^"]+)"', workspace_package, re.MULTILINE).group(1)
    assert fastkmeans.__version__ == version
    assert "version" in Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text().split(
        "dynamic = [", 1)[1].split("]", 1)[0]


def test_the_distribution_is_fastkmeans_sagemaker_and_the_cli_says_so():
    import subprocess
    import sys
    from importlib.metadata import version

    assert version("fastkmeans-sagemaker") == fastkmeans.__version__
    out = subprocess.run([sys.executable, "-m", "fastkmeans", "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith(f"fastkmeans {fastkmeans.__version__} (distribution fastkmeans-sagemaker: ")
    assert "pyproject" not in out and "\nwarning" not in out  # the unrelated PyPI fastkmeans is not installed here
