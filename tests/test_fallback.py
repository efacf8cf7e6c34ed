"""The fallback guard: a rule that makes the loss rise hands over to its teacher."""

import warnings

import numpy as np
import pytest
from _broken import InfFrom, WreckAt, constant_learner
from sklearn.utils._param_validation import InvalidParameterError

from sk_metabp import BackpropMLPClassifier, LearnedRuleMLPClassifier
from sk_metabp._mlp import init_params, layer_sizes, train
from sk_metabp.datasets import make_boolean
from sk_metabp.rules import BackpropRule, FallbackRule, UpdateRule

RATE = 0.23


class _AscendFor(UpdateRule):
    """Backprop, but network ``k`` climbs the gradient (its loss rises)."""

    def __init__(self, k):
        self.k = k
        self.inner = BackpropRule(RATE)

    def start(self, step):
        self.inner.start(step)

    def __call__(self, step):
        dcoefs, dintercepts = self.inner(step)
        for d in [*dcoefs, *dintercepts]:
            d[self.k] *= -1
        return dcoefs, dintercepts


def _problem(seeds, hidden=(2,)):
    X, y = make_boolean("and")
    Y = y[:, None].astype(float)
    sizes = layer_sizes(2, hidden, 1)
    coefs, intercepts = init_params(sizes, [np.random.RandomState(s) for s in seeds])
    return X, Y, coefs, intercepts


def _params(coefs, intercepts, k):
    return np.concatenate([p[k].ravel() for p in [*coefs, *intercepts]])


def test_rising_network_restarts_from_its_best_epoch_with_backprop():
    seeds, tol, epochs = [1, 2], 0.1, 40
    X, Y, coefs, intercepts = _problem(seeds)
    rule = FallbackRule(_AscendFor(0), BackpropRule(RATE), tol)
    curves, n_iter, diverged, _ = train(coefs, intercepts, X, Y, rule, max_iter=epochs)
    e = int(rule.fell_back[0])
    assert e > 0 and rule.fell_back[1] == -1
    assert (diverged == -1).all() and (n_iter == epochs).all()
    # the epoch that fell back is the first whose loss rose past the tolerance
    first = curves[0, :e]
    assert first[-1] > (1 + tol) * first[:-1].min()
    assert all(first[i] <= (1 + tol) * first[:i].min() for i in range(1, e - 1))
    # network 1 never fell back: it is plain backprop
    X1, Y1, c1, i1 = _problem([seeds[1]])
    train(c1, i1, X1, Y1, BackpropRule(RATE), max_iter=epochs)
    np.testing.assert_allclose(
        _params(coefs, intercepts, 1), _params(c1, i1, 0), rtol=1e-12
    )
    # network 0: the climbing rule up to the start of its best epoch b, then
    # backprop for the epochs after the one that fell back
    b = int(np.argmin(first)) + 1
    X0, Y0, c0, i0 = _problem([seeds[0]])
    if b > 1:
        train(c0, i0, X0, Y0, _AscendFor(0), max_iter=b - 1)
    train(c0, i0, X0, Y0, BackpropRule(RATE), max_iter=epochs - e)
    np.testing.assert_allclose(
        _params(coefs, intercepts, 0), _params(c0, i0, 0), rtol=1e-10
    )


def test_non_finite_change_is_rescued_not_stopped():
    seeds = [3, 4]
    X, Y, coefs, intercepts = _problem(seeds)
    # step 9 is the second pattern of epoch 3
    rule = FallbackRule(
        InfFrom(0, at_step=9, learning_rate=RATE), BackpropRule(RATE), 0.25
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curves, n_iter, diverged, _ = train(coefs, intercepts, X, Y, rule, max_iter=10)
    np.testing.assert_array_equal(rule.fell_back, [3, -1])
    np.testing.assert_array_equal(diverged, [-1, -1])
    np.testing.assert_array_equal(n_iter, [10, 10])
    assert np.isfinite(curves[:, 3:]).all()
    for p in [*coefs, *intercepts]:
        assert np.isfinite(p).all()


@pytest.mark.parametrize("at_epoch", [0, 5])
def test_weights_wrecked_within_an_epoch_are_never_restored(at_epoch):
    # the rule throws network 0's weights to 1e300 at the second update of an
    # epoch: that epoch's loss still looks fine (its first pattern was measured
    # before), so the weights it ended with must not become the best
    seeds, epochs = [5, 6], 300
    X, Y, coefs, intercepts = _problem(seeds)
    wreck = WreckAt(0, at_step=4 * at_epoch + 1, learning_rate=RATE)
    rule = FallbackRule(wreck, BackpropRule(RATE), 0.25)
    curves, n_iter, diverged, _ = train(coefs, intercepts, X, Y, rule, max_iter=epochs)
    e = int(rule.fell_back[0])
    assert e > at_epoch and rule.fell_back[1] == -1
    assert (diverged == -1).all()
    assert np.abs(_params(coefs, intercepts, 0)).max() < 100
    # it went back to the weights its best epoch b (at most the wrecked one)
    # started with, backprop's from its seed after b - 1 epochs, then backprop
    b = int(np.argmin(curves[0, : e - 1])) + 1 if e > 1 else 1
    assert b <= at_epoch + 1
    X0, Y0, c0, i0 = _problem([seeds[0]])
    ref, *_ = train(c0, i0, X0, Y0, BackpropRule(RATE), max_iter=b - 1 + epochs - e)
    np.testing.assert_allclose(
        _params(coefs, intercepts, 0), _params(c0, i0, 0), rtol=1e-10
    )
    np.testing.assert_allclose(curves[0, e:], ref[0, b - 1 :], rtol=1e-10)


def test_a_rule_that_never_rises_is_untouched():
    seeds = [0, 1, 2]
    X, Y, coefs, intercepts = _problem(seeds, hidden=(1,))
    guarded = FallbackRule(BackpropRule(RATE), BackpropRule(RATE), 0.25)
    curves, *_ = train(coefs, intercepts, X, Y, guarded, max_iter=300)
    X, Y, c, i = _problem(seeds, hidden=(1,))
    plain, *_ = train(c, i, X, Y, BackpropRule(RATE), max_iter=300)
    assert (guarded.fell_back == -1).all()
    np.testing.assert_array_equal(curves, plain)
    for a, b in zip([*coefs, *intercepts], [*c, *i]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(5))
def test_classifier_falls_back_when_the_rule_saturates_the_network(seed):
    # every weight and bias grows by 0.05 per update: the output saturates
    # at 1 and the loss rises towards 3/8; the guard hands over to backprop
    X, y = make_boolean("and")
    params = dict(
        hidden_layer_sizes=(1,),
        learner=constant_learner(0.05),
        max_iter=3000,
        random_state=seed,
    )
    drifting = LearnedRuleMLPClassifier(**params).fit(X, y)
    guarded = LearnedRuleMLPClassifier(**params, on_divergence="fallback").fit(X, y)
    assert drifting.fallback_epoch_ == -1
    assert drifting.loss_ > 0.3
    assert 1 <= guarded.fallback_epoch_ < 100
    assert not guarded.diverged_ and guarded.n_iter_ == 3000
    assert guarded.loss_ < 0.05
    assert guarded.score(X, y) == 1.0


@pytest.mark.parametrize(
    "teacher",
    [
        None,
        dict(learning_rate_init=0.5, momentum=0.9),
        dict(solver="adam", learning_rate_init=0.1, fan_in_power=1.0),
    ],
    ids=["default", "momentum", "adam"],
)
def test_classifier_fallback_from_a_non_finite_first_epoch_is_the_teacher(teacher):
    # no epoch ended well: back to the initial weights, then 49 epochs of the
    # teacher's own rule with fresh state (backprop at 0.23 for the default
    # teacher; momentum or Adam, not plain backprop at their rate, for others)
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=constant_learner(1e308),
        teacher=None if teacher is None else BackpropMLPClassifier((1,), **teacher),
        max_update=None,
        on_divergence="fallback",
        max_iter=50,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    assert clf.fallback_epoch_ == 1 and not clf.diverged_
    params = teacher or dict(learning_rate_init=RATE)
    ref = BackpropMLPClassifier((1,), max_iter=49, random_state=0, **params)
    ref.fit(X, y)
    for a, b in zip([*clf.coefs_, *clf.intercepts_], [*ref.coefs_, *ref.intercepts_]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(clf.loss_curve_[1:], ref.loss_curve_, rtol=1e-12)
    if teacher is not None:
        plain = BackpropMLPClassifier(
            (1,), learning_rate_init=params["learning_rate_init"], max_iter=49
        )
        plain.set_params(random_state=0).fit(X, y)
        assert not np.allclose(clf.coefs_[0], plain.coefs_[0])


@pytest.mark.parametrize("seed", range(3))
def test_classifier_wrecked_in_its_first_epoch_falls_back_to_its_initial_weights(
    seed,
):
    # every change is 1e300: the first epoch's loss is finite (its first pattern
    # saw the initial weights) though its weights end near 4e300
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=constant_learner(1e300),
        max_update=None,
        on_divergence="fallback",
        max_iter=60,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    e = clf.fallback_epoch_
    assert e >= 1 and not clf.diverged_
    ref = BackpropMLPClassifier(
        (1,), learning_rate_init=RATE, max_iter=60 - e, random_state=seed
    ).fit(X, y)
    for a, b in zip([*clf.coefs_, *clf.intercepts_], [*ref.coefs_, *ref.intercepts_]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fallback_tol_must_be_positive():
    X, y = make_boolean("and")
    for tol in (0, -0.5):
        clf = LearnedRuleMLPClassifier(on_divergence="fallback", fallback_tol=tol)
        with pytest.raises(InvalidParameterError, match="fallback_tol"):
            clf.fit(X, y)
