"""Link mode's running averages of the gradient: state kept over every update."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from sk_metabp import (
    BackpropMLPClassifier,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp._modes import LINK_DECAYS, LINK_STATE, LINK_VARIABLES

AVERAGES = ["gm1", "gv1", "gm2", "gv2", "gm3", "gv3"]
VARIABLES = ["g", "log_scale", *AVERAGES, "gm1_n", "gv3_n"]


def _task():
    X, y = make_classification(12, 3, n_informative=2, n_redundant=0, random_state=0)
    return X, y


def _record(batch_size, every):
    teacher = BackpropMLPClassifier(
        (3,), learning_rate_init=0.5, batch_size=batch_size, max_iter=3
    )
    return TrajectoryRecorder(
        teacher,
        mode="link",
        variables=VARIABLES,
        n_runs=2,
        every=every,
        random_state=0,
        dtype=np.float64,
    ).fit(*_task())


def _by_hand(g, decay):
    """m_t = decay m_{t-1} + (1 - decay) g_t from m_0 = 0, along axis 0."""
    out, m = np.empty_like(g), np.zeros(g.shape[1:])
    for t, x in enumerate(g):
        m = decay * m + (1 - decay) * x
        out[t] = m
    return out


def test_running_averages_are_catalogued_link_variables():
    assert set(LINK_STATE) <= set(LINK_VARIABLES)
    for k in LINK_DECAYS:
        assert {f"gm{k}", f"gv{k}", f"gm{k}_n", f"gv{k}_n"} <= set(LINK_STATE)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_recorded_averages_are_the_averages_of_the_recorded_gradients(batch_size):
    rec = _record(batch_size, every=1)
    F, col = rec.features_, {n: c for c, n in enumerate(rec.feature_names_)}
    units = np.unique(rec.units_)
    n_steps = rec.steps_.max() + 1
    assert n_steps > 3
    for run in range(2):
        # (steps, units) arrays, every update of the run in order
        rows = np.stack(
            [np.flatnonzero((rec.runs_ == run) & (rec.units_ == u)) for u in units],
            axis=1,
        )
        np.testing.assert_array_equal(rec.steps_[rows[:, 0]], np.arange(n_steps))
        g = F[rows, col["g"]]
        scale = np.exp(F[rows, col["log_scale"]])
        hand = {}
        for k, decay in LINK_DECAYS.items():
            hand["gm" + k] = _by_hand(g, decay)
            hand["gv" + k] = _by_hand(g**2, decay)
        for name in AVERAGES:
            np.testing.assert_allclose(F[rows, col[name]], hand[name], rtol=1e-9)
            assert np.abs(hand[name]).max() > 0
        np.testing.assert_allclose(
            F[rows, col["gm1_n"]], hand["gm1"] / scale, rtol=1e-9
        )
        np.testing.assert_allclose(
            F[rows, col["gv3_n"]], np.sqrt(hand["gv3"]) / scale, rtol=1e-9
        )
    # a run starts from 0: its first update's average is (1 - decay) g
    first = rec.steps_ == 0
    np.testing.assert_allclose(F[first, col["gm3"]], 1e-3 * F[first, col["g"]])


def test_updates_not_recorded_still_move_the_averages():
    full, sparse = _record(1, every=1), _record(1, every=3)
    assert len(sparse.steps_) < len(full.steps_)
    key = {
        (r, s, u): i
        for i, (r, s, u) in enumerate(zip(full.runs_, full.steps_, full.units_))
    }
    at = [key[r, s, u] for r, s, u in zip(sparse.runs_, sparse.steps_, sparse.units_)]
    assert sparse.steps_.max() > 3
    np.testing.assert_array_equal(sparse.features_, full.features_[at])


def test_a_learned_rule_reads_the_averages_and_starts_each_fit_afresh():
    X, y = _task()
    clf = LearnedRuleMLPClassifier(
        (3,),
        mode="link",
        variables=["w", "a_n", "delta_n", "gm1_n", "gv2_n", "gm3"],
        target="scaled",
        batch_size=4,
        max_iter=5,
        n_teacher_runs=2,
        random_state=0,
    ).fit(X, y)
    first = [c.copy() for c in clf.coefs_]
    assert np.isfinite(clf.loss_curve_).all()
    # the averages belong to one training run: a second fit repeats the first
    clf.fit(X, y)
    for a, b in zip(first, clf.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("target", ["change", "fan_in_scaled"])
@pytest.mark.parametrize("power", [0.0, 1.0])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_adam_variable_is_adams_change_per_unit_rate(batch_size, power, target):
    # an Adam teacher's recorded change is exactly its rate times `adam` (over
    # `fan_in` with fan_in_power=1, the biases' too), at every update the
    # recorder keeps (every other one: the state moves at the updates it
    # skips too); target="fan_in_scaled" holds the change times the fan-in,
    # so with fan_in_power=1 it is rate * adam on every layer
    rate = 0.01
    teacher = BackpropMLPClassifier(
        (3, 5),
        solver="adam",
        learning_rate_init=rate,
        fan_in_power=power,
        batch_size=batch_size,
        max_iter=4,
    )
    rec = TrajectoryRecorder(
        teacher,
        mode="link",
        variables=["g", "adam", "fan_in", "is_bias"],
        target=target,
        n_runs=2,
        every=2,
        random_state=0,
        dtype=np.float64,
    ).fit(*_task())
    _, adam, fan_in, is_bias = rec.features_.T
    assert np.abs(adam).max() > 0.1
    assert set(fan_in) == {3.0, 5.0} and is_bias.any()  # a 3-3-5-1 net
    times = 1.0 if target == "change" else fan_in
    assert rec.target_names_ == ["dw" if target == "change" else "dw_f"]
    np.testing.assert_allclose(
        rec.targets_[:, 0],
        rate * adam / fan_in**power * times,
        rtol=1e-9,
        atol=1e-15,
    )


def test_fan_in_power_scales_each_layers_step():
    # one full-batch update from the same start: each layer's change is plain
    # Adam's divided by its fan-in ** p (the start is recovered from two
    # plain runs at rates r and 2r: w0 = 2 w_r - w_2r)
    X, y = _task()

    def weights(rate, power):
        clf = BackpropMLPClassifier(
            (3, 5),
            solver="adam",
            learning_rate_init=rate,
            fan_in_power=power,
            batch_size=len(X),
            max_iter=1,
            random_state=0,
        ).fit(X, y)
        return [*clf.coefs_, *clf.intercepts_]

    one, two = weights(0.01, 0.0), weights(0.02, 0.0)
    fan_ins = [3, 3, 5, 3, 3, 5]  # coefs then intercepts of the 3-3-5-1 net
    for power in (0.5, 1.0):
        scaled = weights(0.01, power)
        for w1, w2, ws, n in zip(one, two, scaled, fan_ins):
            start = 2 * w1 - w2
            np.testing.assert_allclose(
                ws - start, (w1 - start) / n**power, rtol=1e-7, atol=1e-12
            )
            assert np.abs(w1 - start).max() > 1e-3


def test_adam_variable_trains_like_adam_through_a_learned_rule():
    # a learner fitted on an Adam teacher's rows of `adam` alone reproduces
    # Adam's students closely: the variable carries all Adam needs
    X, y = _task()
    common = dict(solver="adam", learning_rate_init=0.05, max_iter=30, batch_size=4)
    adam = BackpropMLPClassifier((3,), random_state=3, **common).fit(X, y)
    clf = LearnedRuleMLPClassifier(
        (3,),
        mode="link",
        variables=["adam"],
        target="change",
        teacher=BackpropMLPClassifier((3,), **common),
        batch_size=4,
        max_iter=30,
        n_teacher_runs=4,
        random_state=3,
    ).fit(X, y)
    assert (
        clf.learner_.score(
            clf.recorder_.to_frame()[["adam"]], clf.recorder_.targets_[:, 0]
        )
        > 0.99
    )
    np.testing.assert_allclose(clf.loss_curve_, adam.loss_curve_, rtol=0.05)
