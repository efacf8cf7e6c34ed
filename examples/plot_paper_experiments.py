"""
========================================
Reproducing the paper's four experiments
========================================

The paper trains a *learning network* to imitate backprop and then trains
fresh networks with it, in four experiments: AND on a 2-1-1 network, AND
without a hidden layer, OR on 2-4-1, and the inner-square task on 2-5-2. It
reports single runs. Here each experiment is repeated over several learner fits
and seeds with :func:`sk_metabp.experiments.run_experiments`, which also gives
each claim of the paper a verdict.

Run as a script: ``python plot_paper_experiments.py [folder]`` writes the
figures into ``folder`` (a temporary folder by default). With
``SK_METABP_EXAMPLE_QUICK=1`` it runs tiny settings in a few seconds.
"""

import os
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from sk_metabp.experiments import EXPERIMENTS, format_summary, run_experiments
from sk_metabp.plotting import LearnerErrorDisplay, SquaresDisplay, TrainingCurveDisplay

QUICK = os.environ.get("SK_METABP_EXAMPLE_QUICK") == "1"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
OUT.mkdir(parents=True, exist_ok=True)

# %%
# The experiments as data
# -----------------------
# Each experiment is a frozen dataclass: task, basic network, the teacher's
# settings, the sampled variables, the paper's learning network and its claim.
# ``describe_settings`` marks which values the paper gives and which are this
# library's choices.
for e in EXPERIMENTS.values():
    print(f"{e.name}: {e.title}, learning network {e.paper_learning_network}")
    print(f"  claim ({e.expected}): {e.claim}")
    print(f"  {e.describe_settings()}")

# %%
# Run them over seeds
# -------------------
# Three independent fits of each experiment's learner (the default 32-unit
# learner; each fit records its own teacher runs), each with its own seeds
# trained with backprop and with the learned rule.
rep = run_experiments(n_seeds=2 if QUICK else 8, quick=QUICK, verbose=True)
print(format_summary(rep.summary))

# %%
# The learners' training error and the networks they train
# ---------------------------------------------------------
# Top row: each fit's learner error while it learns to imitate backprop (the
# paper's Figs 4, 6, 8 and 10). Bottom row: the error J of networks trained by
# backprop and by the learned rule, median and quartiles over the seeds of all
# fits (Figs 5, 7, 9 and 11).
fig, axes = plt.subplots(2, 4, figsize=(18, 7), layout="constrained")
for i, e in enumerate(rep.experiments):
    curves = rep.learner_curves
    for fit, curve in curves[curves["experiment"] == e.name].groupby("fit"):
        LearnerErrorDisplay.from_results(
            curve, e.name, ax=axes[0, i], name=f"fit {fit}", color=f"C{2 + fit}"
        )
    TrainingCurveDisplay.from_results(rep, e.name, ax=axes[1, i], title=e.title)
    verdict = rep.summary.set_index("experiment").loc[e.name, "verdict"]
    axes[1, i].set_xlabel(f"epoch  (verdict on the claim: {verdict})")
fig.savefig(OUT / "paper_experiments.png")

# %%
# The square task (the paper's Fig. 12)
# -------------------------------------
squares = next(e for e in rep.experiments if e.task == "squares")
X_train, y_train, X_test, y_test = squares.load_data()
disp = SquaresDisplay.from_data(X_train, y_train, X_test, y_test)
disp.figure_.savefig(OUT / "squares_data.png")
print(f"Figures in {OUT}")
