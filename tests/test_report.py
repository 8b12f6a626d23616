"""Plots, the HTML report (opened in a real headless Chromium) and outlier scores."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import make_blobs

import fastkmeans
from fastkmeans import plots, report

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def fitted():
    X, _ = make_blobs(n_samples=1500, n_features=5, centers=3, random_state=3)
    model = fastkmeans.KMeans(k=3, mini_batch_size=300, epochs=3, random_state=0).fit(X)
    return X, model


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(path, tmp_path):
    """Open the page in headless Chromium; return (images, images loaded, page height) as it saw them."""
    probe = tmp_path / "probe.html"
    page = path.read_text(encoding="utf-8")
    script = ("<script>window.addEventListener('load', () => { const all = [...document.images];"
              "document.body.dataset.images = all.length;"
              "document.body.dataset.loaded = all.filter(i => i.complete && i.naturalWidth > 0).length;"
              "document.body.dataset.height = document.body.scrollHeight; });</script>")
    probe.write_text(page.replace("</body>", script + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = {name: int(value) for name, value in re.findall(r'data-(images|loaded|height)="(\d+)"', result.stdout)}
    return found["images"], found["loaded"], found["height"]


def test_report_is_one_self_contained_page_with_every_section(fitted, tmp_path):
    X, model = fitted
    path = tmp_path / "report.html"
    written = report.write_report(model, X, path, k_values=[2, 3, 4], title="Blobs <&>")
    page = path.read_text(encoding="utf-8")
    assert page == written.html
    assert written.images == 6 and page.count("<img ") == 6
    assert page.count('src="data:image/png;base64,') == 6
    # No network: nothing is fetched from anywhere (no http(s) URL, no external src or href).
    assert not re.search(r"https?://", page) and not re.search(r'(src|href)="(?!data:)', page)
    assert "Blobs &lt;&amp;&gt;" in page
    for heading in ("Metrics", "Clusters", "Choosing k", "Plots", "Model", "Membership"):
        assert f"<h2>{heading}" in page
    assert written.metrics["silhouette"] == pytest.approx(fastkmeans.metrics.silhouette_score(X, model.labels_))
    assert written.selection.best_k == 3
    assert [c["size"] for c in written.clusters] == np.bincount(model.labels_).tolist()


@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed (make test installs Debian's "
                                                 "chromium where apt-get can)")
def test_report_renders_in_headless_chromium_with_every_image_loaded(fitted, tmp_path):
    X, model = fitted
    path = tmp_path / "report.html"
    report.write_report(model, X, path, k_values=[2, 3, 4])
    images, loaded, height = render(path, tmp_path)
    assert images == 6 and loaded == 6
    assert height > 2000  # tables and six plots laid out, not an empty or broken page


def test_report_from_a_saved_model_and_a_file(fitted, tmp_path):
    X, model = fitted
    model.save(tmp_path / "model.fkm")
    np.save(tmp_path / "data.npy", X)
    written = report.write_report(str(tmp_path / "model.fkm"), str(tmp_path / "data.npy"), tmp_path / "r.html",
                                  membership_rows=10)
    assert written.metrics["ssd"] == pytest.approx(model.inertia_, rel=1e-9)
    membership = written.html.split("<h2>Membership")[1]
    assert membership.count("<tr>") == 1 + 10  # the header and ten rows
    cells = re.findall(r'<td class="num">\d+</td><td class="num">([-\d.e+]+)</td></tr>', membership)
    distances = [float(d) for d in cells]
    assert len(distances) == 10 and distances == sorted(distances)  # the first cluster's rows, nearest first


def test_a_failed_report_leaves_no_file(fitted, tmp_path):
    X, model = fitted
    path = tmp_path / "report.html"
    with pytest.raises(ValueError, match="features"):
        report.write_report(model, X[:, :2], path)
    with pytest.raises(ValueError, match="row_names"):
        report.write_report(model, X, path, row_names=["a"])
    with pytest.raises(ValueError, match="fitted KMeans"):
        report.write_report(fastkmeans.KMeans(k=2), X, path)
    assert os.listdir(tmp_path) == []


def test_report_of_sparse_data(tmp_path):
    X = scipy.sparse.random(300, 20, density=0.3, format="csr", random_state=1)
    model = fastkmeans.KMeans(k=3, random_state=0).fit(X)
    written = report.write_report(model, X, tmp_path / "sparse.html")
    assert "calinski_harabasz" not in written.metrics and written.images == 4


def test_every_plot_draws_what_it_is_given(fitted):
    X, model = fitted
    labels, distances = model.assign(X)
    result = fastkmeans.select_k(X, [2, 3, 4], random_state=0, progress=False)
    figures = [plots.elbow(result), plots.silhouette_vs_k(result), plots.cluster_sizes(model.cluster_sizes_),
               plots.distance_histograms(distances, labels, 3),
               plots.silhouette_diagram(fastkmeans.metrics.silhouette_samples(X, labels), labels),
               plots.pca_scatter(X, labels, model.cluster_centers_)]
    for figure in figures:
        assert plots.png_bytes(figure)[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(figures[0].axes[0].lines[0].get_ydata()) == list(result.column("inertia"))
    bars = [patch.get_height() for patch in figures[2].axes[0].patches]
    assert bars == model.cluster_sizes_.tolist()
    assert sum(sum(p.get_height() for p in axes.patches) for axes in figures[3].axes) == len(X)


def test_pca_projection_keeps_the_largest_spread():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)) * [10.0, 1.0, 0.1]
    points, centres, rows = plots.pca_projection(X, X[:2])
    assert len(rows) == 500
    assert np.var(points[:, 0]) == pytest.approx(np.var(X[:, 0]), rel=0.05)
    np.testing.assert_allclose(centres, points[:2])


def test_outlier_scores_single_out_the_far_row():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(50, 5, (200, 2)), [[0.0, 12.0]]])
    model = fastkmeans.KMeans(k=2, random_state=0).fit(X[:400])
    scores = model.outlier_scores(X)
    assert scores[-1] > 5 and np.median(scores[:400]) == pytest.approx(1.0, abs=0.05)
    # The loose cluster's rows are not outliers for being far in absolute terms.
    assert (scores[200:400] < 4).all()
    with_reference = model.outlier_scores(X[-1:], reference=X[:400])
    assert with_reference[0] == pytest.approx(scores[-1], rel=0.05)
