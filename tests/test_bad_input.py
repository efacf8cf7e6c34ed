"""Bad input, as a new user or an adversary would give it: a clear error each.

Every error names what is wrong and says what to do; no bad input yields a
silent NaN.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp.datasets import make_boolean

X, y = make_boolean("and")


def _regression(scale=1.0, seed=0):
    rng = np.random.RandomState(seed)
    X20 = rng.normal(size=(20, 2)) * scale
    return X20, X20[:, 0] - 0.5 * X20[:, 1]


# -- LearnedRuleMLPClassifier: teachers and frozen learners -------------------


def test_empty_teacher_list_is_refused():
    with pytest.raises(ValueError, match="needs at least one teacher"):
        LearnedRuleMLPClassifier(teacher=[]).fit(X, y)


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_unfitted_frozen_learner_is_named(mode):
    clf = LearnedRuleMLPClassifier(
        mode=mode, learner=FrozenEstimator(BackpropMLPRegressor())
    )
    with pytest.raises(NotFittedError, match="BackpropMLPRegressor is not fitted"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError, match="pass it unfrozen"):
        clf.fit_learner(X, y)


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_partial_fit_records_the_teacher_with_every_class(mode):
    clf = LearnedRuleMLPClassifier(
        (1,), mode=mode, max_iter=3, n_teacher_runs=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        clf.partial_fit(X, [0, 1, 0, 1], classes=[0, 1, 2])
    assert clf.recorder_.layer_sizes_ == [2, 1, 3]
    assert clf.recorder_.teacher_.classes_.tolist() == [0, 1, 2]
    assert clf.predict_proba(X).shape == (4, 3)
    clf.partial_fit(X, [2, 1, 0, 1])
    assert len(clf.loss_curve_) == 2


def test_recorder_classes_only_for_classifier_teachers():
    X20, y20 = _regression()
    rec = TrajectoryRecorder(BackpropMLPRegressor((2,), batch_size=1, max_iter=1))
    with pytest.raises(ValueError, match="classes is for classifier teachers"):
        rec.fit(X20, y20, classes=[0, 1])
    rec = TrajectoryRecorder(BackpropMLPClassifier((1,), max_iter=1))
    frame = rec.record(X, [0, 1, 0, 1], classes=[0, 1, 2])
    assert rec.layer_sizes_ == [2, 1, 3]
    assert "ev_2" in frame.columns


# -- BackpropMLPRegressor: targets and scaling ----------------------------------


def test_regressor_refuses_string_targets():
    X20, _ = _regression()
    with pytest.raises(ValueError, match="y must be numeric"):
        BackpropMLPRegressor().fit(X20, np.array(["1.5", "2"] * 10))


@pytest.mark.parametrize("factor", [1e160, 1e300, 1e-160, 1e-300])
def test_regressor_scaling_of_huge_and_tiny_targets_and_inputs(factor):
    # standardising is scale-equivariant: y * c is fitted as y, predicted * c
    X20, y20 = _regression()
    params = dict(max_iter=5, random_state=0)
    ref = BackpropMLPRegressor(**params).fit(X20, y20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big_y = BackpropMLPRegressor(**params).fit(X20, y20 * factor)
        pred = big_y.predict(X20)
        big_x = BackpropMLPRegressor(**params).fit(X20 * factor, y20)
        pred_x = big_x.predict(X20 * factor)
    assert not big_y.diverged_ and not big_x.diverged_
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred / factor, ref.predict(X20), rtol=1e-6)
    np.testing.assert_allclose(pred_x, ref.predict(X20), rtol=1e-6)


def test_regressor_scaling_of_ordinary_data_is_unchanged():
    # the robust path is only for extreme columns: ordinary ones keep their bits
    X20, y20 = _regression()
    reg = BackpropMLPRegressor(max_iter=1).fit(X20, y20)
    np.testing.assert_array_equal(reg.x_mean_, X20.mean(axis=0))
    np.testing.assert_array_equal(reg.x_scale_, X20.std(axis=0))
    np.testing.assert_array_equal(reg.y_scale_, y20[:, None].std(axis=0))


# -- predictions are never NaN --------------------------------------------------


def test_regressor_predict_on_overflowing_input_is_a_clear_error():
    X20, y20 = _regression(scale=0.1)
    reg = BackpropMLPRegressor(random_state=0).fit(X20, y20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Rescale X"):
            reg.predict(np.full((2, 2), 1e308))
        with pytest.raises(ValueError, match="not finite for 1 of the 2 rows"):
            reg.predict(np.array([[1e308, 1e308], [0.1, 0.2]]))
    assert np.isfinite(reg.predict(X20)).all()


@pytest.mark.parametrize("hidden", [(), (3,)])
def test_classifier_on_huge_input_saturates_or_errs_never_nan(hidden):
    clf = BackpropMLPClassifier(hidden, max_iter=50, random_state=0).fit(X, y)
    huge = np.array([[1e308, -1e308], [1e308, 1e308], [-1e308, 1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(huge)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # whatever makes the output NaN (here 0 * inf) is an error, never a NaN
    clf.coefs_[0][0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in (clf.predict, clf.predict_proba):
            with pytest.raises(ValueError, match="not finite for 1 of the 2 rows"):
                method(np.array([[0.0, 1.0], [1.0, 1.0]]))


# -- a network-mode learner must carry its layout ---------------------------------


def _one_input_task():
    X1 = np.linspace(0, 1, 8)[:, None]
    return X1, (X1[:, 0] > 0.5).astype(int)


def test_network_learner_without_feature_names_is_refused():
    from sklearn.linear_model import Ridge

    # 1-4-1 and 1-2-2-1 rows have 16 columns each, with other meanings
    X1, y1 = _one_input_task()
    rec = TrajectoryRecorder(BackpropMLPClassifier((4,), max_iter=2)).fit(X1, y1)
    unnamed = FrozenEstimator(Ridge().fit(rec.features_, rec.targets_))
    clf = LearnedRuleMLPClassifier((2, 2), learner=unnamed, max_iter=3)
    with pytest.raises(ValueError, match="no feature names") as err:
        clf.fit(X1, y1)
    assert "to_frame()" in str(err.value)
    assert "mode='link'" in str(err.value)
    # the same learner fitted on the recording's DataFrame is checked and refused
    frame = rec.to_frame()
    named = Ridge().fit(frame[rec.feature_names_], frame[rec.target_names_])
    clf.set_params(learner=FrozenEstimator(named))
    with pytest.raises(ValueError, match="topology 1-4-1"):
        clf.fit(X1, y1)
    # ... and accepted on its own topology
    clf.set_params(hidden_layer_sizes=(4,)).fit(X1, y1)
    assert clf.n_iter_ == 3


def test_link_learner_without_feature_names_is_accepted():
    from sklearn.linear_model import Ridge

    X1, y1 = _one_input_task()
    rec = TrajectoryRecorder(BackpropMLPClassifier((4,), max_iter=2), mode="link")
    rec.fit(X1, y1)
    unnamed = FrozenEstimator(Ridge().fit(rec.features_, rec.targets_))
    clf = LearnedRuleMLPClassifier((2, 2), learner=unnamed, mode="link", max_iter=3)
    assert clf.fit(X1, y1).n_iter_ == 3


# -- the recorder's memory is bounded in bytes ------------------------------------


def test_recorder_refuses_a_recording_over_max_bytes_before_allocating():
    from sklearn.datasets import load_digits

    # digits, 64-16-10, every update of 1,000 epochs: 1.8 M rows of 2,504 values
    Xd, yd = load_digits(return_X_y=True)
    rec = TrajectoryRecorder(BackpropMLPClassifier((16,), max_iter=1000))
    assert rec.max_rows >= 1_797_000  # within max_rows: only the bytes stop it
    with pytest.raises(ValueError, match=r"about 16\.8 GiB") as err:
        rec.fit(Xd / 16, yd)
    message = str(err.value)
    assert "1,797,000 rows of 2,504 float32 values" in message
    assert "max_bytes=4.0 GiB" in message and "every=5 or more" in message
    assert not hasattr(rec, "features_")
    rec.set_params(dtype=np.float64)
    with pytest.raises(ValueError, match="dtype=np.float32"):
        rec.fit(Xd / 16, yd)


def test_recorder_max_bytes_is_the_size_of_its_arrays():
    rec = TrajectoryRecorder(BackpropMLPClassifier((1,), max_iter=5), n_runs=2)
    rec.fit(X, y)
    used = (
        sum(
            a.nbytes
            for a in (rec.features_, rec.targets_, rec.runs_, rec.epochs_, rec.steps_)
        )
        + rec.teacher_ids_.nbytes
    )
    assert rec.set_params(max_bytes=used).fit(X, y).features_.shape == (40, 9)
    with pytest.raises(ValueError, match="more than max_bytes"):
        rec.set_params(max_bytes=used - 1).fit(X, y)
    # None bounds rows only, and max_rows still bounds them
    rec.set_params(max_bytes=None, max_rows=39)
    with pytest.raises(ValueError, match="more than max_rows=39"):
        rec.fit(X, y)
    assert rec.set_params(max_rows=40).fit(X, y).features_.shape == (40, 9)


@pytest.mark.parametrize("bad", [0, -1, "4GB", True])
def test_recorder_max_bytes_must_be_positive(bad):
    rec = TrajectoryRecorder(BackpropMLPClassifier((1,), max_iter=1), max_bytes=bad)
    with pytest.raises(ValueError, match="max_bytes must be a positive number"):
        rec.fit(X, y)


# -- a learner that outputs inf is divergence, whatever bounds the changes --------


def _initial_weights(seed):
    from sk_metabp._mlp import init_params

    coefs, intercepts = init_params([2, 1, 1], [np.random.RandomState(seed)])
    return [c[0] for c in coefs] + [b[0] for b in intercepts]


def _inf_student(mode, max_update, on_divergence, seed=0):
    from _broken import constant_learner

    return LearnedRuleMLPClassifier(
        (1,),
        learner=constant_learner(np.inf, mode=mode),
        mode=mode,
        max_update=max_update,
        on_divergence=on_divergence,
        max_iter=20,
        random_state=seed,
    )


@pytest.mark.parametrize("max_update", [1.0, None])
@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_inf_learner_warns_and_never_trains_on_it(mode, max_update):
    clf = _inf_student(mode, max_update, "warn")
    with pytest.warns(Warning, match="diverged at epoch 1") as record:
        clf.fit(X, y)
    assert all(w.category.__name__ == "ConvergenceWarning" for w in record)
    assert clf.diverged_ and clf.n_iter_ == 0
    # the weights it kept are the initial ones: no clipped infinity was applied
    for a, b in zip([*clf.coefs_, *clf.intercepts_], _initial_weights(0)):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("max_update", [1.0, None])
@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_inf_learner_raises(mode, max_update):
    with pytest.raises(FloatingPointError, match="diverged at epoch 1"):
        _inf_student(mode, max_update, "raise").fit(X, y)


@pytest.mark.parametrize("max_update", [1.0, None])
@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_inf_learner_falls_back_to_backprop(mode, max_update):
    clf = _inf_student(mode, max_update, "fallback")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    assert clf.fallback_epoch_ == 1 and not clf.diverged_ and clf.n_iter_ == 20
    # from the initial weights, backprop did the other 19 epochs
    ref = BackpropMLPClassifier((1,), max_iter=19, random_state=0).fit(X, y)
    for a, b in zip([*clf.coefs_, *clf.intercepts_], [*ref.coefs_, *ref.intercepts_]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# -- the matrix: every estimator and the recorder, every kind of bad input -------
#
# Left out on purpose: sparse X and single-sample (partial_)fit. Both belong to
# the scikit-learn parity work, which tests them: sparse X is accepted (and
# densified), and a one-sample partial_fit is a valid chunk for the backprop
# estimators; this matrix does not pin them.

ESTIMATORS = {
    "BackpropMLPClassifier": lambda: BackpropMLPClassifier((2,), max_iter=3),
    "BackpropMLPRegressor": lambda: BackpropMLPRegressor((2,), max_iter=3),
    "LearnedRuleMLPClassifier": lambda: LearnedRuleMLPClassifier(
        (1,), max_iter=2, n_teacher_runs=2, record_every=4
    ),
    "TrajectoryRecorder": lambda: TrajectoryRecorder(
        BackpropMLPClassifier((1,), max_iter=2)
    ),
}
CLASSIFIERS = ["BackpropMLPClassifier", "LearnedRuleMLPClassifier"]
PREDICTORS = ["BackpropMLPClassifier", "BackpropMLPRegressor", *CLASSIFIERS[1:]]


def _with(value, where):
    out = X.astype(object if isinstance(value, str) else float)
    out[where] = value
    return out


#: bad (X, y) at fit: (name, X, y, error, message fragment)
FIT_CASES = [
    ("nan", _with(np.nan, (1, 0)), y, ValueError, "Input X contains NaN"),
    ("inf", _with(np.inf, (1, 0)), y, ValueError, "Input X contains infinity"),
    ("empty", np.empty((0, 2)), np.empty(0), ValueError, "0 sample"),
    ("text X", np.array([["a", "b"]] * 4), y, ValueError, "X must be numeric"),
    ("text in X", _with("a", (2, 1)), y, ValueError, "OneHotEncoder"),
    ("y too short", X, y[:3], ValueError, "inconsistent numbers of samples"),
    ("nan y", X, np.array([0, 1, np.nan, 1]), ValueError, "Input y contains NaN"),
    ("1-d X", X[:, 0], y, ValueError, "Reshape your data"),
    ("3-d X", X[:, :, None], y, ValueError, "dim 3"),
]


@pytest.mark.parametrize("case", FIT_CASES, ids=[c[0] for c in FIT_CASES])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_bad_data_at_fit(name, case):
    _, Xb, yb, error, fragment = case
    est = ESTIMATORS[name]()
    with pytest.raises(error, match=fragment):
        est.fit(Xb, yb)
    assert not hasattr(est, "n_features_in_") and not hasattr(est, "features_")


@pytest.mark.parametrize("name", [*CLASSIFIERS, "TrajectoryRecorder"])
def test_one_class_at_fit(name):
    with pytest.raises(ValueError, match="at least 2 classes"):
        ESTIMATORS[name]().fit(X, np.zeros(4))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_continuous_target_for_a_classifier(name):
    with pytest.raises(ValueError, match="use BackpropMLPRegressor"):
        ESTIMATORS[name]().fit(X, np.linspace(0, 1, 4))


@pytest.mark.parametrize("name", ["BackpropMLPRegressor", "TrajectoryRecorder"])
def test_text_target_for_a_regressor(name):
    est = ESTIMATORS[name]()
    if name == "TrajectoryRecorder":
        est.set_params(estimator=BackpropMLPRegressor((2,), batch_size=1, max_iter=2))
    with pytest.raises(ValueError, match="y must be numeric"):
        est.fit(X, np.array(["0.5", "1", "2", "3"]))


@pytest.fixture(scope="module")
def fitted():
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: ESTIMATORS[name]().fit(frame, y) for name in PREDICTORS}


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("method", ["predict", "score"])
@pytest.mark.parametrize("name", PREDICTORS)
def test_bad_data_at_predict(fitted, name, method):
    import pandas as pd

    est = fitted[name]
    call = getattr(est, method)
    args = () if method == "predict" else (y[:2],)
    with pytest.raises(ValueError, match="expecting 2 features"):
        call(np.ones((2, 3)), *args)
    renamed = pd.DataFrame(X[:2], columns=["a", "c"])
    with pytest.raises(ValueError, match="feature names should match"):
        call(renamed, *args)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        call(_with(np.nan, (0, 0))[:2], *args)
    with pytest.raises(ValueError, match="X must be numeric"):
        call(np.array([["a", "b"]] * 2), *args)
    # the right columns still predict
    assert np.isfinite(est.predict(pd.DataFrame(X, columns=["a", "b"]))).all()


@pytest.mark.parametrize("name", PREDICTORS)
def test_predict_before_fit(name):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ESTIMATORS[name]().predict(X)


def test_recorder_frame_before_fit():
    with pytest.raises(NotFittedError, match="call record"):
        ESTIMATORS["TrajectoryRecorder"]().to_frame()


#: bad hyperparameters: (estimators, parameter, value, error, fragment)
PARAM_CASES = [
    (PREDICTORS, "max_iter", 0, "max_iter' parameter"),
    (PREDICTORS, "hidden_layer_sizes", (0,), "tuple of positive integers"),
    (PREDICTORS, "hidden_layer_sizes", "a", "hidden_layer_sizes' parameter"),
    (PREDICTORS, "batch_size", 0, "batch_size' parameter"),
    (PREDICTORS, "tol", -1, "tol' parameter"),
    (PREDICTORS, "init_scale", 0, "init_scale' parameter"),
    (PREDICTORS, "random_state", "x", "random_state' parameter"),
    (PREDICTORS[:2], "learning_rate_init", 0, "learning_rate_init' parameter"),
    (PREDICTORS[:2], "momentum", 1, "momentum' parameter"),
    (["BackpropMLPRegressor"], "activation", "swish", "activation' parameter"),
    (["LearnedRuleMLPClassifier"], "mode", "x", "mode' parameter"),
    (["LearnedRuleMLPClassifier"], "max_update", 0, "max_update' parameter"),
    (["LearnedRuleMLPClassifier"], "n_teacher_runs", 0, "n_teacher_runs' param"),
    (["LearnedRuleMLPClassifier"], "record_every", 0, "record_every' parameter"),
    (["LearnedRuleMLPClassifier"], "on_divergence", "x", "on_divergence' param"),
    (["LearnedRuleMLPClassifier"], "target", "scaled", "is for mode='link'"),
    (["LearnedRuleMLPClassifier"], "variables", ["zz"], "choose from"),
    (["LearnedRuleMLPClassifier"], "teacher", "x", "teacher' parameter"),
    (["LearnedRuleMLPClassifier"], "learner", "x", "learner' parameter"),
    (["LearnedRuleMLPClassifier"], "batch_size", 2, "trains online"),
    (["TrajectoryRecorder"], "mode", "x", "choose one of"),
    (["TrajectoryRecorder"], "n_runs", 0, "n_runs must be an integer >= 1"),
    (["TrajectoryRecorder"], "every", 0, "every must be an integer >= 1"),
    (["TrajectoryRecorder"], "max_rows", 0, "max_rows must be an integer >= 1"),
    (["TrajectoryRecorder"], "dtype", int, "floating point type"),
    (["TrajectoryRecorder"], "variables", ["zz"], "choose from"),
    (["TrajectoryRecorder"], "target", "x", "is for mode='link'"),
    (["TrajectoryRecorder"], "estimator", "x", "Pass a BackpropMLPClassifier"),
    (["TrajectoryRecorder"], "estimator", [], "pass one teacher or more"),
]
PARAM_CELLS = [
    pytest.param(name, param, value, fragment, id=f"{name}-{param}={value!r}")
    for names, param, value, fragment in PARAM_CASES
    for name in names
]


@pytest.mark.parametrize("name, param, value, fragment", PARAM_CELLS)
def test_bad_hyperparameter(name, param, value, fragment):
    est = ESTIMATORS[name]().set_params(**{param: value})
    # InvalidParameterError is a ValueError (and a TypeError)
    with pytest.raises((ValueError, TypeError), match=fragment):
        est.fit(X, y)
