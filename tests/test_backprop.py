"""BackpropMLPClassifier and BackpropMLPRegressor: behaviour, errors, the paper."""

import pickle
import re

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sk_metabp import BackpropMLPClassifier, BackpropMLPRegressor
from sk_metabp._mlp import forward, init_params, layer_sizes, train
from sk_metabp.datasets import make_boolean, make_squares
from sk_metabp.rules import BackpropRule, UpdateRule

ESTIMATORS = [BackpropMLPClassifier, BackpropMLPRegressor]


@pytest.fixture
def blobs():
    X, y = make_blobs(60, n_features=2, centers=3, cluster_std=0.5, random_state=0)
    return X, y


def _params(est):
    return [*est.coefs_, *est.intercepts_]


# --- classifier: predictions ---------------------------------------------------


def test_predict_proba_score_multiclass(blobs):
    X, y = blobs
    clf = BackpropMLPClassifier(
        (5,), learning_rate_init=0.5, max_iter=40, random_state=0
    )
    clf.fit(X, y)
    assert clf.coefs_[-1].shape == (5, 3)  # one output unit per class
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba >= 0).all()
    pred = clf.predict(X)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) == pytest.approx(np.mean(pred == y))
    assert clf.score(X, y) > 0.9


def test_binary_has_one_output_unit():
    X, y = make_boolean("or")
    clf = BackpropMLPClassifier((2,), max_iter=500, random_state=0).fit(X, y)
    assert clf.coefs_[-1].shape == (2, 1) and clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    _, acts = forward(
        [c[None] for c in clf.coefs_],
        [b[None] for b in clf.intercepts_],
        X[None],
        "logistic",
        "logistic",
    )
    np.testing.assert_allclose(proba[:, 1], acts[-1][0, :, 0])
    np.testing.assert_allclose(proba[:, 0], 1 - proba[:, 1])
    np.testing.assert_array_equal(clf.predict(X), (proba[:, 1] > 0.5).astype(int))
    np.testing.assert_array_equal(clf.predict(X), y)


def test_multilabel_squares():
    X, X_test, Y, Y_test = make_squares(200, 100, random_state=0)
    clf = BackpropMLPClassifier(
        (5,), learning_rate_init=0.5, max_iter=60, random_state=0
    )
    clf.fit(X, Y)
    pred = clf.predict(X_test)
    assert pred.shape == (100, 2) and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X_test)
    assert proba.shape == (100, 2) and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    # better than always answering the majority of each label
    majority = np.maximum(Y_test.mean(axis=0), 1 - Y_test.mean(axis=0))
    assert ((pred == Y_test).mean(axis=0) > majority).all()


def test_string_labels(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat"])[y]
    clf = BackpropMLPClassifier(
        (5,), learning_rate_init=0.5, max_iter=40, random_state=0
    )
    clf.fit(X, names)
    assert clf.classes_.tolist() == ["ant", "bee", "cat"]
    assert set(clf.predict(X)) <= set(names)
    assert clf.score(X, names) > 0.9


def test_dataframe_sets_feature_names(blobs):
    X, y = blobs
    df = pd.DataFrame(X, columns=["width", "height"])
    clf = BackpropMLPClassifier(max_iter=5, random_state=0).fit(df, y)
    assert clf.feature_names_in_.tolist() == ["width", "height"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(df), clf.predict(X))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df.rename(columns={"width": "depth"}))
    reg = BackpropMLPRegressor(max_iter=5, random_state=0).fit(df, X[:, 0])
    assert reg.feature_names_in_.tolist() == ["width", "height"]


@pytest.mark.parametrize("hidden", [(), 3, [2, 3]])
def test_hidden_layer_sizes_forms(hidden):
    X, y = make_boolean("and")
    clf = BackpropMLPClassifier(hidden, max_iter=10, random_state=0).fit(X, y)
    expected = [2, *np.atleast_1d(hidden).tolist(), 1]
    assert [c.shape for c in clf.coefs_] == list(zip(expected[:-1], expected[1:]))
    assert clf.n_layers_ == len(expected)
    assert clf.hidden_layer_sizes is hidden  # stored unchanged


def test_no_hidden_layer_learns_and():
    """The paper's experiment 2: a 2-0-1 network learns AND."""
    X, y = make_boolean("and")
    clf = BackpropMLPClassifier(
        (), learning_rate_init=0.23, max_iter=2000, random_state=0
    )
    clf.fit(X, y)
    assert len(clf.coefs_) == 1 and clf.coefs_[0].shape == (2, 1)
    assert clf.score(X, y) == 1.0


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_verbose_prints_iterations(Est, capsys):
    X, y = make_boolean("xor")
    Est(max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"Iteration {i}, loss = \d+\.\d+", line)


# --- incremental training ------------------------------------------------------


def test_partial_fit_requires_classes_first(blobs):
    X, y = blobs
    clf = BackpropMLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "coefs_")
    # the first batch need not hold every class
    first = y != 2
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.coefs_[-1].shape[1] == 3
    for i in range(2, 6):
        clf.partial_fit(X, y)
        assert clf.n_iter_ == 1 and len(clf.loss_curve_) == i
    with pytest.raises(ValueError, match=r"labels \[7\] that are not among"):
        clf.partial_fit(X, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(np.c_[X, X[:, 0]], y)


def test_partial_fit_continues_like_fit():
    """Four partial_fit calls are four epochs of fit, momentum included."""
    X, y = make_boolean("and")
    kw = dict(hidden_layer_sizes=(2,), momentum=0.5, random_state=0)
    full = BackpropMLPClassifier(max_iter=4, **kw).fit(X, y)
    inc = BackpropMLPClassifier(**kw)
    for _ in range(4):
        inc.partial_fit(X, y, classes=[0, 1])
    for a, b in zip(_params(full), _params(inc)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(full.loss_curve_, inc.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("shuffle", [False, True])
def test_warm_start_continues(Est, shuffle, blobs):
    X, y = blobs
    kw = dict(hidden_layer_sizes=(3,), batch_size=4, shuffle=shuffle, random_state=0)
    est = Est(max_iter=3, warm_start=True, **kw).fit(X, y)
    first_curve = list(est.loss_curve_)
    est.fit(X, y)
    # scikit-learn counts n_iter_ per call; the loss curve keeps every epoch
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 6
    assert est.loss_curve_[:3] == first_curve
    # 3 + 3 warm-started epochs are the same as 6 in one go
    straight = Est(max_iter=6, **kw).fit(X, y)
    for a, b in zip(_params(est), _params(straight)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # without warm_start, fit starts afresh
    cold = Est(max_iter=3, **kw).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 3 and cold.loss_curve_ == first_curve


def test_warm_start_refuses_new_labels(blobs):
    X, y = blobs
    clf = BackpropMLPClassifier(max_iter=2, warm_start=True, random_state=0)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where y has"):
        clf.fit(X, y + 1)
    # a subset of the classes is refused too, as scikit-learn does
    keep = y < y.max()
    with pytest.raises(ValueError, match="warm_start can only be used where y has"):
        clf.fit(X[keep], y[keep])


def test_partial_fit_refuses_other_classes_later(blobs):
    X, y = blobs
    classes = np.unique(y)
    clf = BackpropMLPClassifier(random_state=0).partial_fit(X, y, classes=classes)
    clf.partial_fit(X, y, classes=classes)  # the same classes again are fine
    with pytest.raises(ValueError, match="is not the same as on the first call"):
        clf.partial_fit(X, y, classes=classes[:-1])


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_partial_fit_streams_one_sample_at_a_time(Est):
    X, y = make_boolean("and")
    kw = {"classes": [0, 1]} if Est is BackpropMLPClassifier else {}
    est = Est((2,), random_state=0, shuffle=False)
    for _ in range(3):
        for i in range(4):
            est.partial_fit(X[i : i + 1], y[i : i + 1], **kw)
    assert len(est.loss_curve_) == 12 and est.n_iter_ == 1
    assert np.isfinite(est.predict(X)).all()


# --- bad input -----------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "X, y, error, match",
    [
        ([[0.0, np.nan], [1.0, 0.0]], [0, 1], ValueError, "Input X contains NaN"),
        ([[0.0, np.inf], [1.0, 0.0]], [0, 1], ValueError, "Input X contains infinity"),
        (np.empty((0, 2)), [], ValueError, "0 sample"),
        ([[0.0, 1.0]], [1], ValueError, r"1 sample\(s\) .* minimum of 2"),
        ([[0.0, 1.0], [1.0, 0.0]], [0, np.nan], ValueError, "Input y contains NaN"),
        ([[0.0, 1.0], [1.0, 0.0]], [0, 1, 1], ValueError, "inconsistent numbers"),
        ([0.0, 1.0], [0, 1], ValueError, "Expected 2D array"),
    ],
)
def test_bad_input(Est, X, y, error, match):
    with pytest.raises(error, match=match):
        Est(max_iter=2).fit(np.asarray(X), np.asarray(y))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_trains_as_its_dense_twin(Est, fmt):
    X, y = make_boolean("xor")
    X_sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    kw = dict(hidden_layer_sizes=(3,), max_iter=20, random_state=0)
    dense = Est(**kw).fit(X, y)
    sparse_fit = Est(**kw).fit(X_sparse, y)
    for a, b in zip(_params(dense), _params(sparse_fit)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sparse_fit.predict(X_sparse), dense.predict(X))


def test_one_class_is_refused():
    with pytest.raises(ValueError, match=r"only one class \('yes'\)"):
        BackpropMLPClassifier(max_iter=2).fit(np.eye(3), ["yes"] * 3)


def test_continuous_target_is_refused_by_classifier():
    with pytest.raises(ValueError, match="Unknown label type: 'continuous'"):
        BackpropMLPClassifier(max_iter=2).fit(np.eye(3), [0.5, 1.5, 2.25])


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_wrong_n_features_at_predict(Est):
    X, y = make_boolean("and")
    est = Est(max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* expecting 2"):
        est.predict(np.ones((2, 3)))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_predict_before_fit(Est):
    methods = ["predict"] + (["predict_proba"] if Est is BackpropMLPClassifier else [])
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(Est(), method)(np.eye(2))


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(hidden_layer_sizes=(0,)), ValueError, "tuple of positive integers"),
        (dict(hidden_layer_sizes=(2.5,)), ValueError, "tuple of positive integers"),
        (dict(hidden_layer_sizes="2"), InvalidParameterError, "hidden_layer_sizes"),
        (dict(learning_rate_init=0.0), InvalidParameterError, "learning_rate"),
        (dict(momentum=1.0), InvalidParameterError, "momentum"),
        (dict(batch_size=0), InvalidParameterError, "batch_size"),
        (dict(max_iter=0), InvalidParameterError, "max_iter"),
    ],
)
def test_bad_parameters(params, error, match):
    X, y = make_boolean("and")
    with pytest.raises(error, match=match):
        BackpropMLPClassifier(**params).fit(X, y)


def test_no_nan_output_with_huge_learning_rate():
    # logistic outputs saturate, so the weights grow huge but stay finite
    X, y = make_boolean("xor")
    clf = BackpropMLPClassifier(
        (3,), learning_rate_init=1e300, max_iter=20, random_state=0
    )
    clf.fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert set(clf.predict(X)) <= {0, 1}


class _InfRule(UpdateRule):
    """Backprop's changes until update ``at_step``, then infinite ones."""

    def __init__(self, at_step):
        self.inner, self.at_step = BackpropRule(0.5), at_step

    def start(self, step):
        self.inner.start(step)

    def __call__(self, step):
        dcoefs, dintercepts = self.inner(step)
        if step.step >= self.at_step:
            dcoefs[-1][...] = np.inf
        return dcoefs, dintercepts


class _DivergingClassifier(BackpropMLPClassifier):
    """A classifier whose update rule blows up at update 10 (in epoch 3)."""

    def update_rule(self):
        return _InfRule(at_step=10)


def test_diverging_rule_keeps_last_finite_weights():
    X, y = make_boolean("xor")
    clf = _DivergingClassifier(
        (3,), learning_rate_init=0.5, max_iter=20, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="diverged at epoch 3:"):
        clf.fit(X, y)
    assert clf.diverged_ and clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    two_epochs = BackpropMLPClassifier(
        (3,), learning_rate_init=0.5, max_iter=2, random_state=0
    ).fit(X, y)
    for a, b in zip(_params(clf), _params(two_epochs)):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_no_nan_proba_when_every_unit_is_silent(blobs):
    X, y = blobs
    clf = BackpropMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    clf.intercepts_[-1][:] = -1e4  # every sigmoid output underflows to exactly 0
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba, np.full((60, 3), 1 / 3))


# --- persistence ---------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_joblib_round_trip(Est, blobs, tmp_path):
    X, y = blobs
    est = Est(max_iter=5, random_state=0).fit(X, y)
    joblib.dump(est, tmp_path / "est.joblib")
    loaded = joblib.load(tmp_path / "est.joblib")
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.get_params() == est.get_params()
    again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_skops_round_trip(Est, blobs):
    sio = pytest.importorskip("skops.io")
    X, y = blobs
    est = Est(max_iter=5, random_state=0).fit(X, y)
    dumped = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=dumped)
    assert all(t.startswith("sk_metabp.") for t in untrusted), untrusted
    loaded = sio.loads(dumped, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


# --- the paper's experiment 1 --------------------------------------------------


def test_experiment_1_and_success_rate():
    """AND on a 2-1-1 net, rate 0.23, 5000 online epochs, seeds 0..19.

    Measured: 20 of 20 seeds (rate 1.0) reach 100% training accuracy, every
    final epoch loss about 5e-4. The threshold leaves room for 2 failures.
    """
    X, y = make_boolean("and")
    seeds = range(20)
    # one lockstep stack, initialised exactly as the estimator does per seed
    rs = [np.random.RandomState(s) for s in seeds]
    coefs, intercepts = init_params(layer_sizes(2, (1,), 1), rs)
    curves, n_iter, diverged, _ = train(
        coefs, intercepts, X, y[:, None].astype(float), BackpropRule(0.23),
        max_iter=5000,
    )  # fmt: skip
    assert (n_iter == 5000).all() and (diverged == -1).all()
    _, acts = forward(coefs, intercepts, np.stack([X] * 20), "logistic", "logistic")
    accuracy = ((acts[-1][..., 0] > 0.5) == y).mean(axis=1)
    success_rate = np.mean(accuracy == 1.0)
    assert success_rate >= 0.9, accuracy
    # the loss fell on every seed
    assert (curves[:, -1] < 0.1 * curves[:, 0]).all()

    # a couple of seeds through the estimator agree with the stack
    for s in (0, 13):
        clf = BackpropMLPClassifier(
            hidden_layer_sizes=(1,),
            learning_rate_init=0.23,
            max_iter=5000,
            random_state=s,
        ).fit(X, y)
        assert clf.score(X, y) == accuracy[s]
        np.testing.assert_allclose(clf.loss_curve_, curves[s], rtol=1e-10)
        for a, b in zip(_params(clf), [*coefs, *intercepts]):
            np.testing.assert_allclose(a, b[s], rtol=1e-10)


# --- regressor -----------------------------------------------------------------


def _smooth(X):
    return np.c_[np.sin(2 * X[:, 0]), X[:, 1] * X[:, 2], np.exp(-(X[:, 0] ** 2))]


@pytest.mark.parametrize("activation", ["logistic", "tanh"])
def test_regressor_fits_smooth_multi_output(activation):
    rng = np.random.RandomState(0)
    X, X_test = rng.uniform(-1, 1, (300, 3)), rng.uniform(-1, 1, (200, 3))
    reg = BackpropMLPRegressor(
        activation=activation,
        learning_rate_init=0.02 if activation == "tanh" else 0.05,
        batch_size=8,
        max_iter=50,
        random_state=0,
    ).fit(X, _smooth(X))
    assert reg.predict(X_test).shape == (200, 3) and reg.n_outputs_ == 3
    assert reg.score(X_test, _smooth(X_test)) > 0.9
    assert reg.out_activation_ == "identity"


def test_regressor_output_shape_follows_y():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (20, 2))
    reg = BackpropMLPRegressor(max_iter=2, random_state=0)
    assert reg.fit(X, X[:, 0]).predict(X).shape == (20,)
    assert reg.fit(X, X[:, :1]).predict(X).shape == (20, 1)
    assert reg.fit(X, X).predict(X).shape == (20, 2)


def test_regressor_standardize():
    rng = np.random.RandomState(0)
    X = np.c_[rng.uniform(-1, 1, (300, 3)), np.full(300, 7.0)]  # a constant column
    Y = _smooth(X)
    reg = BackpropMLPRegressor(max_iter=30, random_state=0).fit(X, Y)
    np.testing.assert_allclose(reg.x_mean_, X.mean(axis=0))
    np.testing.assert_allclose(reg.x_scale_, [*X[:, :3].std(axis=0), 1.0])
    np.testing.assert_allclose(reg.y_mean_, Y.mean(axis=0))
    np.testing.assert_allclose(reg.y_scale_, Y.std(axis=0))

    # standardised, the fit does not depend on the units of X and y
    moved = BackpropMLPRegressor(max_iter=30, random_state=0).fit(
        1000 * X + 5, 1e-3 * Y - 3
    )
    np.testing.assert_allclose(
        (moved.predict(1000 * X + 5) + 3) * 1e3, reg.predict(X), atol=1e-8
    )

    # tiny targets (like a learner's weight changes) need it
    small = 1e-3 * Y
    kw = dict(learning_rate_init=0.05, batch_size=8, max_iter=50, random_state=0)
    on = BackpropMLPRegressor(**kw).fit(X, small)
    off = BackpropMLPRegressor(standardize=False, **kw).fit(X, small)
    np.testing.assert_array_equal(off.x_mean_, 0.0)
    np.testing.assert_array_equal(off.y_scale_, 1.0)
    assert on.score(X, small) > 0.9  # measured 0.997
    assert off.score(X, small) < 0.0  # measured -4.9


def test_regressor_partial_fit():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (40, 2))
    y = X[:, 0] - X[:, 1]
    reg = BackpropMLPRegressor((3,), random_state=0)
    for i in range(1, 4):
        reg.partial_fit(X, y)
        assert reg.n_iter_ == 1 and len(reg.loss_curve_) == i
    with pytest.raises(ValueError, match="y has 2 outputs but the network was fitted"):
        reg.partial_fit(X, np.c_[y, y])


def test_paper_online_learning_network_runs():
    """The paper's learning network settings: 9-2-5, rate 0.198, online, 200
    cycles, plain gradient steps, on learner-like data (small signed targets)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (40, 9))
    Y = 0.01 * (X[:, :5] - X[:, 4:] * X[:, :5])
    reg = BackpropMLPRegressor(
        hidden_layer_sizes=(2,),
        learning_rate_init=0.198,
        batch_size=1,
        momentum=0.0,
        max_iter=200,
        random_state=0,
    ).fit(X, Y)
    assert reg.n_iter_ == 200 and not reg.diverged_
    assert [c.shape for c in reg.coefs_] == [(9, 2), (2, 5)]
    assert np.isfinite(reg.loss_curve_).all()
    assert reg.loss_curve_[-1] < 0.8 * reg.loss_curve_[0]
    assert reg.predict(X).shape == (40, 5)


def test_regressor_fit_does_not_depend_on_the_container_of_y():
    # a DataFrame hands over its values column-major: the fit must not change
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 3))
    Y = np.c_[X @ [1.0, -2.0, 0.5], np.sin(X[:, 0]), X[:, 1] * X[:, 2]]
    fits = [
        BackpropMLPRegressor((8,), max_iter=5, random_state=0).fit(X, Yc)
        for Yc in (Y, np.asfortranarray(Y), pd.DataFrame(Y, columns=["a", "b", "c"]))
    ]
    for other in fits[1:]:
        for a, b in zip(
            [*fits[0].coefs_, *fits[0].intercepts_], [*other.coefs_, *other.intercepts_]
        ):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_number_in_learning_rate_is_the_deprecated_rate(Estimator):
    # scikit-learn's names: learning_rate_init is the rate, learning_rate the
    # schedule; a rate given the old way still trains at that rate, with a warning
    X, y = make_boolean("and")
    new = Estimator((2,), learning_rate_init=0.5, max_iter=5, random_state=0)
    old = Estimator((2,), learning_rate=0.5, max_iter=5, random_state=0)
    with pytest.warns(FutureWarning, match="learning_rate_init=0.5"):
        old.fit(X, y)
    new.fit(X, y)
    np.testing.assert_array_equal(old.coefs_[0], new.coefs_[0])
    default = Estimator((2,), max_iter=5, random_state=0).fit(X, y)
    assert not np.array_equal(default.coefs_[0], new.coefs_[0])
