"""TrajectoryRecorder: the recorded rows are backprop's states and changes."""

import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.neural_network import MLPClassifier

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp._modes import DELTA_VARIABLES, LINK_VARIABLES
from sk_metabp.datasets import make_boolean, make_squares

RATE = 0.23


def _squares(n=12):
    X, _, Y, _ = make_squares(n, 0, random_state=0)
    return X, Y


def _record(estimator, X, y, **kwargs):
    kwargs.setdefault("dtype", np.float64)
    kwargs.setdefault("random_state", 0)
    rec = TrajectoryRecorder(estimator, **kwargs)
    return rec, rec.record(X, y)


def _param_names(sizes):
    """Weight and bias column names, built from the naming scheme alone."""
    weights = [
        f"w{l}_{i}_{j}"
        for l in range(1, len(sizes))
        for j in range(sizes[l - 1])
        for i in range(sizes[l])
    ]
    biases = [f"b{l}_{i}" for l in range(1, len(sizes)) for i in range(sizes[l])]
    return weights + biases


def _reference_backprop(frame, sizes, rate):
    """Each row's forward pass and backprop change, recomputed from its w, b, x, ev.

    Plain numpy on the frame's columns, independent of the library's loop:
    returns per-layer net inputs, activations (layer 0 = x) and deltas, and the
    changes keyed by column name.
    """
    L = len(sizes) - 1
    W = [None] + [
        np.stack(
            [
                np.stack(
                    [frame[f"w{l}_{i}_{j}"].to_numpy() for i in range(sizes[l])],
                    axis=1,
                )
                for j in range(sizes[l - 1])
            ],
            axis=1,
        )  # (rows, n_{l-1}, n_l)
        for l in range(1, L + 1)
    ]
    B = [None] + [
        frame[[f"b{l}_{i}" for i in range(sizes[l])]].to_numpy()
        for l in range(1, L + 1)
    ]
    acts = [frame[[f"x_{j}" for j in range(sizes[0])]].to_numpy()]
    ins = [None]
    for l in range(1, L + 1):
        ins.append(np.einsum("rj,rji->ri", acts[-1], W[l]) + B[l])
        acts.append(1.0 / (1.0 + np.exp(-ins[-1])))
    ev = frame[[f"ev_{i}" for i in range(sizes[L])]].to_numpy()
    deltas = [None] * (L + 1)
    deltas[L] = (ev - acts[L]) * acts[L] * (1 - acts[L])
    for l in range(L - 1, 0, -1):
        back = np.einsum("rh,rih->ri", deltas[l + 1], W[l + 1])
        deltas[l] = back * acts[l] * (1 - acts[l])
    changes = {}
    for l in range(1, L + 1):
        for i in range(sizes[l]):
            changes[f"db{l}_{i}"] = rate * deltas[l][:, i]
            for j in range(sizes[l - 1]):
                changes[f"dw{l}_{i}_{j}"] = rate * deltas[l][:, i] * acts[l - 1][:, j]
    return ins, acts, deltas, ev, changes


# --- network mode: the rows are the training --------------------------------------


@pytest.mark.parametrize("variables", ["paper", "all"])
@pytest.mark.parametrize("hidden", [(1,), (3, 2)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_network_rows_chain_and_are_backprops_changes(variables, hidden, shuffle):
    X, Y = _squares()
    est = BackpropMLPClassifier(
        hidden_layer_sizes=hidden, learning_rate_init=RATE, max_iter=4, shuffle=shuffle
    )
    rec, frame = _record(est, X, Y, variables=variables, n_runs=3)
    sizes = rec.layer_sizes_
    params = _param_names(sizes)
    targets = ["d" + p for p in params]
    assert set(params) <= set(rec.feature_names_) and rec.target_names_ == targets
    for k in range(3):
        run = frame[frame["run"] == k]
        assert np.array_equal(run["step"], np.arange(len(X) * 4))
        state = run[params].to_numpy()
        change = run[targets].to_numpy()
        # the state in row t + 1 is the state in row t plus its targets, exactly
        np.testing.assert_array_equal(state[1:], state[:-1] + change[:-1])
        ins, acts, deltas, ev, ref = _reference_backprop(run, sizes, RATE)
        np.testing.assert_allclose(
            change, np.column_stack([ref[t] for t in targets]), rtol=1e-10, atol=1e-15
        )
        L = len(sizes) - 1
        y = run[[f"y_{i}" for i in range(sizes[L])]].to_numpy()
        np.testing.assert_allclose(y, acts[L], rtol=1e-12)
        if variables != "all":
            continue
        for l in range(1, L + 1):
            cols = [f"{{}}{l}_{i}" for i in range(sizes[l])]
            got = {
                v: run[[c.format(v) for c in cols]].to_numpy()
                for v in ("in", "fp", "delta")
            }
            np.testing.assert_allclose(got["in"], ins[l], rtol=1e-12, atol=1e-15)
            fp = acts[l] * (1 - acts[l])
            np.testing.assert_allclose(got["fp"], fp, rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(got["delta"], deltas[l], rtol=1e-10, atol=1e-16)
            if l < L:
                h = run[[f"h{l}_{i}" for i in range(sizes[l])]].to_numpy()
                np.testing.assert_allclose(h, acts[l], rtol=1e-12)
            # rule (3) from the recorded delta and x columns
            prev = (
                run[[f"x_{j}" for j in range(sizes[0])]]
                if l == 1
                else run[[f"h{l - 1}_{j}" for j in range(sizes[l - 1])]]
            ).to_numpy()
            for i in range(sizes[l]):
                d = run[f"delta{l}_{i}"].to_numpy()
                np.testing.assert_allclose(
                    run[f"db{l}_{i}"], RATE * d, rtol=1e-14, atol=1e-300
                )
                for j in range(sizes[l - 1]):
                    np.testing.assert_allclose(
                        run[f"dw{l}_{i}_{j}"], RATE * d * prev[:, j], rtol=1e-14
                    )
        J = 0.5 * ((ev - y) ** 2).sum(axis=1)
        np.testing.assert_allclose(run["J"], J, rtol=1e-12)


def _flat(est):
    return np.concatenate(
        [c.ravel() for c in est.coefs_] + [b.ravel() for b in est.intercepts_]
    )


@pytest.mark.parametrize(
    "est, data",
    [
        (BackpropMLPClassifier((3,), max_iter=5, shuffle=False), "squares"),
        (BackpropMLPClassifier((3,), max_iter=5, shuffle=True), "squares"),
        (BackpropMLPClassifier((), max_iter=5, shuffle=True), "and"),
        (BackpropMLPRegressor((4,), max_iter=5, batch_size=1), "regression"),
    ],
    ids=["clf", "clf-shuffle", "clf-no-hidden", "regressor"],
)
def test_run_k_is_fit_with_seed_k(est, data):
    if data == "squares":
        X, y = _squares()
    elif data == "and":
        X, y = make_boolean("and")
    else:
        rng = np.random.RandomState(0)
        X = rng.uniform(-1, 1, (15, 3))
        y = np.c_[X[:, 0] * X[:, 1], np.sin(X[:, 2])]
    rec, frame = _record(est, X, y, n_runs=3, random_state=4)
    params = _param_names(rec.layer_sizes_)
    targets = ["d" + p for p in params]
    assert len(set(rec.seeds_)) == 3
    for k, seed in enumerate(rec.seeds_):
        fit = clone(est).set_params(random_state=seed).fit(X, y)
        np.testing.assert_allclose(rec.loss_curves_[k], fit.loss_curve_, rtol=1e-12)
        last = frame[frame["run"] == k].iloc[-1]
        final = last[params].to_numpy(float) + last[targets].to_numpy(float)
        np.testing.assert_allclose(final, _flat(fit), rtol=1e-12, atol=1e-15)
    # and the runs differ from one another
    assert not np.allclose(rec.loss_curves_[0], rec.loss_curves_[1])


# --- link and delta modes agree with network mode ---------------------------------


def _by_update(frame, values):
    """Link or delta rows as one row per (run, step), units as columns."""
    return frame.pivot(index=["run", "step"], columns="unit", values=values)


def test_link_rows_gather_back_to_the_network_rows():
    X, Y = _squares()
    est = BackpropMLPClassifier((3, 2), max_iter=3, shuffle=True)
    net, nf = _record(est, X, Y, variables="all", n_runs=2)
    link, lf = _record(
        est,
        X,
        Y,
        mode="link",
        variables=list(LINK_VARIABLES),
        target="change",
        n_runs=2,
    )
    sizes = net.layer_sizes_
    L = len(sizes) - 1
    params = _param_names(sizes)
    assert list(link.units_[: len(params)]) == params
    nf = nf.set_index(["run", "step"])
    # targets: each link's change is the network-mode change of the same update
    np.testing.assert_array_equal(
        _by_update(lf, "dw")[params].to_numpy(), nf[["d" + p for p in params]]
    )

    def act(l, j):  # activation of neuron j of layer l, as network-mode columns
        if l == 0:
            return nf[f"x_{j}"]
        return nf[f"h{l}_{j}"] if l < L else nf[f"y_{j}"]

    def err(l, i):
        if l == L:
            return nf[f"ev_{i}"] - nf[f"y_{i}"]
        return sum(
            nf[f"delta{l + 1}_{h}"] * nf[f"w{l + 1}_{h}_{i}"]
            for h in range(sizes[l + 1])
        )

    for unit in params:
        l, i, *j = (int(g) for g in re.findall(r"\d+", unit))
        expected = {
            "w": nf[unit],
            "a": act(l - 1, j[0]) if j else 1.0,
            "in": nf[f"in{l}_{i}"],
            "fp": nf[f"fp{l}_{i}"],
            "y": act(l, i),
            "err": err(l, i),
            "delta": nf[f"delta{l}_{i}"],
            "is_bias": 0.0 if j else 1.0,
            "is_output": float(l == L),
            "depth": l / L,
            "fan_in": float(sizes[l - 1]),
        }
        got = lf[lf["unit"] == unit].set_index(["run", "step"])
        for var, value in expected.items():
            np.testing.assert_allclose(
                got[var], np.broadcast_to(value, len(got)), rtol=1e-12, err_msg=var
            )


def test_delta_targets_are_the_hidden_deltas_of_network_mode():
    X, Y = _squares()
    est = BackpropMLPClassifier((3, 2), max_iter=3, shuffle=True)
    net, nf = _record(est, X, Y, variables=["delta", "in", "fp", "h", "w"], n_runs=2)
    dm, df = _record(est, X, Y, mode="delta", variables=list(DELTA_VARIABLES), n_runs=2)
    sizes = net.layer_sizes_
    hidden = [(l, i) for l in range(1, len(sizes) - 1) for i in range(sizes[l])]
    units = [f"h{l}_{i}" for l, i in hidden]
    assert list(dm.units_[: len(units)]) == units
    nf = nf.set_index(["run", "step"])
    np.testing.assert_array_equal(
        _by_update(df, "delta")[units].to_numpy(),
        nf[[f"delta{l}_{i}" for l, i in hidden]],
    )
    for l, i in hidden:
        got = df[df["unit"] == f"h{l}_{i}"].set_index(["run", "step"])
        outgoing = [f"w{l + 1}_{h}_{i}" for h in range(sizes[l + 1])]
        back = sum(nf[f"delta{l + 1}_{h}"] * nf[w] for h, w in enumerate(outgoing))
        expected = {
            "in": nf[f"in{l}_{i}"],
            "fp": nf[f"fp{l}_{i}"],
            "h": nf[f"h{l}_{i}"],
            "back": back,
            "w_out": nf[outgoing].abs().sum(axis=1),
            "depth": l / (len(sizes) - 1),
            "fan_out": float(sizes[l + 1]),
        }
        for var, value in expected.items():
            np.testing.assert_allclose(
                got[var], np.broadcast_to(value, len(got)), rtol=1e-12, err_msg=var
            )
        # rule (6): delta = f'(in) * back
        np.testing.assert_allclose(got["delta"], got["fp"] * got["back"], rtol=1e-12)


# --- columns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task, hidden, variables, n_in, n_out",
    [
        ("and", (1,), None, 9, 5),
        ("and", (), None, 7, 3),
        ("or", (4,), None, 21, 17),
        ("squares", (5,), "paper+h", 38, 27),
    ],
    ids=["exp1-AND-2-1-1", "exp2-AND-2-0-1", "exp3-OR-2-4-1", "exp4-squares-2-5-2"],
)
def test_learning_network_sizes_of_the_papers_experiments(
    task, hidden, variables, n_in, n_out
):
    X, y = _squares() if task == "squares" else make_boolean(task)
    est = BackpropMLPClassifier(hidden, max_iter=1)
    rec, frame = _record(est, X, y, variables=variables)
    assert len(rec.feature_names_) == n_in and len(rec.target_names_) == n_out
    assert list(frame.columns) == (
        ["run", "epoch", "step"] + rec.feature_names_ + rec.target_names_
    )
    assert frame[rec.feature_names_].shape == (len(X), n_in)


def test_link_mode_has_the_same_columns_for_every_topology():
    X, Y = _squares()
    columns = set()
    for hidden in [(), (1,), (5,), (3, 2)]:
        est = BackpropMLPClassifier(hidden, max_iter=1)
        rec, frame = _record(est, X, Y, mode="link")
        n_params = len(_param_names(rec.layer_sizes_))
        assert len(frame) == len(X) * n_params
        assert rec.target_names_ == ["dw_n"]
        columns.add(tuple(frame.columns))
    assert len(columns) == 1


def test_the_regressor_can_be_recorded_in_every_mode():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (10, 3))
    y = X[:, 0] - 2 * X[:, 1] * X[:, 2]
    est = BackpropMLPRegressor(
        (4,), max_iter=2, batch_size=1, momentum=0.0, shuffle=False
    )
    for mode in ("network", "link", "delta"):
        rec, frame = _record(est, X, y, mode=mode)
        R = {"network": 1, "link": 3 * 4 + 4 + 4 + 1, "delta": 4}[mode]
        values = frame.drop(columns="unit", errors="ignore").to_numpy(float)
        assert len(frame) == 20 * R and np.isfinite(values).all()
    # the recorded inputs and targets are the regressor's standardised ones
    rec, frame = _record(est, X, y)
    x = frame.loc[: len(X) - 1, ["x_0", "x_1", "x_2"]].to_numpy()
    np.testing.assert_allclose(x, (X - X.mean(0)) / X.std(0), rtol=1e-12)
    np.testing.assert_allclose(
        frame.loc[: len(X) - 1, "ev_0"], (y - y.mean()) / y.std(), rtol=1e-12
    )


def test_default_dtype_is_float32_and_units_are_categorical():
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(BackpropMLPClassifier((1,), max_iter=2), mode="link")
    frame = rec.record(X, y)
    assert rec.features_.dtype == rec.targets_.dtype == np.float32
    assert (frame[rec.feature_names_ + rec.target_names_].dtypes == np.float32).all()
    assert isinstance(frame["unit"].dtype, pd.CategoricalDtype)
    assert list(frame["unit"].cat.categories) == _param_names([2, 1, 1])
    np.testing.assert_array_equal(frame["unit"].astype(str), rec.units_)


# --- every ---------------------------------------------------------------------------


@pytest.mark.parametrize("every", [1, 3, 4, 8, 1000])
def test_every_keeps_one_update_per_block_and_every_pattern(every):
    X, y = make_boolean("and")  # 4 patterns: a stride of 4 or 8 would see one
    est = BackpropMLPClassifier((1,), max_iter=100, shuffle=False)
    full, ff = _record(est, X, y, n_runs=2)
    rec, frame = _record(est, X, y, n_runs=2, every=every)
    n_updates = 100 * len(X)
    per_run = -(-n_updates // every)
    assert len(frame) == 2 * per_run
    for k in range(2):
        steps = frame.loc[frame["run"] == k, "step"].to_numpy()
        # exactly one kept update in each block of `every` consecutive ones
        np.testing.assert_array_equal(steps // every, np.arange(per_run))
        np.testing.assert_array_equal(
            frame.loc[frame["run"] == k, "epoch"], steps // len(X)
        )
    # sampling does not change the training: the kept rows are the full rows
    kept = ff.set_index(["run", "step"]).loc[list(zip(frame["run"], frame["step"]))]
    np.testing.assert_array_equal(
        kept[rec.feature_names_ + rec.target_names_].to_numpy(),
        frame[rec.feature_names_ + rec.target_names_].to_numpy(),
    )
    if per_run >= 40:
        # every pattern is sampled, about equally often
        patterns = frame["x_0"] * 2 + frame["x_1"]
        counts = np.bincount(patterns.astype(int), minlength=4)
        assert counts.min() >= 0.1 * len(frame), counts


# --- bad input ---------------------------------------------------------------------


BAD = [
    ({"variables": ["w", "nope"]}, ValueError, r"Unknown variable\(s\) \['nope'\]"),
    ({"variables": "paper", "mode": "link"}, ValueError, "Unknown variable"),
    ({"variables": ["w", "w"]}, ValueError, "duplicates"),
    ({"mode": "layer"}, ValueError, "Unknown mode 'layer'"),
    ({"every": 0}, ValueError, "every must be an integer >= 1"),
    ({"every": 2.5}, ValueError, "every must be an integer >= 1"),
    ({"n_runs": 0}, ValueError, "n_runs must be an integer >= 1"),
    ({"n_runs": True}, ValueError, "n_runs must be an integer >= 1"),
    ({"max_rows": 0}, ValueError, "max_rows must be an integer >= 1"),
    ({"dtype": np.int64}, ValueError, "dtype must be a floating point type"),
    ({"estimator": MLPClassifier()}, TypeError, "Cannot record MLPClassifier"),
    ({"estimator": LogisticRegression()}, TypeError, "Cannot record Logistic"),
    (
        {"estimator": LearnedRuleMLPClassifier()},
        TypeError,
        "Cannot record LearnedRuleMLPClassifier",
    ),
    (
        {"estimator": BackpropMLPClassifier(batch_size=4)},
        ValueError,
        "batch_size=4.*Set the teacher's batch_size=1",
    ),
    (
        {"estimator": BackpropMLPRegressor()},  # mini-batches by default
        ValueError,
        "batch_size=32",
    ),
    (
        {"estimator": BackpropMLPClassifier(learning_rate_init=-1.0, max_iter=1)},
        ValueError,
        "learning_rate",
    ),
    (
        {"estimator": BackpropMLPClassifier(hidden_layer_sizes=()), "mode": "delta"},
        ValueError,
        "topology 2-1 has none",
    ),
    (
        {
            "estimator": BackpropMLPClassifier((1,), max_iter=10),
            "n_runs": 2,
            "max_rows": 79,
        },
        ValueError,
        "would hold 80 rows .* more than max_rows=79",
    ),
    # refused before allocating: a recording of 4e12 rows would not fit in memory
    (
        {"estimator": BackpropMLPClassifier((1,), max_iter=10**12)},
        ValueError,
        "4,000,000,000,000 rows",
    ),
]


@pytest.mark.parametrize("params, error, match", BAD)
def test_bad_input_is_refused_before_anything_is_written(params, error, match):
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(**params)
    with pytest.raises(error, match=match):
        rec.record(X, y)
    assert not hasattr(rec, "features_") and not hasattr(rec, "seeds_")
    with pytest.raises(NotFittedError, match="recorded nothing yet"):
        rec.to_frame()


def test_a_failed_refit_keeps_the_previous_recording():
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(BackpropMLPClassifier((1,), max_iter=3), random_state=0)
    before = rec.record(X, y)
    features = rec.features_
    with pytest.raises(ValueError, match="max_rows"):
        rec.set_params(max_rows=5).fit(X, y)
    assert rec.features_ is features
    pd.testing.assert_frame_equal(rec.to_frame(), before)


def test_to_frame_before_fit():
    with pytest.raises(NotFittedError):
        TrajectoryRecorder().to_frame()


def test_a_diverged_run_keeps_its_rows_up_to_the_epoch_before():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(10, 2))
    y = 1000 * rng.uniform(size=10)
    est = BackpropMLPRegressor(
        (3,), batch_size=1, learning_rate_init=5.0, max_iter=50, standardize=False
    )
    with pytest.warns(ConvergenceWarning, match=r"3 of 3 runs diverged \(run 0 at"):
        rec, frame = _record(est, X, y, n_runs=3)
    assert (rec.diverged_ > 1).all()
    params = _param_names(rec.layer_sizes_)
    assert np.isfinite(frame.to_numpy(float)).all()
    for k, seed in enumerate(rec.seeds_):
        run = frame[frame["run"] == k]
        # whole epochs, up to the one before divergence; no unwritten rows
        assert run["epoch"].max() == rec.diverged_[k] - 2
        np.testing.assert_array_equal(run["step"], np.arange(len(run)))
        with pytest.warns(ConvergenceWarning, match="diverged"):
            fit = clone(est).set_params(random_state=seed).fit(X, y)
        last = run.iloc[-1]
        final = last[params].to_numpy(float) + last[["d" + p for p in params]].to_numpy(
            float
        )
        np.testing.assert_allclose(final, _flat(fit), rtol=1e-12)
        n = len(fit.loss_curve_)
        np.testing.assert_allclose(rec.loss_curves_[k, :n], fit.loss_curve_)
        assert np.isnan(rec.loss_curves_[k, n:]).all()
    # float32 cannot hold the huge values before divergence: said, not hidden
    with pytest.warns(RuntimeWarning, match="too large for dtype=float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            TrajectoryRecorder(est, n_runs=3, random_state=0).fit(X, y)


# --- parallel backends, groups, pickling ---------------------------------------------


def _small_recording(**kwargs):
    X, Y = _squares()
    est = BackpropMLPClassifier((3,), max_iter=4, shuffle=True)
    rec = TrajectoryRecorder(est, mode="link", n_runs=3, random_state=0, **kwargs)
    return rec, rec.record(X, Y)


def _same_frame(a, b):
    # 3 runs in 2 workers: stacks of 2 and 1 against one of 3. Each network's
    # arithmetic is its own, so the values agree to the last bits (float64).
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=0)


def test_joblib_workers_give_the_same_frame():
    _, ref = _small_recording(n_jobs=1, dtype=np.float64)
    _, par = _small_recording(n_jobs=2, dtype=np.float64)
    _same_frame(par, ref)


def test_dask_backend_gives_the_same_frame():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    _, ref = _small_recording(n_jobs=1, dtype=np.float64)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        assert joblib.effective_n_jobs(None) == 2
        _, par = _small_recording(dtype=np.float64)
    _same_frame(par, ref)


def test_runs_serve_as_groups_for_group_kfold():
    rec, frame = _small_recording()
    Xs, Ys, groups = frame[rec.feature_names_], frame[rec.target_names_], frame["run"]
    folds = list(GroupKFold(n_splits=3).split(Xs, Ys, groups=groups))
    assert len(folds) == 3
    for train, test in folds:
        assert set(groups.iloc[train]).isdisjoint(groups.iloc[test])
        assert groups.iloc[test].nunique() == 1
    scores = cross_val_score(
        LinearRegression(), Xs, Ys["dw_n"], groups=groups, cv=GroupKFold(n_splits=3)
    )
    assert np.isfinite(scores).all()


def test_pickles_and_is_reproducible(tmp_path):
    rec, frame = _small_recording()
    joblib.dump(rec, tmp_path / "rec.joblib")
    loaded = joblib.load(tmp_path / "rec.joblib")
    pd.testing.assert_frame_equal(loaded.to_frame(), frame, check_exact=True)
    assert loaded.get_params()["mode"] == "link"
    _, again = _small_recording()
    pd.testing.assert_frame_equal(again, frame, check_exact=True)
    other = clone(rec).set_params(random_state=1).record(*_squares())
    assert not np.array_equal(other["dw_n"], frame["dw_n"])


class _HalfBackprop(BackpropMLPClassifier):
    """An estimator with its own update rule: backprop's change, halved."""

    def update_rule(self):
        from sk_metabp.rules import BackpropRule

        return BackpropRule(self.learning_rate_init / 2)


def test_records_an_estimators_own_update_rule():
    # the recorder samples the changes the teacher's update_rule makes
    X, y = make_boolean("and")
    kw = dict(mode="link", n_runs=2, random_state=0)
    half = TrajectoryRecorder(_HalfBackprop((1,), max_iter=1), **kw).fit(X, y)
    full = TrajectoryRecorder(
        BackpropMLPClassifier((1,), learning_rate_init=0.115, max_iter=1), **kw
    ).fit(X, y)
    np.testing.assert_allclose(half.targets_, full.targets_)
    np.testing.assert_array_equal(half.features_, full.features_)
    assert np.abs(half.targets_).max() > 0


def test_verbose_reports_runs_progress_and_rows(capsys):
    X, y = make_boolean("and")
    teacher = BackpropMLPClassifier((1,), max_iter=20)
    quiet = TrajectoryRecorder(teacher, n_runs=3, every=2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    rec = TrajectoryRecorder(teacher, n_runs=3, every=2, random_state=0, verbose=1)
    rec.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Recording teacher 1: 3 runs of 20 epochs")
    assert "40 sampled updates per run, 120 rows; mode='network'" in lines[0]
    # about every tenth of the epochs, in order
    done = [
        int(re.search(r"runs 1-3: (\d+) of 20 epochs done", s)[1]) for s in lines[1:-1]
    ]
    assert done == list(range(2, 20, 2))
    assert re.fullmatch(r"Recorded teacher 1: 3 runs, 120 rows in [\d.]+ s", lines[-1])
    # the printing leaves the recording as it was
    np.testing.assert_array_equal(rec.features_, quiet.features_)
    with pytest.raises(ValueError, match="verbose must be"):
        TrajectoryRecorder(teacher, verbose="yes").fit(X, y)


def test_delta_recording_of_a_batch_teacher_makes_a_frame():
    # one row per hidden neuron and pattern: the unit column names each neuron
    X, y = make_boolean("xor")
    rec = TrajectoryRecorder(
        BackpropMLPClassifier((3,), batch_size=2, max_iter=2), mode="delta", n_runs=1
    )
    frame = rec.record(X, y)
    assert list(frame["unit"].cat.categories) == ["h1_0", "h1_1", "h1_2"]
    assert (frame["unit"].astype(str).to_numpy() == rec.units_).all()
