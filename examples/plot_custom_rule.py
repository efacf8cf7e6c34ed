"""
=============================================
A custom update rule, trained and recorded
=============================================

Every network in the library is trained by one loop, and an *update rule*
decides each change (:mod:`sk_metabp.rules`). Writing one takes a class with
``start`` (allocate buffers) and ``__call__`` (a state in, the changes out).
Here: sign-SGD, which steps every weight by a fixed size in the direction
backprop would move it. Trained on full batches of XOR's four patterns it
escapes the plateau where plain backprop stalls on a 2-3-1 network.

The rule trains students through the public student protocol
(``training_data``, ``train_students``), and an estimator that trains with it
is recorded by :class:`~sk_metabp.TrajectoryRecorder` like backprop, so a
learner can be fitted to imitate it.

Run as a script: ``python plot_custom_rule.py [folder]`` writes the figure into
``folder`` (a temporary folder by default). With ``SK_METABP_EXAMPLE_QUICK=1``
it runs tiny settings in a few seconds.
"""

import os
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sk_metabp import BackpropMLPClassifier, TrajectoryRecorder
from sk_metabp.datasets import make_boolean
from sk_metabp.rules import BackpropRule, UpdateRule

QUICK = os.environ.get("SK_METABP_EXAMPLE_QUICK") == "1"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
OUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 200 if QUICK else 2000

# %%
# The rule: backprop's direction, a fixed step
# --------------------------------------------
# ``step`` holds the state of K networks at one update; backprop's changes
# at rate 1 give the direction, and the rule writes its own changes into
# those buffers (the loop adds them to the weights).


class SignSGD(UpdateRule):
    def __init__(self, step_size):
        self.step_size = step_size

    def start(self, step):
        self.backprop = BackpropRule(1.0)
        self.backprop.start(step)

    def __call__(self, step):
        dcoefs, dintercepts = self.backprop(step)
        for d in [*dcoefs, *dintercepts]:
            np.sign(d, out=d)
            d *= self.step_size
        return dcoefs, dintercepts


class SignSGDClassifier(BackpropMLPClassifier):
    """A classifier trained by sign-SGD at ``learning_rate_init``."""

    def update_rule(self):
        return SignSGD(self.learning_rate_init)


# %%
# Train students with it, beside backprop
# ---------------------------------------
# ``train_students`` trains 8 networks in lockstep with any rule, here on
# full batches; ``students.estimator(k)`` is network k as a fitted classifier.

X, y = make_boolean("xor")
net = BackpropMLPClassifier((3,), learning_rate_init=0.9, batch_size=4, max_iter=EPOCHS)
data = net.training_data(X, y)
seeds = np.arange(8)
backprop = net.train_students(data, seeds)
signsgd = net.train_students(data, seeds, rule=SignSGD(0.005))
for name, students in (("backprop", backprop), ("sign-SGD", signsgd)):
    solved = sum(students.estimator(k).score(X, y) == 1.0 for k in range(len(seeds)))
    print(f"{name}: XOR solved in {solved} of {len(seeds)} runs")

# %%
# Record it, as the recorder records backprop
# -------------------------------------------
# In link mode each row is one connection's state and its change; the
# recorder samples online training, one pattern per update.

rec = TrajectoryRecorder(
    SignSGDClassifier((3,), learning_rate_init=0.005, max_iter=EPOCHS // 10),
    mode="link",
    n_runs=2,
    every=10,
    random_state=0,
)
frame = rec.record(X, y)
print(f"recorded {len(frame)} rows; changes take {np.unique(rec.targets_).size} values")

fig, ax = plt.subplots(figsize=(6, 4))
for name, students, color in (
    ("backprop", backprop, "C0"),
    ("sign-SGD", signsgd, "C3"),
):
    epochs = np.arange(1, students.loss_curves.shape[1] + 1)
    ax.plot(epochs, students.loss_curves.T, color=color, alpha=0.4)
    ax.plot([], [], color=color, label=name)
ax.set(
    xlabel="epoch", ylabel="J", yscale="log", title="XOR, 2-3-1, full batch, 8 seeds"
)
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "custom_rule.png", dpi=80)
print(f"wrote {OUT / 'custom_rule.png'}")
