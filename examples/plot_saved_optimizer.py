"""
=====================================
A learned optimizer, saved and reused
=====================================

A fitted learner is an ordinary scikit-learn regressor: save it with joblib,
load it elsewhere, and wrap it in :class:`sklearn.frozen.FrozenEstimator` so
that :class:`~sk_metabp.LearnedRuleMLPClassifier` uses it as it is, skipping
the recording and the learner's fit, and only trains a new network with it.

A learner in the paper's ``network`` mode reads the whole network at once, so
it serves one topology only; asked to train another, the classifier refuses
with a message naming both layouts.

Run as a script: ``python plot_saved_optimizer.py [folder]`` writes the saved
learner and the figure into ``folder`` (a temporary folder by default). With
``SK_METABP_EXAMPLE_QUICK=1`` it runs tiny settings in a few seconds.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
from sklearn.frozen import FrozenEstimator

from sk_metabp import BackpropMLPClassifier, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean
from sk_metabp.plotting import TrainingCurveDisplay

QUICK = os.environ.get("SK_METABP_EXAMPLE_QUICK") == "1"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
OUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 300 if QUICK else 5000

# %%
# Learn the optimizer once
# ------------------------
# The paper's experiment 1: AND on a 2-1-1 network. ``fit`` records backprop,
# fits the learner (``learner_``) and trains one network with it.
X, y = make_boolean("and")
clf = LearnedRuleMLPClassifier(
    (1,), max_iter=EPOCHS, n_teacher_runs=2 if QUICK else 8, random_state=0
).fit(X, y)
path = OUT / "and_rule.joblib"
joblib.dump(clf.learner_, path)
print(f"learner ({clf.layout_}) saved to {path}, {path.stat().st_size:,} bytes")

# %%
# Load it and train new networks
# ------------------------------
# Networks from new seeds, trained by the loaded rule and, for comparison, by
# backprop from the same seeds (hence the same initial weights).
rule = joblib.load(path)
seeds = range(1, 3 if QUICK else 6)
learned, backprop = [], []
start = time.perf_counter()
for seed in seeds:
    net = LearnedRuleMLPClassifier(
        (1,), learner=FrozenEstimator(rule), max_iter=EPOCHS, random_state=seed
    )
    learned.append(net.fit(X, y))
t_learned = time.perf_counter() - start
start = time.perf_counter()
for seed in seeds:
    net = BackpropMLPClassifier(
        (1,), learning_rate_init=0.23, max_iter=EPOCHS, random_state=seed
    )
    backprop.append(net.fit(X, y))
t_backprop = time.perf_counter() - start
for name, nets, t in (
    ("loaded rule", learned, t_learned),
    ("backprop", backprop, t_backprop),
):
    finals = ", ".join(f"{n.loss_:.1e}" for n in nets)
    accs = ", ".join(f"{n.score(X, y):.0%}" for n in nets)
    print(f"{name:12s} final J {finals}; accuracy {accs}; {t:.2f} s")

# %%
# The rule serves its own topology only
# -------------------------------------
# A 2-4-1 network has other weights than the rule was fitted on.
try:
    LearnedRuleMLPClassifier((4,), learner=FrozenEstimator(rule), max_iter=5).fit(X, y)
except ValueError as exc:
    print("refused:", exc)

# %%
# Training curves
# ---------------
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
TrainingCurveDisplay.from_estimator(backprop, ax=ax)
TrainingCurveDisplay.from_estimator(learned, name="learned", ax=ax)
ax.set_title(f"AND, 2-1-1: {len(learned)} new seeds, median and quartiles")
fig.savefig(OUT / "saved_optimizer.png")
print(f"Figure in {OUT}")
