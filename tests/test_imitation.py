"""On-policy imitation: rollouts labelled by the teacher, and the DAgger loop."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import InvalidParameterError

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp.datasets import make_boolean
from sk_metabp.rules import BackpropRule, BoundedRule, FallbackRule

RATE = 0.23
X, y = make_boolean("and")
HISTORY = [
    "iteration",
    "rows",
    "teacher_error",
    "student_error",
    "final_loss",
    "fell_back",
]


def teacher(max_iter=30):
    return BackpropMLPClassifier((2,), learning_rate_init=RATE, max_iter=max_iter)


def small(**params):
    """A tiny learned classifier: 2 teacher runs, a 20-epoch learner."""
    defaults = dict(
        learner=BackpropMLPRegressor((16,), max_iter=20, random_state=0),
        n_teacher_runs=2,
        record_every=5,
        max_iter=40,
        random_state=0,
    )
    return LearnedRuleMLPClassifier((2,), **{**defaults, **params})


class Wild(RegressorMixin, BaseEstimator):
    """A learner whose every predicted change is 50: a rule that runs away."""

    def fit(self, X, y):
        self.n_outputs_ = np.asarray(y).reshape(len(y), -1).shape[1]
        self.n_features_in_ = np.asarray(X).shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def predict(self, X):
        return np.full((len(X), self.n_outputs_), 50.0)


# -- the recorder's rollouts ---------------------------------------------------


def _network_changes(row, rate):
    """Backprop's changes at a 2-2-1 network-mode row (variables w, b, x, ev)."""
    w1 = row[:4].reshape(2, 2)  # coefs[0] in C order: [input j, hidden i]
    w2 = row[4:6]
    b1, b2 = row[6:8], row[8]
    x, ev = row[9:11], row[11]
    h = expit(x @ w1 + b1)
    out = expit(w2 @ h + b2)
    d2 = (ev - out) * out * (1 - out)
    d1 = d2 * w2 * h * (1 - h)
    return rate * np.r_[np.outer(x, d1).ravel(), d2 * h, d1, d2]


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_rollout_rows_hold_the_teachers_change_at_the_state(mode):
    # the rollout trains at rate 1.0; the rows' targets must be the teacher's
    # (rate 0.23) change at the states the rollout reached, not the rollout's
    variables = {"network": ["w", "b", "x", "ev"], "link": ["w", "a", "delta"]}
    variables = variables.get(mode)
    target = "change" if mode == "link" else None
    rec = TrajectoryRecorder(
        teacher(),
        mode=mode,
        variables=variables,
        target=target,
        rollout=BackpropRule(1.0),
        n_runs=3,
        every=3,
        random_state=0,
        dtype=np.float64,
    ).fit(X, y)
    plain = TrajectoryRecorder(
        teacher(),
        mode=mode,
        variables=variables,
        target=target,
        n_runs=3,
        every=3,
        random_state=0,
        dtype=np.float64,
    ).fit(X, y)
    F, T = rec.features_, rec.targets_
    assert F.shape == plain.features_.shape and np.isfinite(F).all()
    # the same seeds, other states: the rollout went its own way
    assert not np.allclose(F, plain.features_)
    names = rec.feature_names_
    if mode == "network":
        expected = np.array([_network_changes(r, RATE) for r in F])
        np.testing.assert_allclose(T, expected, rtol=1e-9, atol=1e-12)
    elif mode == "link":
        # online backprop changes a link by rate * delta * a
        col = {n: F[:, names.index(n)] for n in ("delta", "a")}
        np.testing.assert_allclose(
            T[:, 0], RATE * col["delta"] * col["a"], rtol=1e-9, atol=1e-12
        )
    else:
        # the hidden delta of rule (6): f'(in) times the back-propagated error
        col = {n: F[:, names.index(n)] for n in ("fp", "back")}
        np.testing.assert_allclose(
            T[:, 0], col["fp"] * col["back"], rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_rollouts_made_by_the_teacher_are_the_teachers_recording(mode):
    # teacher_share=1: every update is the teacher's, so the rows are exactly
    # those of the plain recording, whatever the rollout rule would do
    common = dict(mode=mode, n_runs=2, every=4, random_state=3)
    plain = TrajectoryRecorder(teacher(), **common).fit(X, y)
    mixed = TrajectoryRecorder(
        teacher(), rollout=BackpropRule(5.0), teacher_share=1.0, **common
    ).fit(X, y)
    np.testing.assert_array_equal(mixed.features_, plain.features_)
    np.testing.assert_array_equal(mixed.targets_, plain.targets_)
    # a share in between lies between the two
    half = TrajectoryRecorder(
        teacher(), rollout=BackpropRule(5.0), teacher_share=0.5, **common
    ).fit(X, y)
    assert not np.array_equal(half.features_, plain.features_)


def test_a_runaway_rollout_is_guarded_and_finite():
    class Runaway(BackpropRule):
        def __call__(self, step):
            dcoefs, dintercepts = super().__call__(step)
            for d in [*dcoefs, *dintercepts]:
                d += 3.0
            return dcoefs, dintercepts

    guarded = FallbackRule(BoundedRule(Runaway(RATE), 0.5), BackpropRule(RATE), 0.25)
    rec = TrajectoryRecorder(
        teacher(60), rollout=guarded, n_runs=4, every=2, random_state=0
    ).fit(X, y)
    assert np.isfinite(rec.features_).all() and np.isfinite(rec.targets_).all()
    # every run's loss rose, so every run fell back, within a few epochs
    assert (rec.fell_back_ >= 1).all() and (rec.fell_back_ <= 10).all()
    assert (rec.diverged_ == -1).all()
    # the bound holds every step: no weight went further than its epochs allow
    w = rec.features_[:, : 6 + 3]
    assert np.abs(w).max() < 0.5 * 4 * 10 + 2


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(rollout="backprop"), TypeError, "rollout must be an update rule"),
        (
            dict(rollout=BackpropRule(RATE), teacher_share=1.5),
            ValueError,
            "teacher_share must be a number in",
        ),
        (dict(teacher_share=-0.1), ValueError, "teacher_share must be a number in"),
    ],
)
def test_recorder_refuses_bad_rollout_parameters(params, error, message):
    with pytest.raises(error, match=message):
        TrajectoryRecorder(teacher(), **params).fit(X, y)


# -- the classifier's on-policy imitation ----------------------------------------


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(imitation="dagger!"), "imitation"),
        (dict(imitation_iter=0), "imitation_iter"),
        (dict(n_rollouts=0), "n_rollouts"),
        (dict(teacher_share=1.5), "teacher_share"),
        (dict(imitation_scaling="robust"), "imitation_scaling"),
    ],
)
def test_imitation_parameters_are_validated(params, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        small(**{"imitation": "dagger", **params}).fit(X, y)


def test_teacher_scaling_needs_a_learner_with_warm_start():
    clf = small(
        learner=LinearRegression(),
        mode="link",
        imitation="dagger",
        imitation_scaling="teacher",
        imitation_iter=1,
        n_rollouts=1,
    )
    with pytest.raises(ValueError, match="has no warm_start"):
        clf.fit(X, y)


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_history_has_a_row_per_round(mode):
    clf = small(mode=mode, imitation="dagger", imitation_iter=2, n_rollouts=3)
    clf.fit(X, y)
    history = clf.imitation_history_
    assert isinstance(history, pd.DataFrame)
    assert list(history.columns) == HISTORY
    assert history["iteration"].tolist() == [0, 1, 2]
    # each round adds the rows of n_rollouts runs: as many as 3 teacher runs
    teacher_rows = len(clf.recorder_.features_)
    per_run = teacher_rows // clf.n_teacher_runs
    assert history["rows"].tolist() == [
        teacher_rows,
        teacher_rows + 3 * per_run,
        teacher_rows + 6 * per_run,
    ]
    numbers = history[HISTORY[2:]].to_numpy()
    assert np.isfinite(numbers).all() and (numbers >= 0).all()
    assert clf.learner_.n_features_in_ == clf.mode_.n_features
    assert clf.score(X, y) >= 0.5


def test_teacher_imitation_is_unchanged_by_the_imitation_parameters():
    plain = small().fit(X, y)
    other = small(
        imitation="teacher", imitation_iter=5, n_rollouts=2, teacher_share=0.5
    ).fit(X, y)
    assert plain.imitation_history_ is None and other.imitation_history_ is None
    for a, b in zip(plain.coefs_ + plain.intercepts_, other.coefs_ + other.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scaling", ["clip", "teacher", "none"])
def test_a_wild_learners_rollouts_fall_back_and_stay_finite(scaling):
    clf = small(
        learner=Wild()
        if scaling != "teacher"
        else BackpropMLPRegressor(
            (4,), max_iter=2, learning_rate_init=5.0, random_state=0
        ),
        imitation="dagger",
        imitation_iter=1,
        n_rollouts=4,
        imitation_scaling=scaling,
        max_iter=60,
    )
    with np.errstate(all="ignore"):
        clf.fit(X, y)
    history = clf.imitation_history_
    assert np.isfinite(history["final_loss"]).all()
    if scaling != "teacher":
        # a change of 50 clipped to max_update=1 raises the loss at once
        assert (history["fell_back"] == 1.0).all()


def test_clip_keeps_the_learners_scaling_within_the_teachers_rows():
    # the wild learner's rollouts reach weights far from the teacher's; with
    # clipping the refitted learner's inputs stay in the teacher rows' range
    seen = {}

    class Spy(BackpropMLPRegressor):
        def fit(self, X, y, sample_weight=None):
            seen.setdefault("fits", []).append(np.asarray(X).copy())
            return super().fit(X, y, sample_weight)

    clf = small(
        learner=Spy((4,), max_iter=2, learning_rate_init=5.0, random_state=0),
        imitation="dagger",
        imitation_iter=1,
        n_rollouts=4,
        max_iter=60,
    )
    with np.errstate(all="ignore"):
        clf.fit(X, y)
    first, second = seen["fits"]
    assert len(second) > len(first)
    np.testing.assert_array_less(second.max(axis=0), first.max(axis=0) + 1e-6)
    np.testing.assert_array_less(first.min(axis=0) - 1e-6, second.min(axis=0))


def test_a_frozen_learner_is_not_refitted_on_policy():
    from sklearn.frozen import FrozenEstimator

    fitted = small(mode="link").fit(X, y).learner_
    clf = small(mode="link", learner=FrozenEstimator(fitted), imitation="dagger")
    with pytest.raises(ValueError, match="FrozenEstimator is used as it is"):
        clf.fit(X, y)


def test_rollouts_are_bounded_without_max_update():
    # max_update=None leaves the student unbounded, but not its rollouts: the
    # wild learner's change of 50 per step is cut to 1.0, so the rollout rows'
    # weights stay within a few epochs' worth of steps
    seen = {}

    class Spy(Wild):
        def fit(self, X, y):
            seen.setdefault("fits", []).append(np.asarray(X).copy())
            return super().fit(X, y)

    clf = small(
        learner=Spy(),
        imitation="dagger",
        imitation_iter=1,
        n_rollouts=2,
        imitation_scaling="none",
        max_update=None,
        max_iter=20,
    )
    with np.errstate(all="ignore"):
        clf.fit(X, y)
    weights = seen["fits"][1][len(seen["fits"][0]) :, :9]
    assert np.isfinite(weights).all()
    assert np.abs(weights).max() <= 4 * 10 + 2
