"""fastkmeans: SageMaker's web-scale k-means, locally, fast.

A drop-in replacement for Amazon SageMaker's built-in K-Means: the same hyperparameter names and
defaults, the same mini-batch ("web-scale") algorithm with SageMaker's K -> k reduction, computed by
a multithreaded Rust core. ``KMeans`` is also a scikit-learn estimator.
"""

from importlib.metadata import PackageNotFoundError, version

from fastkmeans import metrics, sagemaker
from fastkmeans._hyperparameters import HyperparameterError
from fastkmeans._kmeans import KMeans
from fastkmeans._persist import load
from fastkmeans._training import Reduction, reduce_centers
from fastkmeans._validation import NotFittedError
from fastkmeans.select import SelectKResult, select_k

try:
    __version__ = version("fastkmeans")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["HyperparameterError", "KMeans", "NotFittedError", "Reduction", "SelectKResult", "__version__", "load",
           "metrics", "reduce_centers", "sagemaker", "select_k"]
