"""Data for train.py: scikit-learn's bundled diabetes data set, split for training."""

from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split


def get_data():
    """Return (X_train, X_test, y_train, y_test): 80% to train on, 20% to test."""
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(X, y, test_size=0.2, random_state=0)
