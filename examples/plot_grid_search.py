"""
=======================================
Grid search at both levels of the model
=======================================

Learning to learn has two levels, and both are ordinary scikit-learn
estimators:

1. the *learner*, a regressor from a network's state to its weight changes,
   fitted on a recorded backprop run; it can be cross-validated on the
   recording like any regressor, grouping rows by run so that no run is in
   both the training and the validation folds;
2. the *network trained by the learner*, a classifier: a grid search over
   the learner's settings (``learner__hidden_layer_sizes``) judges each
   learner by the networks it trains.

Run as a script: ``python plot_grid_search.py [folder]`` writes the figure
into ``folder`` (a temporary folder by default). With
``SK_METABP_EXAMPLE_QUICK=1`` it runs tiny settings in a few seconds.
"""

import os
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp.datasets import make_boolean

QUICK = os.environ.get("SK_METABP_EXAMPLE_QUICK") == "1"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
OUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 200 if QUICK else 1000
HIDDEN = [(2,), (8,)] if QUICK else [(2,), (8,), (32,)]

# %%
# Level 1: cross-validate the learner on a recording
# --------------------------------------------------
# Record 8 backprop runs of the paper's experiment 1 (AND on a 2-1-1
# network), one update in 10. Each row is the network's state (weights,
# biases, inputs, output, expected value) and backprop's change of every
# weight and bias.
X, y = make_boolean("and")
teacher = BackpropMLPClassifier((1,), learning_rate_init=0.23, max_iter=EPOCHS)
rec = TrajectoryRecorder(teacher, n_runs=4 if QUICK else 8, every=10, random_state=0)
traj = rec.record(X, y)
states, changes, runs = traj[rec.feature_names_], traj[rec.target_names_], traj["run"]
print(f"{len(traj)} recorded updates, {states.shape[1]} state variables")

level1 = GridSearchCV(
    BackpropMLPRegressor(
        learning_rate_init=0.02, max_iter=10 if QUICK else 60, random_state=0
    ),
    {"hidden_layer_sizes": HIDDEN},
    cv=GroupKFold(n_splits=4),
).fit(states, changes, groups=runs)
for h, score in zip(HIDDEN, level1.cv_results_["mean_test_score"]):
    print(f"learner hidden {h}: R^2 on held-out runs {score:.3f}")


# %%
# Level 2: judge learners by the networks they train
# --------------------------------------------------
# The estimator searched is the learned-rule classifier: every fit records a
# teacher, fits a learner with the candidate settings, and trains a fresh
# network with it. The paper judges its networks on the four training
# patterns, so the single "split" trains and scores on all of them, and the
# score is the trained network's final error J (negated: higher is better).
def final_error(estimator, X, y):
    return -estimator.loss_


learned = LearnedRuleMLPClassifier(
    (1,),
    learner=BackpropMLPRegressor(
        learning_rate_init=0.02, max_iter=10 if QUICK else 200, random_state=0
    ),
    n_teacher_runs=4 if QUICK else 8,
    max_iter=EPOCHS,
    random_state=0,
)
everything = np.arange(len(X))
level2 = GridSearchCV(
    learned,
    {"learner__hidden_layer_sizes": HIDDEN},
    cv=[(everything, everything)],
    scoring=final_error,
).fit(X, y)
for h, score in zip(HIDDEN, level2.cv_results_["mean_test_score"]):
    print(f"learner hidden {h}: the network it trains ends at J = {-score:.2e}")
print("best learner:", level2.best_params_)

# %%
# Both levels side by side
# ------------------------
# Does the learner that imitates backprop best (level 1) also train the best
# network (level 2)? Small errors of imitation can add up over thousands of
# updates, so the two rankings need not agree.
labels = [str(h[0]) for h in HIDDEN]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax1.bar(labels, level1.cv_results_["mean_test_score"], color="C2")
ax1.set_xlabel("learner hidden units")
ax1.set_ylabel("R^2 on held-out runs (GroupKFold)")
ax1.set_title("level 1: imitating backprop")
ax2.bar(labels, -level2.cv_results_["mean_test_score"], color="C3")
ax2.set_yscale("log")
ax2.set_xlabel("learner hidden units")
ax2.set_ylabel(f"J of the trained network after {EPOCHS} epochs")
ax2.set_title("level 2: training a fresh network")
fig.savefig(OUT / "grid_search.png")
print(f"Figure in {OUT}")
