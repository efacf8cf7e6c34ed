"""The training loop of sk_metabp._mlp: backprop's gradients, lockstep, stopping."""

import numpy as np
import pytest
from _broken import InfFrom
from sklearn.exceptions import ConvergenceWarning

from sk_metabp import BackpropMLPRegressor
from sk_metabp._mlp import (
    ACTIVATIONS,
    forward,
    init_params,
    layer_sizes,
    train,
    warn_diverged,
)
from sk_metabp.datasets import make_boolean, make_squares
from sk_metabp.rules import BackpropRule, Step, UpdateRule

ACTIVATION_PAIRS = [("logistic", "logistic"), ("tanh", "identity")]
TOPOLOGIES = [(), (3,), (3, 4, 2)]


def _random_problem(hidden, seed, K=3, batch=1):
    """K networks of a random topology with random weights, and random patterns."""
    rng = np.random.RandomState(seed)
    sizes = layer_sizes(rng.randint(1, 5), hidden, rng.randint(1, 4))
    coefs = [rng.normal(size=(K, a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=(K, b)) for b in sizes[1:]]
    X = rng.normal(size=(K, batch, sizes[0]))
    Y = rng.uniform(size=(K, batch, sizes[-1]))
    return coefs, intercepts, X, Y


def _loss(coefs, intercepts, X, Y, hidden_act, out_act):
    """J of eq. (2), averaged over the batch, per network: shape (K,)."""
    _, acts = forward(coefs, intercepts, X, hidden_act, out_act)
    return 0.5 * ((Y - acts[-1]) ** 2).sum(axis=2).mean(axis=1)


def _numeric_gradient(coefs, intercepts, X, Y, hidden_act, out_act, h=1e-6):
    """Central differences of J. Entry (i, j) is perturbed in all K networks at
    once: the networks are independent, so each one's J sees only its own."""
    grads = []
    for p in [*coefs, *intercepts]:
        g = np.empty_like(p)
        for idx in np.ndindex(p.shape[1:]):
            at = (slice(None), *idx)
            orig = p[at].copy()
            p[at] = orig + h
            up = _loss(coefs, intercepts, X, Y, hidden_act, out_act)
            p[at] = orig - h
            down = _loss(coefs, intercepts, X, Y, hidden_act, out_act)
            p[at] = orig
            g[at] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def _flat(arrays, k):
    return np.concatenate([a[k].ravel() for a in arrays])


def _assert_rel_close(actual, expected, K, rtol=1e-6):
    for k in range(K):
        a, e = _flat(actual, k), _flat(expected, k)
        rel = np.linalg.norm(a - e) / np.linalg.norm(e)
        assert rel < rtol, f"network {k}: relative error {rel:.2e}"


class _Capture:
    """A callback keeping copies of every change the rule proposed."""

    def __init__(self):
        self.changes = []
        self.steps = []

    def __call__(self, step, dcoefs, dintercepts):
        self.changes.append(
            ([d.copy() for d in dcoefs], [d.copy() for d in dintercepts])
        )
        self.steps.append((step.epoch, step.step, step.index.copy()))


@pytest.mark.parametrize("hidden", TOPOLOGIES)
@pytest.mark.parametrize("hidden_act, out_act", ACTIVATION_PAIRS)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_backprop_change_is_minus_rate_times_gradient(
    hidden, hidden_act, out_act, batch, seed
):
    K, rate = 3, 0.37
    coefs, intercepts, X, Y = _random_problem(hidden, seed, K=K, batch=batch)
    expected = _numeric_gradient(coefs, intercepts, X, Y, hidden_act, out_act)
    expected = [-rate * g for g in expected]
    before = [p.copy() for p in [*coefs, *intercepts]]

    capture = _Capture()
    train(
        coefs,
        intercepts,
        X,
        Y,
        BackpropRule(rate),
        max_iter=1,
        batch_size=batch,
        hidden_activation=hidden_act,
        output_activation=out_act,
        callback=capture,
    )
    assert len(capture.changes) == 1  # one batch, one update
    dcoefs, dintercepts = capture.changes[0]
    _assert_rel_close([*dcoefs, *dintercepts], expected, K)
    # and the loop applied exactly that change
    applied = [a - b for a, b in zip([*coefs, *intercepts], before)]
    np.testing.assert_allclose(
        np.concatenate([a.ravel() for a in applied]),
        np.concatenate([d.ravel() for d in [*dcoefs, *dintercepts]]),
        rtol=1e-12,
        atol=1e-15,
    )


@pytest.mark.parametrize("hidden_act, out_act", ACTIVATION_PAIRS)
def test_step_fprime_and_deltas(hidden_act, out_act):
    """Rules (5) and (6) from a hand-filled Step, and invalidate() recomputing."""
    K = 2
    coefs, intercepts, X, Y = _random_problem((3, 4), seed=5, K=K, batch=2)
    ins, acts = forward(coefs, intercepts, X, hidden_act, out_act)
    step = Step(coefs, intercepts, hidden_act, out_act)
    step.ins[:] = ins
    step.acts[:] = acts
    step.ev = Y
    step.err = Y - acts[-1]

    h = 1e-6
    for l, (fp, net_in) in enumerate(zip(step.fprime(), ins)):
        act = out_act if l == len(ins) - 1 else hidden_act
        f = ACTIVATIONS[act][0]
        up = f(net_in + h, out=np.empty_like(net_in))
        down = f(net_in - h, out=np.empty_like(net_in))
        numeric = (up - down) / (2 * h)
        np.testing.assert_allclose(fp, numeric, rtol=1e-6, atol=1e-9)

    deltas = [d.copy() for d in step.deltas()]
    assert deltas[-1] == pytest.approx(step.err * step.fprime()[-1])
    rule = BackpropRule(1.0)
    rule.start(step)
    dcoefs, dintercepts = rule(step)
    for l in range(len(coefs)):
        np.testing.assert_allclose(dintercepts[l], deltas[l].mean(axis=1))
        np.testing.assert_allclose(
            dcoefs[l], np.einsum("kbi,kbj->kij", acts[l], deltas[l]) / 2
        )

    # a new error must not be served from the cache once invalidated
    step.err = 2 * step.err
    assert np.allclose(step.deltas()[-1], deltas[-1])  # cached
    step.invalidate()
    np.testing.assert_allclose(step.deltas()[-1], 2 * deltas[-1])


def test_momentum_adds_previous_change():
    coefs, intercepts, X, Y = _random_problem((3,), seed=3, K=2, batch=2)
    X, Y = X[0], Y[0]  # two patterns shared by both networks
    m, rate = 0.6, 0.2
    plain, with_m = _Capture(), _Capture()
    c1, i1 = [c.copy() for c in coefs], [b.copy() for b in intercepts]
    train(c1, i1, X, Y, BackpropRule(rate, m), max_iter=1, callback=with_m)
    # replay: the second change is m * first + the plain change at that state
    c0, i0 = [c.copy() for c in coefs], [b.copy() for b in intercepts]
    train(c0, i0, X[:1], Y[:1], BackpropRule(rate), max_iter=1, callback=plain)
    train(c0, i0, X[1:], Y[1:], BackpropRule(rate), max_iter=1, callback=plain)
    first_m, second_m = (_flat([*a, *b], k=slice(None)) for a, b in with_m.changes)
    first_p, second_p = (_flat([*a, *b], k=slice(None)) for a, b in plain.changes)
    np.testing.assert_allclose(first_m, first_p, rtol=1e-12)
    np.testing.assert_allclose(second_m, m * first_p + second_p, rtol=1e-10)


def _stack(seeds, sizes, X, Y, **kwargs):
    """Train networks seeded by ``seeds`` in one stack; return everything."""
    rs = [np.random.RandomState(s) for s in seeds]
    coefs, intercepts = init_params(sizes, rs)
    capture = _Capture()
    out = train(
        coefs,
        intercepts,
        X,
        Y,
        BackpropRule(0.5, kwargs.pop("momentum", 0.0)),
        random_states=rs,
        callback=capture,
        **kwargs,
    )
    return coefs, intercepts, out, capture


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_lockstep_equals_one_by_one(shuffle, batch_size, momentum):
    X, _, Y, _ = make_squares(30, 0, random_state=0)  # 30 patterns: ragged batches
    sizes = layer_sizes(2, (3,), 2)
    seeds = [3, 11, 42, 7]
    kwargs = dict(max_iter=6, batch_size=batch_size, shuffle=shuffle, momentum=momentum)
    coefs, intercepts, (curves, n_iter, div, conv), cap = _stack(
        seeds, sizes, X, Y, **kwargs
    )
    assert len(cap.changes) == 6 * -(-30 // batch_size)

    def order(capture, k):  # the rows network k saw, update after update
        return np.concatenate([s[2][k] for s in capture.steps])

    for k, seed in enumerate(seeds):
        c1, i1, (curve1, n1, d1, v1), cap1 = _stack([seed], sizes, X, Y, **kwargs)
        for a, b in zip([*coefs, *intercepts], [*c1, *i1]):
            np.testing.assert_allclose(a[k], b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(curves[k], curve1[0], rtol=1e-12)
        assert n_iter[k] == n1[0] == 6 and div[k] == d1[0] == -1
        np.testing.assert_array_equal(order(cap, k), order(cap1, 0))
    # shuffling draws each network its own order; without it all see 0, 1, 2, ...
    if shuffle:
        assert not np.array_equal(order(cap, 0), order(cap, 1))
    else:
        np.testing.assert_array_equal(order(cap, 0), np.tile(np.arange(30), 6))


def test_lockstep_with_one_task_per_network():
    """X and Y of shape (K, n, d): different tasks of one shape, one stack."""
    tasks = [make_boolean(name) for name in ("and", "or", "xor")]
    X = np.stack([t[0] for t in tasks])
    Y = np.stack([t[1][:, None] for t in tasks]).astype(float)
    sizes = layer_sizes(2, (2,), 1)
    coefs, intercepts, (curves, *_), _ = _stack([0, 0, 0], sizes, X, Y, max_iter=20)
    for k in range(3):
        c1, i1, (curve1, *_), _ = _stack([0], sizes, X[k], Y[k], max_iter=20)
        np.testing.assert_allclose(coefs[0][k], c1[0][0], rtol=1e-12)
        np.testing.assert_allclose(curves[k], curve1[0], rtol=1e-12)
    assert not np.allclose(curves[0], curves[1])  # the tasks did differ


def test_divergence_keeps_last_finite_weights_and_stops_only_that_network():
    X, y = make_boolean("and")
    Y = y[:, None].astype(float)
    sizes = layer_sizes(2, (2,), 1)
    seeds = [1, 2]
    # step 9 is the second pattern of epoch 3 (4 patterns per epoch)
    rs = [np.random.RandomState(s) for s in seeds]
    coefs, intercepts = init_params(sizes, rs)
    curves, n_iter, diverged, converged = train(
        coefs, intercepts, X, Y, InfFrom(k=0, at_step=9), max_iter=8
    )
    np.testing.assert_array_equal(diverged, [3, -1])
    np.testing.assert_array_equal(n_iter, [2, 8])
    assert not converged.any()
    assert np.isnan(curves[0, 2:]).all() and np.isfinite(curves[1]).all()
    for p in [*coefs, *intercepts]:
        assert np.isfinite(p).all()
    # network 0 holds its weights after epoch 2, network 1 trained to the end
    for k, epochs in [(0, 2), (1, 8)]:
        c1, i1, (curve1, *_), _ = _stack([seeds[k]], sizes, X, Y, max_iter=epochs)
        for a, b in zip([*coefs, *intercepts], [*c1, *i1]):
            np.testing.assert_allclose(a[k], b[0], rtol=1e-12)
        np.testing.assert_allclose(curves[k, :epochs], curve1[0], rtol=1e-12)


def test_huge_learning_rate_warns_with_epoch_and_keeps_finite_weights():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (40, 2))
    y = 10 * X[:, 0] - 5 * X[:, 1]
    # online steps of 2.0 on unit-variance targets overshoot more every epoch
    reg = BackpropMLPRegressor(
        (4,), learning_rate_init=2.0, momentum=0.0, batch_size=1, max_iter=50
    )
    with pytest.warns(ConvergenceWarning, match=r"diverged at epoch (\d+)") as rec:
        reg.set_params(random_state=0).fit(X, y)
    assert reg.diverged_
    message = str(rec[0].message)
    assert f"diverged at epoch {reg.n_iter_ + 1}:" in message
    assert 0 < len(reg.loss_curve_) == reg.n_iter_ < 50
    assert np.isfinite(reg.loss_curve_).all()
    for p in [*reg.coefs_, *reg.intercepts_]:
        assert np.isfinite(p).all()
    assert np.isfinite(reg.predict(X)).all()


def test_warn_diverged_message():
    with pytest.warns(ConvergenceWarning, match="Learner diverged at epoch 17"):
        warn_diverged(17, where="Learner")


def test_tol_stops_after_patience():
    X, y = make_boolean("and")
    Y = y[:, None].astype(float)
    sizes = layer_sizes(2, (1,), 1)
    # J per pattern is below 0.5, so after the first epoch no epoch can beat
    # the best by 0.5: as scikit-learn's MLP, the loop stops once more than
    # n_iter_no_change epochs have not improved, after 1 + 4 + 1 epochs.
    _, _, (curves, n_iter, diverged, converged), _ = _stack(
        [0, 1], sizes, X, Y, max_iter=100, tol=0.5, n_iter_no_change=4
    )
    np.testing.assert_array_equal(n_iter, [6, 6])
    assert converged.all() and (diverged == -1).all()
    assert curves.shape == (2, 6)
    # a tiny tol never triggers within a short run
    _, _, (curves, n_iter, _, converged), _ = _stack(
        [0], sizes, X, Y, max_iter=30, tol=0.0, n_iter_no_change=30
    )
    assert n_iter[0] == 30 and not converged[0]


def test_stopped_network_keeps_its_weights_in_a_stack():
    """A network stopped by tol in a stack equals the same network alone."""
    X, _, Y, _ = make_squares(20, 0, random_state=1)
    sizes = layer_sizes(2, (3,), 2)
    kwargs = dict(max_iter=60, tol=3e-4, n_iter_no_change=3)
    seeds = [0, 5, 9, 1]
    coefs, _, (curves, n_iter, _, converged), _ = _stack(seeds, sizes, X, Y, **kwargs)
    assert len(set(n_iter)) > 1  # some networks were frozen while others ran on
    for k, seed in enumerate(seeds):
        c1, _, (curve1, n1, _, v1), _ = _stack([seed], sizes, X, Y, **kwargs)
        assert n_iter[k] == n1[0] and converged[k] == v1[0]
        np.testing.assert_allclose(coefs[0][k], c1[0][0], rtol=1e-12)
        np.testing.assert_allclose(curves[k, : n1[0]], curve1[0], rtol=1e-12)
    assert converged.all()


def test_verbose_prints_every_epoch(capsys):
    X, y = make_boolean("or")
    sizes = layer_sizes(2, (1,), 1)
    _stack([0], sizes, X, y[:, None].astype(float), max_iter=3, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "Iteration 1",
        "Iteration 2",
        "Iteration 3",
    ]


def test_init_params_same_alone_or_stacked():
    sizes = layer_sizes(3, (4, 2), 2)
    stacked = init_params(sizes, [np.random.RandomState(s) for s in (0, 1, 2)])
    for k, s in enumerate((0, 1, 2)):
        alone = init_params(sizes, [np.random.RandomState(s)])
        for a, b in zip([*stacked[0], *stacked[1]], [*alone[0], *alone[1]]):
            np.testing.assert_array_equal(a[k], b[0])
    bound = np.sqrt(2 / (3 + 4))
    assert np.abs(stacked[0][0]).max() <= bound
    assert np.abs(stacked[0][0]).max() > 0.5 * bound
    assert [c.shape for c in stacked[0]] == [(3, 3, 4), (3, 4, 2), (3, 2, 2)]


class _Copies(UpdateRule):
    """Backprop's changes handed back in arrays of the rule's own choosing:
    fresh copies (``layout="copies"``) or views of one flat array whose order
    differs from the parameters' (``layout="biases_first"``)."""

    def __init__(self, layout, rate=0.5):
        self.inner, self.layout = BackpropRule(rate), layout

    def start(self, step):
        self.inner.start(step)
        K = step.n_networks
        shapes = [w.shape for w in step.coefs] + [b.shape for b in step.intercepts]
        sizes = [int(np.prod(s[1:])) for s in shapes]
        self.flat = np.zeros((K, sum(sizes)))
        # biases first, then weights: a flat array, but not the parameters' order
        order = list(range(len(step.coefs), len(shapes))) + list(range(len(step.coefs)))
        views, pos = [None] * len(shapes), 0
        for i in order:
            views[i] = self.flat[:, pos : pos + sizes[i]].reshape(shapes[i])
            pos += sizes[i]
        self.views = views

    def __call__(self, step):
        dcoefs, dintercepts = self.inner(step)
        if self.layout == "copies":
            return [d.copy() for d in dcoefs], [d.copy() for d in dintercepts]
        for v, d in zip(self.views, [*dcoefs, *dintercepts]):
            v[...] = d
        L = len(dcoefs)
        return self.views[:L], self.views[L:]


@pytest.mark.parametrize("layout", ["copies", "biases_first"])
def test_any_layout_of_changes_is_applied_alike(layout):
    """The one-addition path for flat changes and the per-layer path agree,
    with all networks running and with one stopped early."""
    X, y = make_boolean("xor")
    Y = y[:, None].astype(float)
    sizes = layer_sizes(2, (3,), 1)
    kwargs = dict(max_iter=40, tol=1e-3, n_iter_no_change=2)
    ref_c, ref_b, (ref_curves, ref_n, *_), _ = _stack([0, 4], sizes, X, Y, **kwargs)
    assert ref_n[0] != ref_n[1]  # one network is frozen while the other runs
    rs = [np.random.RandomState(s) for s in (0, 4)]
    c, b = init_params(sizes, rs)
    curves, n_iter, _, _ = train(c, b, X, Y, _Copies(layout), **kwargs)
    np.testing.assert_array_equal(n_iter, ref_n)
    np.testing.assert_allclose(curves, ref_curves, rtol=1e-12)
    for a, r in zip([*c, *b], [*ref_c, *ref_b]):
        np.testing.assert_allclose(a, r, rtol=1e-12)


def test_caller_arrays_receive_the_weights_even_when_training_stops_midway():
    X, y = make_boolean("and")
    Y = y[:, None].astype(float)
    sizes = layer_sizes(2, (2,), 1)

    class Stop(Exception):
        pass

    def stop_after_six(step, dcoefs, dintercepts):
        if step.step == 6:
            raise Stop

    c, b = init_params(sizes, [np.random.RandomState(0)])
    with pytest.raises(Stop):
        train(c, b, X, Y, BackpropRule(0.5), max_iter=5, callback=stop_after_six)
    # six updates applied: one epoch of four and two patterns of the next
    c6, b6 = init_params(sizes, [np.random.RandomState(0)])
    train(c6, b6, X, Y, BackpropRule(0.5), max_iter=1)
    train(c6, b6, X[:2], Y[:2], BackpropRule(0.5), max_iter=1)
    for a, r in zip([*c, *b], [*c6, *b6]):
        np.testing.assert_allclose(a, r, rtol=1e-12)


def test_forward_allocates_missing_buffers():
    coefs, intercepts, X, _ = _random_problem((3,), seed=2, K=2, batch=4)
    ins, acts = forward(coefs, intercepts, X, "tanh", "identity")
    assert acts[0] is X and len(acts) == 3 and len(ins) == 2
    z1 = np.matmul(X, coefs[0]) + intercepts[0][:, None, :]
    np.testing.assert_allclose(ins[0], z1)
    np.testing.assert_allclose(acts[1], np.tanh(z1))
    np.testing.assert_allclose(acts[2], acts[1] @ coefs[1] + intercepts[1][:, None])
    # given buffers are filled, missing ones allocated
    buf = np.empty_like(ins[1])
    ins2, acts2 = forward(
        coefs, intercepts, X, "tanh", "identity", ins=[None, buf], acts=[None, None]
    )
    assert ins2[1] is buf
    np.testing.assert_array_equal(acts2[2], acts[2])


def test_velocity_must_fit_the_networks():
    coefs, intercepts, X, Y = _random_problem((3,), seed=0, K=1)
    wrong = ([np.zeros((1, 9, 9))], [np.zeros((1, 9))])
    rule = BackpropRule(0.1, 0.5, velocity=wrong)
    with pytest.raises(ValueError, match="velocity does not match"):
        train(coefs, intercepts, X[0], Y[0], rule, max_iter=1)
