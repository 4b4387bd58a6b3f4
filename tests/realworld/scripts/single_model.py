"""
===============================================
A random forest on a synthetic classification
===============================================

One model, fitted once and evaluated on held-out data.
"""

from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

X, y = make_classification(n_samples=300, n_features=10, random_state=3)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=3)
forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=3)
forest.fit(X_train, y_train)
print(f"Test accuracy: {accuracy_score(y_test, forest.predict(X_test)):.3f}")
