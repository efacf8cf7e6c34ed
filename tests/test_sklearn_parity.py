"""What scikit-learn's MLPClassifier and MLPRegressor users expect of ours:
their parameter names and, where the meaning is the same, their numbers."""

from functools import partial

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
)
from sk_metabp.datasets import make_boolean


def _sgd_twins(Ours, Theirs, X, y, *, activation, alpha, loss=None, epochs=3):
    """Ours and scikit-learn's online SGD from the same weights: their weights
    after more epochs, which must agree."""
    common = dict(
        hidden_layer_sizes=(3,),
        activation=activation,
        learning_rate_init=0.1,
        alpha=alpha,
        momentum=0.0,
        batch_size=1,
        shuffle=False,
        random_state=0,
    )
    theirs = Theirs(solver="sgd", nesterovs_momentum=False, max_iter=1, tol=0, **common)
    with pytest.warns(ConvergenceWarning):
        theirs.fit(X, y)
    kw = {} if loss is None else {"loss": loss}
    ours = Ours(max_iter=1, warm_start=True, **common, **kw)
    if isinstance(ours, BackpropMLPRegressor):
        ours.set_params(standardize=False)
    ours.fit(X, y)
    for dst, src in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]
    ):
        np.copyto(dst, src)
    for _ in range(epochs):
        theirs.partial_fit(X, y)
        ours.partial_fit(X, y)
    return ours, theirs


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
@pytest.mark.parametrize("alpha", [0.0, 0.01])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_loss_sgd_matches_scikit_learn(activation, alpha, n_classes):
    # binary: one logistic output; more classes: softmax outputs
    X, y = make_classification(
        30, 4, n_informative=3, n_redundant=0, n_classes=n_classes, random_state=0
    )
    ours, theirs = _sgd_twins(
        BackpropMLPClassifier,
        MLPClassifier,
        X,
        y,
        activation=activation,
        alpha=alpha,
        loss="log_loss",
    )
    for a, b in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9
    )
    # the loss curve is the log-loss, without the penalty
    if alpha == 0:
        assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=0.2)


@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_regressor_sgd_matches_scikit_learn(activation):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (30, 3))
    y = X[:, 0] - 0.5 * X[:, 1] * X[:, 2]
    ours, theirs = _sgd_twins(
        BackpropMLPRegressor, MLPRegressor, X, y, activation=activation, alpha=0.01
    )
    for a, b in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_grid_written_for_mlpclassifier_runs():
    X, y = make_classification(60, 4, random_state=0)
    grid = {
        "hidden_layer_sizes": [(4,)],
        "learning_rate_init": [0.1, 0.5],
        "learning_rate": ["constant", "invscaling"],
        "alpha": [0.0, 1e-3],
        "activation": ["logistic", "relu"],
    }
    search = GridSearchCV(BackpropMLPClassifier(max_iter=5, random_state=0), grid, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 16
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_invscaling_lowers_the_step_after_each_epoch():
    X, y = make_boolean("and")
    kw = dict(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    rule = BackpropMLPClassifier(
        learning_rate="invscaling", power_t=0.5, **kw
    ).update_rule()
    net = BackpropMLPClassifier(
        max_iter=3, **{k: v for k, v in kw.items() if k != "max_iter"}
    )
    students = net.train_students(net.training_data(X, y), [0], rule=rule)
    # 3 epochs of 4 patterns: gamma_0 / (t + 1) ** 0.5 with t = 12
    assert rule.rates.ravel()[0] == pytest.approx(0.23 / 13**0.5)
    constant = net.train_students(net.training_data(X, y), [0])
    assert not np.allclose(students.coefs[0], constant.coefs[0])
    np.testing.assert_allclose(students.loss_curves[0, 0], constant.loss_curves[0, 0])


def test_adaptive_divides_the_step_on_a_plateau_instead_of_stopping():
    X, y = make_boolean("and")
    common = dict(hidden_layer_sizes=(2,), max_iter=60, tol=0.5, n_iter_no_change=2)
    constant = BackpropMLPClassifier(random_state=0, **common).fit(X, y)
    assert constant.n_iter_ == 4  # J < 0.5: stops after 1 + 2 + 1 epochs
    adaptive = BackpropMLPClassifier(
        learning_rate="adaptive", random_state=0, **common
    ).fit(X, y)
    # each plateau divides gamma by 5 (0.23, 0.046, ...) until it is below 1e-6
    # at the 9th: 1 epoch, then 3 per plateau
    assert adaptive.n_iter_ == 1 + 3 * 9
    np.testing.assert_array_equal(adaptive.loss_curve_[:4], constant.loss_curve_)


@pytest.mark.parametrize("Est", [BackpropMLPClassifier, BackpropMLPRegressor])
def test_alpha_shrinks_the_weights(Est):
    X, y = make_classification(80, 5, random_state=0)
    kw = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    plain = Est(**kw).fit(X, y)
    decayed = Est(alpha=1.0, **kw).fit(X, y)
    norm = lambda est: sum(float((w**2).sum()) for w in est.coefs_)  # noqa: E731
    assert norm(decayed) < 0.8 * norm(plain)


@pytest.mark.parametrize(
    "Est",
    [
        BackpropMLPClassifier,
        BackpropMLPRegressor,
        partial(LearnedRuleMLPClassifier, learner="pretrained", batch_size=32),
    ],
    ids=["backprop classifier", "backprop regressor", "pretrained rule"],
)
def test_early_stopping_keeps_the_best_validation_epoch(Est):
    X, y = make_classification(200, 5, random_state=0)
    est = Est(
        hidden_layer_sizes=(4,),
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
        max_iter=200,
        random_state=0,
    ).fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ < 200
    assert est.best_validation_score_ == max(scores)
    # stopped once more than 3 epochs had not beaten the best
    best = int(np.argmax(scores))
    assert len(scores) - 1 - best == 4
    # the weights kept are the best epoch's: rescoring the held-out split (the
    # same split again: the same random state) gives the best score
    again = Est(**{**est.get_params(), "max_iter": best + 1, "n_iter_no_change": 1000})
    again.fit(X, y)
    assert again.validation_scores_[-1] == pytest.approx(max(scores))
    for a, b in zip(again.coefs_, est.coefs_):
        np.testing.assert_allclose(a, b)


def test_learned_rule_holds_early_stopping_rows_out_of_its_recordings(monkeypatch):
    X, y = make_classification(120, 4, random_state=0)
    seen = []
    fit_learner = LearnedRuleMLPClassifier.fit_learner

    def spy(self, X, y, **kwargs):
        seen.append(np.asarray(X))
        return fit_learner(self, X, y, **kwargs)

    monkeypatch.setattr(LearnedRuleMLPClassifier, "fit_learner", spy)
    clf = LearnedRuleMLPClassifier(
        (3,),
        mode="link",
        learner=BackpropMLPRegressor((8,), max_iter=20, random_state=0),
        n_teacher_runs=2,
        max_iter=40,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, y)
    assert clf.recorder_ is not None  # the teacher was recorded, on seen[0]
    recorded = {tuple(row) for row in seen[0]}
    held_out = np.array([tuple(row) not in recorded for row in X])
    assert held_out.sum() == 30 and len(seen[0]) == 90
    assert abs(y[held_out].mean() - y.mean()) < 0.02  # stratified
    # the student was scored on exactly the rows the recordings never saw:
    # its kept weights score there what its best epoch did
    assert clf.score(X[held_out], y[held_out]) == clf.best_validation_score_
    assert len(clf.validation_scores_) == clf.n_iter_
    # a column of labels is split (stratified) as the labels themselves are
    column = LearnedRuleMLPClassifier(
        (3,), learner="pretrained", batch_size=32, max_iter=20, early_stopping=True
    )
    with pytest.warns(DataConversionWarning):
        by_column = column.set_params(random_state=0).fit(X, y[:, None])
    assert by_column.validation_scores_ == column.fit(X, y).validation_scores_
    with pytest.raises(ValueError, match="validation_fraction"):
        LearnedRuleMLPClassifier(early_stopping=True, validation_fraction=1.5).fit(X, y)


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_learned_rule_imitates_a_log_loss_teacher(mode):
    X, y = make_classification(
        40,
        3,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    clf = LearnedRuleMLPClassifier(
        (3,),
        mode=mode,
        loss="log_loss",
        activation="tanh",
        max_iter=30,
        n_teacher_runs=2,
        random_state=0,
    ).fit(X, y)
    assert clf.recorder_.teacher_.loss == "log_loss"
    assert clf.out_activation_ == "softmax"
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    assert np.isfinite(clf.loss_curve_).all()
    with pytest.raises(ValueError, match="give both the same loss"):
        LearnedRuleMLPClassifier(
            (3,), loss="log_loss", teacher=BackpropMLPClassifier((3,))
        ).fit(X, y)


@pytest.mark.parametrize("Est", [BackpropMLPClassifier, BackpropMLPRegressor])
def test_sample_weight_scales_each_patterns_step(Est):
    X, y = make_classification(40, 4, random_state=0)
    kw = dict(hidden_layer_sizes=(3,), max_iter=5, random_state=0, shuffle=True)
    plain = Est(**kw).fit(X, y)
    ones = Est(**kw).fit(X, y, sample_weight=np.ones(len(y)))
    for a, b in zip(plain.coefs_, ones.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(plain.loss_curve_, ones.loss_curve_, rtol=1e-12)
    # a zero weight is a pattern that is not there (in the order given; the
    # regressor's standardisation is unweighted, so without it)
    keep = np.arange(len(y)) % 3 != 0
    kw["shuffle"] = False
    if Est is BackpropMLPRegressor:  # and online: a batch's mean counts them
        kw.update(standardize=False, batch_size=1, momentum=0.0)
    zeros = Est(**kw).fit(X, y, sample_weight=keep.astype(float))
    without = Est(**kw).fit(X[keep], y[keep])
    for a, b in zip(zeros.coefs_, without.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    # weight 2 on the squared error's delta: the step of rate 2 on that pattern
    twice = Est(**kw).fit(X, y, sample_weight=np.full(len(y), 2.0))
    doubled = Est(**{**kw, "learning_rate_init": 2 * twice.learning_rate_init}).fit(
        X, y
    )
    for a, b in zip(twice.coefs_, doubled.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_class_weight_tools_and_adaboost_accept_the_classifier():
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = make_classification(60, 4, weights=[0.8], random_state=0)
    clf = BackpropMLPClassifier((4,), max_iter=20, random_state=0)
    clf.fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    boost = AdaBoostClassifier(clf, n_estimators=3, random_state=0).fit(X, y)
    assert boost.score(X, y) > 0.5


@pytest.mark.parametrize("Est", [BackpropMLPClassifier, BackpropMLPRegressor])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_and_predictions_keep_the_input_precision(Est, dtype):
    # scikit-learn's test_mlp_param_dtypes, for ours
    X, y = make_classification(40, 4, random_state=0)
    est = Est((3,), max_iter=3, random_state=0).fit(X.astype(dtype), y)
    assert {a.dtype for a in [*est.coefs_, *est.intercepts_]} == {np.dtype(dtype)}
    out = est.predict_proba(X.astype(dtype)) if Est is BackpropMLPClassifier else None
    out = est.predict(X.astype(dtype)) if out is None else out
    assert out.dtype == dtype
    # a float32 network trains on: partial_fit and warm starts keep its precision
    est.partial_fit(X, y)
    est.set_params(warm_start=True).fit(X, y)
    assert est.coefs_[0].dtype == dtype
    assert np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("Est", [BackpropMLPClassifier, BackpropMLPRegressor])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_float32_training_follows_float64_training(Est, batch_size):
    # scikit-learn's test_mlp_float32_float64_equivalence, for ours: a float32
    # network starts from the float64 one's weights, rounded, and stays close
    X, y = make_classification(60, 5, random_state=0)
    fits = [
        Est(
            (4,),
            batch_size=batch_size,
            momentum=0.5,
            max_iter=10,
            random_state=0,
        ).fit(X.astype(dtype), y)
        for dtype in (np.float32, np.float64)
    ]
    np.testing.assert_allclose(fits[0].loss_curve_, fits[1].loss_curve_, rtol=1e-3)
    np.testing.assert_allclose(fits[0].predict(X), fits[1].predict(X), atol=1e-3)


def test_float32_sparse_input_stays_float32():
    from scipy import sparse

    X, y = make_classification(40, 6, random_state=0)
    Xs = sparse.csr_matrix(X.astype(np.float32))
    clf = BackpropMLPClassifier((3,), max_iter=3, random_state=0).fit(Xs, y)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(Xs).dtype == np.float32


def test_float32_students_and_the_learned_classifier_stays_float64():
    X, y = make_boolean("and")
    teacher = BackpropMLPClassifier((1,), max_iter=5)
    students = teacher.train_students(
        teacher.training_data(X.astype(np.float32), y), seeds=[0, 1]
    )
    assert students.coefs[0].dtype == np.float32
    assert students.estimator(1).predict_proba(X.astype(np.float32)).dtype == (
        np.float32
    )
    # the learner was fitted on float64 states: the rule's networks stay float64
    clf = LearnedRuleMLPClassifier(
        (1,), n_teacher_runs=2, max_iter=3, random_state=0
    ).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float64


@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("alpha", [0.0, 0.01])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_adam_matches_scikit_learn(batch_size, alpha, n_classes):
    # from the same weights, a fresh Adam each (fit with warm_start), then
    # partial_fit continuing both Adams
    X, y = make_classification(
        30, 4, n_informative=3, n_redundant=0, n_classes=n_classes, random_state=1
    )
    common = dict(
        hidden_layer_sizes=(3,),
        activation="tanh",
        solver="adam",
        learning_rate_init=0.01,
        alpha=alpha,
        batch_size=batch_size,
        shuffle=False,
        warm_start=True,
        random_state=0,
    )
    theirs = MLPClassifier(max_iter=1, tol=0, **common)
    ours = BackpropMLPClassifier(max_iter=1, loss="log_loss", **common)
    with pytest.warns(ConvergenceWarning):
        theirs.fit(X, y)
    ours.fit(X, y)
    for dst, src in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]
    ):
        np.copyto(dst, src)
    start = ours.coefs_[0].copy()
    theirs.set_params(max_iter=3)
    ours.set_params(max_iter=3)
    with pytest.warns(ConvergenceWarning):
        theirs.fit(X, y)
    ours.fit(X, y)
    for _ in range(2):
        theirs.partial_fit(X, y)
        ours.partial_fit(X, y)
    for a, b in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # Adam moved the weights: the parity is not of untouched weights
    assert np.abs(ours.coefs_[0] - start).max() > 1e-3


def test_adam_refuses_a_schedule():
    X, y = make_boolean("and")
    clf = BackpropMLPClassifier((2,), solver="adam", learning_rate="invscaling")
    with pytest.raises(ValueError, match="solver='adam' takes only"):
        clf.fit(X, y)


def test_adam_keeps_float32():
    X, y = make_classification(40, 4, random_state=0)
    clf = BackpropMLPClassifier((3,), solver="adam", learning_rate_init=0.01)
    clf.set_params(max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32 and np.isfinite(clf.loss_curve_).all()
    clf.partial_fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32
