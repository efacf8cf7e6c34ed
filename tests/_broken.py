"""Broken learners and update rules for the tests of the stability guards."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.frozen import FrozenEstimator

from sk_metabp import BackpropMLPClassifier
from sk_metabp.datasets import make_boolean
from sk_metabp.recorder import TrajectoryRecorder
from sk_metabp.rules import BackpropRule, UpdateRule


class ConstantRegressor(RegressorMixin, BaseEstimator):
    """A broken learner: every change it predicts is ``value``."""

    def __init__(self, value=1e308):
        self.value = value

    def fit(self, X, y):
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = np.asarray(X).shape[1]
        self.n_outputs_ = np.asarray(y).reshape(len(X), -1).shape[1]
        return self

    def predict(self, X):
        return np.full((np.asarray(X).shape[0], self.n_outputs_), self.value)


def constant_learner(value=1e308, mode="network"):
    """A frozen ConstantRegressor fitted for the rows of AND's 2-1-1 network."""
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(BackpropMLPClassifier((1,), max_iter=1), mode=mode)
    rec.fit(X, y)
    frame = rec.to_frame()
    return FrozenEstimator(
        ConstantRegressor(value).fit(
            frame[rec.feature_names_], frame[rec.target_names_]
        )
    )


class InfFrom(UpdateRule):
    """Backprop, except network ``k`` gets an infinite change from ``at_step``."""

    def __init__(self, k, at_step, learning_rate=0.5):
        self.inner = BackpropRule(learning_rate)
        self.k, self.at_step = k, at_step

    def start(self, step):
        self.inner.start(step)

    def __call__(self, step):
        dcoefs, dintercepts = self.inner(step)
        if step.step >= self.at_step:
            dcoefs[0][self.k] = np.inf
        return dcoefs, dintercepts


class WreckAt(InfFrom):
    """Backprop, except network ``k``'s parameters get +1e300 at ``at_step``."""

    def __call__(self, step):
        dcoefs, dintercepts = self.inner(step)
        if step.step == self.at_step:
            for d in [*dcoefs, *dintercepts]:
                d[self.k] = 1e300
        return dcoefs, dintercepts
