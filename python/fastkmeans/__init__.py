"""fastkmeans: SageMaker's web-scale k-means, locally, fast.

A drop-in replacement for Amazon SageMaker's built-in K-Means: the same hyperparameter names and
defaults, the same mini-batch ("web-scale") algorithm with SageMaker's K -> k reduction, computed by
a multithreaded Rust core. ``KMeans`` is also a scikit-learn estimator.
"""

from fastkmeans import metrics, sagemaker
from fastkmeans._hyperparameters import HyperparameterError
from fastkmeans._identity import distribution_version
from fastkmeans._kmeans import KMeans
from fastkmeans._persist import load
from fastkmeans._training import Reduction, reduce_centers
from fastkmeans._validation import NotFittedError
from fastkmeans.select import SelectKResult, select_k

__version__ = distribution_version()
"""The version of the installed distribution (``fastkmeans._identity.DISTRIBUTION`` on PyPI)."""

__all__ = ["HyperparameterError", "KMeans", "NotFittedError", "Reduction", "SelectKResult", "__version__", "load",
           "metrics", "reduce_centers", "sagemaker", "select_k"]
