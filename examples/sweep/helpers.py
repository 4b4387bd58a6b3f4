"""Data loading and training for the alpha sweep (kept apart so train_sweep.py stays short)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Data:
    """A train/test split of the diabetes data."""

    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any


def load_data(test_size: float = 0.2, seed: int = 0) -> Data:
    """Load scikit-learn's bundled diabetes data (no download) and split it."""
    X, y = load_diabetes(return_X_y=True)
    return Data(*train_test_split(X, y, test_size=test_size, random_state=seed))


def alphas(start: float = 0.0, stop: float = 1.0, step: float = 0.05) -> list[float]:
    """The alphas to try: 0.0, 0.05, …, 0.95 by default (rounded, so they print cleanly)."""
    count = round((stop - start) / step)
    return [round(start + i * step, 10) for i in range(count)]


def train(alpha: float, data: Data) -> tuple[Ridge, float]:
    """Fit a Ridge regression with *alpha*; return the model and its test mean squared error."""
    model = Ridge(alpha=alpha).fit(data.X_train, data.y_train)
    return model, float(mean_squared_error(data.y_test, model.predict(data.X_test)))
