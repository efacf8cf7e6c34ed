"""Learning to learn by imitation, as scikit-learn estimators.

Train small sigmoid networks with backprop while recording the training, fit a
regressor (the *learner*) that maps a network's state to its weight changes, then
train fresh networks with that learner in place of backprop.
"""

from .backprop import BackpropMLPClassifier, BackpropMLPRegressor
from .learned import LearnedRuleMLPClassifier
from .recorder import TrajectoryRecorder
from .refine import refine_learner

__all__ = [
    "BackpropMLPClassifier",
    "BackpropMLPRegressor",
    "TrajectoryRecorder",
    "LearnedRuleMLPClassifier",
    "refine_learner",
]
__version__ = "0.1.0"
