"""The two tutorials in examples/ run end to end (real subprocesses) and produce what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

pytest.importorskip("matplotlib")


def run(script, *args):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_demo_runs_the_sagemaker_tutorial_and_says_where_everything_went(tmp_path):
    out = run("demo.py", tmp_path)
    assert "adjusted Rand index against the true blobs 1.0000" in out
    assert "best k = 5" in out and "5000 predictions" in out
    assert f"report: {tmp_path / 'report.html'}" in out
    for name in ("elbow", "silhouette_vs_k", "silhouette_by_cluster", "cluster_sizes", "distances", "pca"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "report.html").read_text().count('src="data:image/png;base64,') == 6


@pytest.mark.skipif(not (DATA / "statecrime").is_dir(), reason=f"the real data sets are not at {DATA}")
def test_crime_workshop_prints_the_membership_tables_and_writes_the_charts(tmp_path):
    out = run("crime_workshop.py", tmp_path, DATA)
    assert "statecrime: 51 states x 7 features" in out and "usarrests: 50 states x 4 features" in out
    table = [line.split() for line in out.splitlines() if line.startswith("  ") and line.split()[-1][:1].isdigit()
             and len(line.split()) >= 3 and line.split()[-2].isdigit()]
    assert len(table) == 101  # every state of both data sets, once
    first = table[:51]
    keys = [(int(row[-2]), float(row[-1])) for row in first]
    assert keys == sorted(keys)  # sorted by cluster, then by distance
    for name in ("statecrime", "usarrests"):
        assert (tmp_path / f"{name}_cluster_sizes.png").read_bytes()[:4] == b"\x89PNG"
        assert "District of Columbia" in (tmp_path / "statecrime_report.html").read_text()
