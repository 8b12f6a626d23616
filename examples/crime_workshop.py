"""Example (b): the US state crime-data workshop.

Two real data sets from ../shared/data: statsmodels' statecrime (2009: violent crime and murder
rates, high-school graduation, poverty, single parents, white population, urbanisation for the 50
states and DC) and R's USArrests (1973: murder, assault and rape arrests per 100,000, urban
population). Each is scaled feature by feature to [-1, 1], clustered, and shown as the workshop
shows it: the membership table sorted by cluster and by distance to the centre, the cluster
sizes as a chart, and k chosen from a sweep. Charts and an HTML report go to the output folder.

    python examples/crime_workshop.py [OUTPUT_FOLDER] [DATA_FOLDER]
"""

import csv
import sys
from pathlib import Path

import numpy as np

import fastkmeans
from fastkmeans import plots, report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_states(path: Path):
    """State names and the numeric columns of a CSV whose first column names the state."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    return [row[0] for row in body], header[1:], np.array([[float(v) for v in row[1:]] for row in body])


def scale(X: np.ndarray) -> np.ndarray:
    """Each feature mapped linearly onto [-1, 1] (scikit-learn's MinMaxScaler(feature_range=(-1, 1)))."""
    low, high = X.min(axis=0), X.max(axis=0)
    return 2 * (X - low) / np.where(high > low, high - low, 1) - 1


def workshop(name: str, path: Path, k: int, output: Path) -> dict:
    states, features, raw = read_states(path)
    X = scale(raw)
    # SageMaker's algorithm, as the workshop trained it (one mini-batch holds every state).
    sweep = fastkmeans.select_k(X, range(2, 8), random_state=0, progress=False, epochs=10)
    model = fastkmeans.KMeans(k=k, feature_dim=len(features), epochs=10, random_state=0).fit(X)
    closest, distance = model.assign(X)
    order = np.lexsort((distance, closest))
    print(f"\n{name}: {len(states)} states x {len(features)} features ({', '.join(features)}), scaled to [-1, 1]")
    print(f"  k sweep 2..7: best k = {sweep.best_k} by {sweep.rule}; every rule: {sweep.choices}; using k = {k}")
    print(f"  {'state':<22}{'cluster':>8}{'distance':>10}")
    for i in order:
        print(f"  {states[i]:<22}{closest[i]:>8}{distance[i]:>10.4f}")
    print(f"  cluster sizes: {model.cluster_sizes_.tolist()}")
    for c in range(k):  # each cluster's mean in the original units, to read the clusters
        members = raw[closest == c]
        print(f"  cluster {c}: " + ", ".join(f"{f} {v:.1f}" for f, v in zip(features, members.mean(axis=0))))
    plots.save(plots.cluster_sizes(model.cluster_sizes_), output / f"{name}_cluster_sizes.png")
    report.write_report(model, X, output / f"{name}_report.html", title=f"{name}: k-means on the US states",
                        row_names=states, selection=sweep)
    print(f"  chart: {output / f'{name}_cluster_sizes.png'}; report: {output / f'{name}_report.html'}")
    return {"model": model, "states": states, "order": order, "sweep": sweep}


def main(output: Path, data: Path = DATA) -> dict:
    output.mkdir(parents=True, exist_ok=True)
    return {
        "statecrime": workshop("statecrime", data / "statecrime" / "statecrime.csv", 4, output),
        "usarrests": workshop("usarrests", data / "usarrests" / "USArrests.csv", 4, output),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "output" / "crime_workshop",
         Path(sys.argv[2]) if len(sys.argv) > 2 else DATA)
