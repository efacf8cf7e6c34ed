"""The learner's single-precision forward pass, and a learned rule that uses it."""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression

from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean
from sk_metabp.rules import learner_predictor

NORMALISED = ["w", "a_n", "delta_n", "err_n", "log_scale", "is_bias", "is_output"]


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
@pytest.mark.parametrize("hidden", [(8,), (6, 5)])
def test_float32_predictor_agrees_with_predict(activation, hidden):
    rng = np.random.RandomState(0)
    # inputs and targets far from standardised: the folds must undo it
    X = rng.normal(size=(300, 4)) * [1.0, 5.0, 0.01, 100.0] + [3.0, -2.0, 0, 50]
    Y = np.c_[np.sin(X[:, 0]) + X[:, 1] / 5, X[:, 3] / 100] * 1e-3 + 2e-3
    reg = BackpropMLPRegressor(
        hidden, activation=activation, max_iter=20, random_state=0
    ).fit(X, Y)
    expected = reg.predict(X)
    predictor = reg.make_predictor(300, dtype=np.float32)
    assert predictor.ones_column
    got = predictor(X.astype(np.float32))
    with_ones = predictor(np.c_[X, np.ones(300)].astype(np.float32))
    out = np.empty((300, 2))
    assert predictor(X.astype(np.float32), out) is out
    scale = np.abs(expected).max()
    for pred in (got, with_ones, out):
        np.testing.assert_allclose(pred, expected, atol=1e-5 * scale)
    # the float64 path is predict's to the last bit
    np.testing.assert_array_equal(reg.make_predictor(300)(X), expected)


def test_make_predictor_refuses_other_dtypes():
    reg = BackpropMLPRegressor((2,), max_iter=2).fit(np.eye(3), np.arange(3.0))
    with pytest.raises(ValueError, match="float64 or np.float32"):
        reg.make_predictor(3, dtype=np.float16)


def test_learner_predictor_passes_float32_rows_to_predict():
    reg = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    predictor = learner_predictor(reg, 2, dtype=np.float32)
    np.testing.assert_allclose(
        predictor(np.array([[3.0], [4.0]], dtype=np.float32))[:, 0], [6.0, 8.0]
    )


@pytest.fixture(scope="module")
def and_rules():
    X, y = make_boolean("and")
    return {
        target: LearnedRuleMLPClassifier(
            (1,),
            mode="link",
            variables=NORMALISED,
            target=target,
            max_iter=300,
            n_teacher_runs=4,
            random_state=0,
        )
        .fit(X, y)
        .learner_
        for target in ("scaled", "residual_odd")
    }


@pytest.mark.parametrize("target", ["scaled", "residual_odd"])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_float32_learner_trains_as_float64_within_noise(and_rules, target, batch_size):
    X, y = make_boolean("xor")
    X, y = np.tile(X, (4, 1)), np.tile(y, 4)
    results = {}
    for dtype in ("float64", "float32"):
        clf = LearnedRuleMLPClassifier(
            (4,),
            learner=FrozenEstimator(and_rules[target]),
            mode="link",
            variables=NORMALISED,
            target=target,
            batch_size=batch_size,
            learner_dtype=dtype,
            max_iter=30,
        )
        students = clf.fit_learner(X, y).train_students(
            clf.training_data(X, y), list(range(4))
        )
        results[dtype] = students.loss_curves
    assert np.isfinite(results["float64"]).all()
    np.testing.assert_allclose(results["float32"], results["float64"], rtol=1e-4)
    assert not np.array_equal(results["float32"], results["float64"])
