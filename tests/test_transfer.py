"""Local rules across shapes: normalised link features and targets, transfer."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp._mlp import init_params, train
from sk_metabp._modes import LINK_TARGETS, LinkMode, make_mode
from sk_metabp.datasets import make_boolean
from sk_metabp.rules import BackpropRule

NORMALISED = ["w", "a_n", "delta_n", "err_n", "log_scale", "is_bias", "is_output"]
RATE = 0.23


def _inspect_steps(sizes, inspect, n_steps=3, K=2, seed=0):
    """Call ``inspect(step, dcoefs, dintercepts)`` at backprop's first updates."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n_steps, sizes[0]))
    Y = rng.uniform(size=(n_steps, sizes[-1]))
    coefs, intercepts = init_params(
        sizes, [np.random.RandomState(seed + k) for k in range(K)]
    )
    train(coefs, intercepts, X, Y, BackpropRule(RATE), max_iter=1, callback=inspect)


def _n_layers(mode):
    return len(mode.sizes) - 1


def _layer_rms(mode, values):
    """rms over each layer's rows of (K, n_params) values: shape (K, L)."""
    layers = mode._row_layer
    return np.stack(
        [
            np.sqrt(np.mean(values[:, layers == l] ** 2, axis=1))
            for l in range(_n_layers(mode))
        ],
        axis=1,
    )


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "variables, target",
    [
        (None, "change"),
        (NORMALISED, "change"),
        (NORMALISED, "scaled"),
        (NORMALISED, "residual"),
        (NORMALISED, "residual_odd"),
    ],
)
def test_link_learner_from_2_1_1_trains_iris_4_5_3(variables, target):
    X, y = make_boolean("and")
    learner = (
        LearnedRuleMLPClassifier(
            (1,),
            learner=BackpropMLPRegressor((8,), max_iter=20, random_state=0),
            mode="link",
            variables=variables,
            target=target,
            n_teacher_runs=2,
            max_iter=100,
            random_state=0,
        )
        .fit(X, y)
        .learner_
    )
    Xi, yi = _iris()
    clf = LearnedRuleMLPClassifier(
        (5,),
        learner=FrozenEstimator(learner),
        mode="link",
        variables=variables,
        target=target,
        max_iter=5,
        on_divergence="raise",
        random_state=0,
    ).fit(Xi, yi)
    assert [c.shape for c in clf.coefs_] == [(4, 5), (5, 3)]
    assert all(np.isfinite(a).all() for a in [*clf.coefs_, *clf.intercepts_])
    assert len(clf.loss_curve_) == 5 and np.isfinite(clf.loss_curve_).all()


@pytest.mark.parametrize("sizes", [[2, 1, 1], [30, 4, 1], [4, 5, 3], [3, 4, 2, 2]])
def test_zero_residual_is_exactly_backprops_change(sizes):
    mode = LinkMode(sizes, NORMALISED, learning_rate=RATE, target="residual")
    layout = mode.layout
    seen = []

    def inspect(step, dcoefs, dintercepts):
        out = np.full((step.n_networks, layout.n_params), np.nan)
        zeros = np.zeros((step.n_networks, layout.n_params, 1))
        mode.changes(step, zeros, out)
        np.testing.assert_array_equal(out, layout.flatten(dcoefs, dintercepts))
        # and backprop's own residual target is zero
        np.testing.assert_array_equal(mode.targets(step, dcoefs, dintercepts), 0.0)
        seen.append(1)

    _inspect_steps(sizes, inspect)
    assert len(seen) == 3


def test_zero_residual_learner_trains_exactly_as_backprop():
    X, y = make_boolean("xor")
    zero = DummyRegressor(strategy="constant", constant=[0.0]).fit(
        np.zeros((2, len(NORMALISED))), np.zeros(2)
    )
    common = dict(max_iter=30, random_state=3)
    student = LearnedRuleMLPClassifier(
        (3,),
        learner=FrozenEstimator(zero),
        mode="link",
        variables=NORMALISED,
        target="residual",
        max_update=None,
        **common,
    ).fit(X, y)
    teacher = BackpropMLPClassifier((3,), learning_rate_init=RATE, **common).fit(X, y)
    for a, b in zip(
        [*student.coefs_, *student.intercepts_], [*teacher.coefs_, *teacher.intercepts_]
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(student.loss_curve_, teacher.loss_curve_)


def _train_xor(learner, target):
    X, y = make_boolean("xor")
    return LearnedRuleMLPClassifier(
        (3,),
        learner=FrozenEstimator(learner),
        mode="link",
        variables=NORMALISED,
        target=target,
        max_update=None,
        max_iter=30,
        random_state=3,
    ).fit(X, y)


def _params(clf):
    return np.concatenate([p.ravel() for p in [*clf.coefs_, *clf.intercepts_]])


def test_odd_residual_drops_what_does_not_turn_with_the_error():
    # a constant is even in the error: "residual" adds it to every change,
    # "residual_odd" keeps none of it and trains exactly as backprop
    constant = DummyRegressor(strategy="constant", constant=[0.7]).fit(
        np.zeros((2, len(NORMALISED))), np.zeros(2)
    )
    odd = _train_xor(constant, "residual_odd")
    plain = _train_xor(constant, "residual")
    X, y = make_boolean("xor")
    teacher = BackpropMLPClassifier(
        (3,), learning_rate_init=RATE, max_iter=30, random_state=3
    ).fit(X, y)
    np.testing.assert_array_equal(_params(odd), _params(teacher))
    np.testing.assert_array_equal(odd.loss_curve_, teacher.loss_curve_)
    assert not np.allclose(_params(plain), _params(teacher))


@pytest.mark.parametrize("signed", ["delta_n", "err_n"])
def test_odd_residual_keeps_what_turns_with_the_error(signed):
    # a prediction linear in a signed column is odd: both targets agree
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(50, len(NORMALISED)))
    linear = LinearRegression().fit(Z, 0.5 * Z[:, NORMALISED.index(signed)])
    odd = _train_xor(linear, "residual_odd")
    plain = _train_xor(linear, "residual")
    np.testing.assert_allclose(_params(odd), _params(plain), rtol=1e-9, atol=1e-12)
    X, y = make_boolean("xor")
    teacher = BackpropMLPClassifier(
        (3,), learning_rate_init=RATE, max_iter=30, random_state=3
    ).fit(X, y)
    assert not np.allclose(_params(odd), _params(teacher))


def test_odd_residual_needs_a_signed_variable():
    with pytest.raises(ValueError, match="changes sign"):
        LinkMode([2, 1, 1], ["w", "a_n"], learning_rate=RATE, target="residual_odd")
    mode = LinkMode([2, 1, 1], NORMALISED, learning_rate=RATE, target="residual_odd")
    assert [NORMALISED[c] for c in mode.odd_columns] == ["delta_n", "err_n"]
    assert mode.target_names == ["dw_r"]


@pytest.mark.parametrize("sizes", [[2, 1, 1], [30, 4, 1], [4, 5, 3], [3, 4, 2, 2]])
def test_normalised_features_have_unit_rms_per_layer(sizes):
    mode = LinkMode(sizes, ["a", "a_n", "delta_n", "err_n", "log_scale", "delta"])
    col = {v: c for c, v in enumerate(mode.feature_names)}

    def inspect(step, dcoefs, dintercepts):
        F = mode.features(step)
        for v in ("a_n", "delta_n", "err_n"):
            np.testing.assert_allclose(_layer_rms(mode, F[:, :, col[v]]), 1.0)
        # a_n is a over its layer's rms: the same direction
        a, a_n = F[:, :, col["a"]], F[:, :, col["a_n"]]
        for l in range(_n_layers(mode)):
            rows = mode._row_layer == l
            ratio = a[:, rows] / a_n[:, rows]
            np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio))
        # log_scale is the log of the rms of delta * a over the layer's rows
        bp = F[:, :, col["delta"]] * a
        np.testing.assert_allclose(
            np.exp(F[:, :, col["log_scale"]]), _layer_rms(mode, bp)[:, mode._row_layer]
        )

    _inspect_steps(sizes, inspect)


def _scaled_and_raw_rms(sizes):
    """Per-layer rms of backprop's scaled and raw changes at its first update."""
    change = LinkMode(sizes, NORMALISED, learning_rate=RATE, target="change")
    mode = LinkMode(sizes, NORMALISED, learning_rate=RATE, target="scaled")
    col = {v: c for c, v in enumerate(mode.feature_names)}
    found = {}

    def inspect(step, dcoefs, dintercepts):
        T = mode.targets(step, dcoefs, dintercepts)[:, :, 0]
        F = mode.features(step)
        # backprop's scaled change is rate * delta_n * a_n on every layer
        np.testing.assert_allclose(
            T, RATE * F[:, :, col["delta_n"]] * F[:, :, col["a_n"]]
        )
        found["scaled"] = _layer_rms(mode, T)
        found["raw"] = _layer_rms(
            change, change.targets(step, dcoefs, dintercepts)[:, :, 0]
        )

    _inspect_steps(sizes, inspect, n_steps=1)
    return found["scaled"], found["raw"]


def test_scaled_targets_are_comparable_across_fan_ins():
    """Backprop's raw changes differ in size across fan-ins; scaled ones do not."""
    scaled2, raw2 = _scaled_and_raw_rms([2, 4, 1])
    scaled30, raw30 = _scaled_and_raw_rms([30, 4, 1])
    np.testing.assert_allclose(scaled2, RATE)
    np.testing.assert_allclose(scaled30, RATE)
    assert not np.allclose(raw2, raw30, rtol=0.1)


def test_changes_invert_targets_for_every_target():
    sizes = [3, 4, 2, 2]
    for target in LINK_TARGETS:
        mode = LinkMode(sizes, NORMALISED, learning_rate=RATE, target=target)

        def inspect(step, dcoefs, dintercepts, mode=mode):
            out = np.empty((step.n_networks, mode.layout.n_params))
            mode.changes(step, mode.targets(step, dcoefs, dintercepts), out)
            np.testing.assert_allclose(out, mode.layout.flatten(dcoefs, dintercepts))

        _inspect_steps(sizes, inspect)


def test_target_names_and_validation():
    # the default is the target that transfers
    assert LinkMode([2, 1, 1]).target_names == ["dw_n"]
    assert LinkMode([2, 1, 1], target="change").target_names == ["dw"]
    assert LinkMode([2, 1, 1], target="scaled").target_names == ["dw_n"]
    assert LinkMode([2, 1, 1], learning_rate=RATE, target="residual").target_names == [
        "dw_r"
    ]
    with pytest.raises(ValueError, match="learning_rate"):
        LinkMode([2, 1, 1], target="residual")
    with pytest.raises(ValueError, match="Unknown target"):
        LinkMode([2, 1, 1], target="delta")
    with pytest.raises(ValueError, match="mode='link'"):
        make_mode("network", [2, 1, 1], target="scaled")
    X, y = make_boolean("and")
    with pytest.raises(ValueError, match="mode='link'"):
        TrajectoryRecorder(
            BackpropMLPClassifier((1,), max_iter=2), target="residual"
        ).fit(X, y)
    with pytest.raises(ValueError, match="target"):
        LearnedRuleMLPClassifier(mode="link", target="bogus").fit(X, y)


def test_recorder_residual_uses_the_first_teachers_rate():
    X, y = make_boolean("or")
    rec = TrajectoryRecorder(
        [
            BackpropMLPClassifier((2,), learning_rate_init=RATE, max_iter=5),
            BackpropMLPClassifier((2,), learning_rate_init=2 * RATE, max_iter=5),
        ],
        mode="link",
        variables=NORMALISED,
        target="residual",
        n_runs=2,
        random_state=0,
        dtype=np.float64,
    ).fit(X, y)
    first = rec.teacher_ids_ == 0
    np.testing.assert_array_equal(rec.targets_[first], 0.0)
    # the second teacher's residual is its extra rate times delta_n * a_n
    col = {v: c for c, v in enumerate(rec.feature_names_)}
    F = rec.features_[~first]
    np.testing.assert_allclose(
        rec.targets_[~first, 0],
        RATE * F[:, col["delta_n"]] * F[:, col["a_n"]],
        atol=1e-12,
    )


def _and_residual_learner():
    """A small residual link learner fitted on two recorded runs of AND 2-1-1."""
    X, y = make_boolean("and")
    return (
        LearnedRuleMLPClassifier(
            (1,),
            learner=BackpropMLPRegressor((8,), max_iter=20, random_state=0),
            mode="link",
            variables=NORMALISED,
            target="residual",
            n_teacher_runs=2,
            max_iter=50,
            random_state=0,
        )
        .fit(X, y)
        .learner_
    )


def test_refine_with_validation_never_returns_worse_on_held_out_tasks():
    from sk_metabp.refine import refine_learner

    X, y = make_boolean("and")
    refined = refine_learner(
        _and_residual_learner(),
        [(X, y, (1,))],
        validation=[(*make_boolean("or"), (2,))],
        variables=NORMALISED,
        target="residual",
        n_generations=2,
        population=4,
        n_epochs=10,
        n_students=2,
        random_state=0,
    )
    assert refined.refine_validation_loss_ <= refined.refine_validation_start_loss_
    assert len(refined.refine_validation_history_) == 2
    assert refined.refine_loss_ <= refined.refine_start_loss_


def _zero_residual_learner():
    """A fitted BackpropMLPRegressor that predicts exactly 0: backprop itself."""
    Z = np.random.RandomState(0).normal(size=(20, len(NORMALISED)))
    learner = BackpropMLPRegressor((4,), max_iter=2, random_state=0)
    learner.fit(Z, np.zeros(20))
    learner.coefs_[-1][:] = 0.0
    learner.intercepts_[-1][:] = 0.0
    learner.y_mean_[:] = 0.0
    return learner


@pytest.mark.parametrize("target", ["residual", "residual_odd"])
def test_worst_ratio_validation_compares_with_backprop(target):
    from sk_metabp.refine import refine_learner

    X, y = make_boolean("and")
    common = dict(
        validation=[(*make_boolean("or"), (2,)), (*make_boolean("xor"), (2,))],
        validation_score="worst_ratio",
        variables=NORMALISED,
        target=target,
        n_generations=2,
        population=4,
        n_epochs=10,
        n_students=2,
        random_state=0,
    )
    refined = refine_learner(_zero_residual_learner(), [(X, y, (1,))], **common)
    # a learner predicting 0 is backprop: its ratio to backprop is exactly 1
    assert refined.refine_validation_start_loss_ == 1.0
    assert refined.refine_validation_loss_ <= 1.0
    assert len(refined.refine_validation_history_) == 2
    with pytest.raises(ValueError, match="validation_score"):
        refine_learner(
            _zero_residual_learner(),
            [(X, y, (1,))],
            **{**common, "validation_score": "max"},
        )


def test_frozen_link_learner_refuses_another_target():
    X, y = make_boolean("and")
    learner = _and_residual_learner()
    assert learner.target_names_ == ["dw_r"]
    for target, name in [("change", "dw"), ("scaled", "dw_n")]:
        clf = LearnedRuleMLPClassifier(
            (2,),
            learner=FrozenEstimator(learner),
            mode="link",
            variables=NORMALISED,
            target=target,
            max_iter=3,
        )
        with pytest.raises(ValueError, match=rf"predict dw_r, but .* needs {name}:"):
            clf.fit(X, y)
        assert not hasattr(clf, "coefs_")
    # both residual targets read dw_r
    LearnedRuleMLPClassifier(
        (2,),
        learner=FrozenEstimator(learner),
        mode="link",
        variables=NORMALISED,
        target="residual_odd",
        max_iter=3,
    ).fit(X, y)


def test_regressor_keeps_and_forgets_target_names():
    import pandas as pd

    Z = np.random.RandomState(0).normal(size=(30, 2))
    reg = BackpropMLPRegressor((3,), max_iter=2, random_state=0)
    assert reg.fit(Z, pd.DataFrame({"dw_n": Z[:, 0]})).target_names_ == ["dw_n"]
    assert reg.fit(Z, pd.Series(Z[:, 0], name="t")).target_names_ == ["t"]
    assert not hasattr(reg.fit(Z, Z[:, 0]), "target_names_")


def test_link_defaults_carry_a_rule_from_and_to_iris():
    # link mode's defaults are the variables and target that transfer: a rule
    # recorded on AND alone keeps >= 95% of backprop's median test accuracy on
    # iris (3 students), for each of 2 independent fits (teachers and learner)
    from sklearn.datasets import load_iris
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    bp = np.median(
        [
            BackpropMLPClassifier((4,), max_iter=100, random_state=s)
            .fit(Xtr, ytr)
            .score(Xte, yte)
            for s in range(3)
        ]
    )
    Xa, ya = make_boolean("and")
    for fit in range(2):
        rule = LearnedRuleMLPClassifier(
            (1,), mode="link", n_teacher_runs=8, max_iter=1000, random_state=fit
        ).fit_learner(Xa, ya)
        learned = [
            LearnedRuleMLPClassifier(
                (4,),
                mode="link",
                learner=FrozenEstimator(rule.learner_),
                max_iter=100,
                random_state=s,
            )
            .fit(Xtr, ytr)
            .score(Xte, yte)
            for s in range(3)
        ]
        assert np.median(learned) >= 0.95 * bp, (fit, learned, bp)
