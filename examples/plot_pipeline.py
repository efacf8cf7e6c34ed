"""
=======================================
A learned-rule classifier in a Pipeline
=======================================

:class:`~sk_metabp.LearnedRuleMLPClassifier` is a scikit-learn classifier, so
it goes into a :class:`~sklearn.pipeline.Pipeline` like any other. Sigmoid
networks trained by small online steps need inputs on a unit scale: here one
feature of the two moons is stretched 50 times and shifted, and a
:class:`~sklearn.preprocessing.StandardScaler` in front of the network undoes
that. The teacher that the learner imitates trains on the scaled data too,
since the whole of ``fit`` (record, fit the learner, train) runs inside the
pipeline's last step.

Run as a script: ``python plot_pipeline.py [folder]`` writes the figure into
``folder`` (a temporary folder by default). With ``SK_METABP_EXAMPLE_QUICK=1``
it runs tiny settings in a few seconds.
"""

import os
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import make_moons
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_metabp import BackpropMLPClassifier, LearnedRuleMLPClassifier

QUICK = os.environ.get("SK_METABP_EXAMPLE_QUICK") == "1"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
OUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 10 if QUICK else 100

# %%
# Data on very different scales
# -----------------------------
X, y = make_moons(200, noise=0.15, random_state=0)
X = X * [1.0, 50.0] + [0.0, 300.0]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# Three models
# ------------
# The learned rule with and without the scaler, and backprop with it.
models = {
    "learned rule, scaled": make_pipeline(
        StandardScaler(),
        LearnedRuleMLPClassifier(
            (4,), max_iter=EPOCHS, n_teacher_runs=2 if QUICK else 8, random_state=0
        ),
    ),
    "learned rule, raw inputs": LearnedRuleMLPClassifier(
        (4,), max_iter=EPOCHS, n_teacher_runs=2 if QUICK else 8, random_state=0
    ),
    "backprop, scaled": make_pipeline(
        StandardScaler(),
        BackpropMLPClassifier(
            (4,), learning_rate_init=0.23, max_iter=EPOCHS, random_state=0
        ),
    ),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(f"{name:26s} test accuracy {model.score(X_test, y_test):.0%}")

# %%
# Decision regions
# ----------------
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
for ax, (name, model) in zip(axes, models.items()):
    DecisionBoundaryDisplay.from_estimator(
        model, X, response_method="predict", alpha=0.3, ax=ax, cmap="coolwarm"
    )
    ax.scatter(*X_test.T, c=y_test, cmap="coolwarm", edgecolor="k", s=20)
    ax.set_title(f"{name}: {model.score(X_test, y_test):.0%} on the test set")
fig.savefig(OUT / "pipeline.png")
print(f"Figure in {OUT}")
