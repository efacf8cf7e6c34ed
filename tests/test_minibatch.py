"""Learned rules on mini-batches: what link and delta rows mean for a batch."""

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.frozen import FrozenEstimator

from sk_metabp import (
    BackpropMLPClassifier,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp._mlp import init_params, train
from sk_metabp._modes import LINK_TARGETS, DeltaMode, LinkMode, make_mode
from sk_metabp.datasets import make_boolean
from sk_metabp.rules import BackpropRule

RATE = 0.23
BATCH_VARIABLES = ["w", "a", "delta", "err", "g", "g_n", "log_scale", "a_n"]


def _batch_steps(sizes, inspect, B=5, n=12, K=2, seed=0):
    """Call ``inspect(step, dcoefs, dintercepts)`` at every update of one epoch
    of backprop on batches of ``B`` (the last one short when B does not divide
    ``n``)."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, sizes[0]))
    Y = rng.uniform(size=(n, sizes[-1]))
    coefs, intercepts = init_params(
        sizes, [np.random.RandomState(seed + k) for k in range(K)]
    )
    train(
        coefs,
        intercepts,
        X,
        Y,
        BackpropRule(RATE),
        max_iter=1,
        batch_size=B,
        callback=inspect,
    )


def _layer_rms(mode, values):
    layers = mode._row_layer
    return np.stack(
        [np.sqrt(np.mean(values[:, layers == l] ** 2, axis=1)) for l in range(2)],
        axis=1,
    )[:, layers]


@pytest.mark.parametrize("B", [5, 3])
def test_link_rows_of_a_batch_are_its_statistics(B):
    sizes = [3, 4, 2]
    mode = LinkMode(sizes, BATCH_VARIABLES)
    col = {v: c for c, v in enumerate(mode.feature_names)}
    layout = mode.layout
    seen = []

    def inspect(step, dcoefs, dintercepts):
        F = mode.features(step)
        K, b = step.n_networks, step.batch_size
        # a and delta: batch means, gathered per link like one pattern's
        acts = [a.mean(axis=1) for a in step.acts[:-1]]
        deltas = [d.mean(axis=1) for d in step.deltas()]
        a = np.concatenate(
            [np.repeat(x, n, axis=1) for x, n in zip(acts, sizes[1:])]
            + [np.ones((K, layout.n_biases))],
            axis=1,
        )
        d = np.concatenate(
            [np.tile(x, n) for x, n in zip(deltas, sizes[:-1])] + deltas, axis=1
        )
        np.testing.assert_allclose(F[:, :, col["a"]], a, rtol=1e-12)
        np.testing.assert_allclose(F[:, :, col["delta"]], d, rtol=1e-12)
        # g: the batch mean of the product, which is backprop's change per
        # unit rate (not the product of the means)
        bp = layout.flatten(dcoefs, dintercepts)
        np.testing.assert_allclose(F[:, :, col["g"]] * RATE, bp, rtol=1e-12)
        assert not np.allclose(F[:, :, col["g"]], a * d, rtol=1e-3)
        # s_l is the rms of g over the layer: g_n has unit rms, log_scale its log
        g_rms = _layer_rms(mode, F[:, :, col["g"]])
        np.testing.assert_allclose(np.exp(F[:, :, col["log_scale"]]), g_rms)
        np.testing.assert_allclose(_layer_rms(mode, F[:, :, col["g_n"]]), 1.0)
        seen.append(b)

    _batch_steps(sizes, inspect, B=B, n=12)
    assert seen == [B] * (12 // B) + ([12 % B] if 12 % B else [])


@pytest.mark.parametrize(
    "variables, target",
    [(["g"], "change"), (["g", "delta"], "change"), (["w", "g", "a_n"], "scaled")],
)
def test_link_g_of_a_batch_is_backprops_change_with_or_without_deltas(
    variables, target
):
    # with the deltas' batch means at hand the biases' g are copied from them,
    # otherwise summed: either way backprop's batch-mean change per unit rate
    sizes = [3, 4, 2, 2]
    mode = LinkMode(sizes, variables, target=target)
    g = mode.feature_names.index("g")
    seen = []

    def inspect(step, dcoefs, dintercepts):
        F = mode.features(step)
        bp = mode.layout.flatten(dcoefs, dintercepts)
        np.testing.assert_allclose(F[:, :, g] * RATE, bp, rtol=1e-12)
        seen.append(step.batch_size)

    _batch_steps(sizes, inspect, B=4, n=10)
    assert seen == [4, 4, 2]


def test_link_g_for_one_pattern_is_delta_times_a():
    sizes = [2, 3, 1]
    mode = LinkMode(sizes, ["a", "delta", "g", "g_n", "log_scale"])

    def inspect(step, dcoefs, dintercepts):
        F = mode.features(step)
        np.testing.assert_array_equal(F[:, :, 2], F[:, :, 0] * F[:, :, 1])
        np.testing.assert_allclose(F[:, :, 3], F[:, :, 2] / np.exp(F[:, :, 4]))

    _batch_steps(sizes, inspect, B=1, n=3)


@pytest.mark.parametrize("target", list(LINK_TARGETS))
def test_link_changes_invert_targets_on_a_batch(target):
    sizes = [3, 4, 2, 2]
    mode = LinkMode(sizes, BATCH_VARIABLES, learning_rate=RATE, target=target)
    seen = []

    def inspect(step, dcoefs, dintercepts):
        flat = np.empty((step.n_networks, mode.layout.n_params))
        T = mode.targets(step, dcoefs, dintercepts)
        mode.changes(step, T, flat)
        np.testing.assert_allclose(
            flat, mode.layout.flatten(dcoefs, dintercepts), rtol=1e-12, atol=1e-15
        )
        if target == "scaled":  # backprop's scaled target is rate * g_n
            g_n = mode.features(step)[:, :, mode.feature_names.index("g_n")]
            np.testing.assert_allclose(T[:, :, 0], RATE * g_n, rtol=1e-12)
        if target.startswith("residual"):  # and its residual is 0
            np.testing.assert_array_equal(T, 0.0)
        seen.append(1)

    _batch_steps(sizes, inspect, B=4)
    assert len(seen) == 3


@pytest.mark.parametrize("B", [1, 3, 8])
def test_zero_residual_learner_trains_exactly_as_backprop_on_batches(B):
    X, y = make_boolean("xor")
    X, y = np.tile(X, (3, 1)), np.tile(y, 3)
    variables = ["w", "a_n", "delta_n", "g_n", "log_scale"]
    zero = DummyRegressor(strategy="constant", constant=[0.0]).fit(
        np.zeros((2, len(variables))), np.zeros(2)
    )
    common = dict(max_iter=20, batch_size=B, random_state=3)
    student = LearnedRuleMLPClassifier(
        (3,),
        learner=FrozenEstimator(zero),
        mode="link",
        variables=variables,
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


def test_delta_rows_are_per_pattern_and_rule_6_is_kept():
    sizes = [2, 3, 2, 2]
    mode = DeltaMode(sizes, ["fp", "back", "h"], batch_size=4)
    assert mode.rows_per_update == 4 * 5
    assert mode.unit_names()[:4] == ["h1_0", "h1_1", "h1_2", "h1_0"]
    seen = []

    def inspect(step, dcoefs, dintercepts):
        B = step.batch_size
        F = mode.features(step)
        assert F.shape == (2, B * 5, 3)
        # the first layer's rows, pattern by pattern: that pattern's h
        np.testing.assert_array_equal(F[:, : B * 3, 2], step.acts[1].reshape(2, B * 3))
        true = [d.copy() for d in step.deltas()]
        np.testing.assert_array_equal(
            mode.targets(step, dcoefs, dintercepts)[:, :, 0],
            np.concatenate([d.reshape(2, -1) for d in true[:-1]], axis=1),
        )
        # a learner that knows rule (6) leaves every pattern's delta as it was
        mode.predict_deltas(step, lambda rows: rows[:, :, :1] * rows[:, :, 1:2])
        for a, b in zip(step.deltas(), true):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
        seen.append(B)

    _batch_steps(sizes, inspect, B=4, n=10)
    assert seen == [4, 4, 2]


@pytest.mark.parametrize("mode, B", [("link", 4), ("delta", 4), ("delta", 5)])
def test_recorder_records_a_batch_teacher(mode, B):
    X, y = make_boolean("xor")
    X, y = np.tile(X, (3, 1)), np.tile(y, 3)  # 12 patterns
    epochs = 6
    rec = TrajectoryRecorder(
        BackpropMLPClassifier((3,), batch_size=B, max_iter=epochs),
        mode=mode,
        n_runs=2,
        random_state=0,
    ).fit(X, y)
    per_epoch = -(-12 // B)
    R = rec.mode_.rows_per_update
    assert R == (3 * B if mode == "delta" else 13)
    # every update is recorded, but a short last batch in delta mode
    full = 12 // B if mode == "delta" else per_epoch
    assert len(rec.features_) == 2 * epochs * full * R
    assert rec.steps_.max() < epochs * per_epoch
    assert set(rec.epochs_) == set(range(epochs))


def test_recorded_batch_targets_are_backprops_batch_changes():
    X, y = make_boolean("xor")
    X, y = np.tile(X, (2, 1)), np.tile(y, 2)
    rec = TrajectoryRecorder(
        BackpropMLPClassifier((2,), batch_size=4, max_iter=3),
        mode="link",
        variables=["g"],
        target="change",
        n_runs=1,
        random_state=0,
        dtype=np.float64,
    ).fit(X, y)
    np.testing.assert_allclose(rec.targets_[:, 0], RATE * rec.features_[:, 0])


def test_network_mode_refuses_batches():
    X, y = make_boolean("and")
    with pytest.raises(ValueError, match="mode='network'.*batch_size=2"):
        make_mode("network", [2, 1, 1], batch_size=2)
    with pytest.raises(ValueError, match="batch_size=2.*mode='link'"):
        TrajectoryRecorder(BackpropMLPClassifier(batch_size=2)).fit(X, y)
    with pytest.raises(ValueError, match="batch_size=2.*mode='link'"):
        LearnedRuleMLPClassifier((1,), batch_size=2).fit(X, y)


@pytest.mark.parametrize("mode", ["link", "delta"])
def test_learned_classifier_trains_and_records_at_its_batch_size(mode):
    X, y = make_boolean("xor")
    X, y = np.tile(X, (4, 1)), np.tile(y, 4)  # 16 patterns
    clf = LearnedRuleMLPClassifier(
        (3,),
        mode=mode,
        batch_size=8,
        max_iter=20,
        n_teacher_runs=2,
        record_every=1,
        random_state=0,
    ).fit(X, y)
    assert clf.recorder_.teachers_[0].batch_size == 8
    assert clf.recorder_.steps_.max() == 20 * 2 - 1  # two updates per epoch
    counted = []
    clf.train_students(
        clf.training_data(X, y),
        [0],
        callback=lambda step, dc, di: counted.append(step.batch_size),
    )
    assert counted == [8] * 40
    assert len(clf.loss_curve_) == 20 and np.isfinite(clf.loss_curve_).all()
