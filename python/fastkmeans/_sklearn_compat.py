"""scikit-learn's estimator bases when scikit-learn is installed, minimal stand-ins otherwise.

scikit-learn is an optional dependency (as for LightGBM and XGBoost): with it, KMeans is a real
``BaseEstimator`` (clone, Pipeline, GridSearchCV, check_estimator); without it, the stand-ins
below give the same get_params / set_params / fit_predict / fit_transform behaviour.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List

try:
    from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
except ImportError:  # pragma: no cover - exercised in the no-sklearn CI job

    class BaseEstimator:  # type: ignore[no-redef]
        """get_params / set_params from the constructor's signature, like scikit-learn's."""

        @classmethod
        def _get_param_names(cls) -> List[str]:
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values() if p.name != "self")

        def get_params(self, deep: bool = True) -> Dict[str, Any]:
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params: Any) -> BaseEstimator:
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                                     f"Valid parameters are: {valid}.")
                setattr(self, name, value)
            return self

        def __repr__(self) -> str:
            defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
            changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                       if defaults.get(k) is not v and (hasattr(v, "shape") or defaults.get(k) != v)]
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClusterMixin:  # type: ignore[no-redef]
        """fit_predict as ``fit(X).labels_``."""

        def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
            return self.fit(X, **kwargs).labels_  # type: ignore[attr-defined]

    class TransformerMixin:  # type: ignore[no-redef]
        """fit_transform as ``fit(X).transform(X)``."""

        def fit_transform(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
            return self.fit(X, **kwargs).transform(X)  # type: ignore[attr-defined]

__all__ = ["BaseEstimator", "ClusterMixin", "TransformerMixin"]
