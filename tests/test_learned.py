"""LearnedRuleMLPClassifier: the paper's steps 2 and 3, at both scikit-learn levels."""

import joblib
import numpy as np
import pytest
from _broken import constant_learner
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import load_iris, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp._mlp import forward
from sk_metabp.datasets import make_boolean
from sk_metabp.learned import default_learner


def small_learner(**kw):
    return BackpropMLPRegressor((16,), max_iter=30, random_state=0, **kw)


@pytest.fixture(scope="module")
def and_network_clf():
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,), learner=small_learner(), n_teacher_runs=2, max_iter=300, random_state=0
    )
    return clf.fit(X, y)


@pytest.fixture(scope="module")
def and_link_clf():
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=small_learner(),
        mode="link",
        n_teacher_runs=2,
        max_iter=300,
        random_state=0,
    )
    return clf.fit(X, y)


def test_experiment1_learned_rule_success_rate():
    # The paper's experiment 1 with the defaults: AND, 2-1-1, network mode, 5000
    # cycles. One learner, then 20 students from seeds 100..119 in one lockstep
    # stack. Measured: 19 of 20 students reach 100% training accuracy (learner
    # recorded with random_state=0); we require at least 15 of 20.
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier((1,), max_iter=5000, random_state=0).fit(X, y)
    assert clf.score(X, y) == 1.0
    Xs, Y, _ = data = clf.training_data(X, y)
    students = clf.train_students(data, np.arange(100, 120))
    coefs, intercepts, diverged = students.coefs, students.intercepts, students.diverged
    _, acts = forward(
        coefs, intercepts, np.broadcast_to(Xs, (20, *Xs.shape)), "logistic", "logistic"
    )
    perfect = ((acts[-1][:, :, 0] > 0.5) == Y[:, 0]).all(axis=1)
    assert (diverged < 0).all()
    assert perfect.sum() >= 15, perfect.sum()


def test_fit_records_teacher_and_fits_learner(and_network_clf):
    clf = and_network_clf
    assert clf.recorder_.features_.shape[1] == 9
    assert clf.learner_.n_features_in_ == 9 and clf.learner_.n_outputs_ == 5
    assert list(clf.learner_.feature_names_in_) == clf.recorder_.feature_names_
    assert "2-1-1" in clf.layout_
    assert len(clf.loss_curve_) == 300 and np.isfinite(clf.loss_curve_).all()
    # the student moved: the learned rule changed the weights from their start
    fresh = BackpropMLPClassifier((1,), max_iter=1, random_state=0)
    fresh.fit(*make_boolean("and"))
    assert not np.allclose(clf.coefs_[0], fresh.coefs_[0])


def test_fast_path_equals_predict_path(and_network_clf):
    class Delegate(RegressorMixin, BaseEstimator):
        """A regressor the library does not know: forces the predict path."""

        def __init__(self, inner=None):
            self.inner = inner

        def fit(self, X, y):
            return self

        def predict(self, X):
            return self.inner.predict(X)

        @property
        def feature_names_in_(self):
            return self.inner.feature_names_in_

        def __sklearn_is_fitted__(self):
            return True

    X, y = make_boolean("and")
    learner = and_network_clf.learner_
    params = dict(max_iter=50, random_state=3)
    fast = LearnedRuleMLPClassifier((1,), learner=FrozenEstimator(learner), **params)
    slow = LearnedRuleMLPClassifier(
        (1,), learner=FrozenEstimator(Delegate(learner)), **params
    )
    fast.fit(X, y)
    slow.fit(X, y)
    np.testing.assert_allclose(fast.loss_curve_, slow.loss_curve_, rtol=1e-12)


def test_level1_grid_search_over_recorded_frame():
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(
        BackpropMLPClassifier((1,), max_iter=200), n_runs=4, every=2, random_state=0
    )
    traj = rec.record(X, y)
    search = GridSearchCV(
        BackpropMLPRegressor(max_iter=10, random_state=0),
        {"hidden_layer_sizes": [(2,), (16,)]},
        cv=GroupKFold(n_splits=2),
    )
    search.fit(traj[rec.feature_names_], traj[rec.target_names_], groups=traj["run"])
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_params_["hidden_layer_sizes"] in [(2,), (16,)]


def _moons():
    return make_moons(n_samples=40, noise=0.1, random_state=0)


def test_level2_grid_search_cross_val_and_pipeline():
    X, y = _moons()
    clf = LearnedRuleMLPClassifier(
        (2,),
        learner=small_learner(),
        mode="link",
        n_teacher_runs=1,
        record_every=4,
        max_iter=30,
        random_state=0,
    )
    search = GridSearchCV(clf, {"learner__hidden_layer_sizes": [(2,), (8,)]}, cv=2).fit(
        X, y
    )
    assert search.best_params_["learner__hidden_layer_sizes"] in [(2,), (8,)]
    assert search.best_estimator_.learner_.hidden_layer_sizes in [(2,), (8,)]
    scores = cross_val_score(clf, X, y, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    assert pipe.predict(X).shape == (40,)


def test_learner_params_set_with_the_default_learner():
    clf, other = LearnedRuleMLPClassifier(), LearnedRuleMLPClassifier()
    assert clf.learner is None  # __init__ stores the default as it is
    assert not any(k.startswith("learner__") for k in clf.get_params(deep=True))
    clf.set_params(learner__hidden_layer_sizes=(8,), max_iter=7)
    expected = {**default_learner().get_params(), "hidden_layer_sizes": (8,)}
    assert clf.learner.get_params() == expected and clf.max_iter == 7
    assert clf.get_params(deep=True)["learner__hidden_layer_sizes"] == (8,)
    # a fresh default per classifier: nothing shared with another one
    assert other.learner is None
    other.set_params(learner__max_iter=3)
    assert other.learner is not clf.learner and clf.learner.max_iter == 200
    # learner=None given with its nested parameters, in either order
    clf.set_params(learner__max_iter=5, learner=None)
    assert clf.learner.get_params() == {**default_learner().get_params(), "max_iter": 5}
    # a learner of the user's own takes them as scikit-learn sets them
    ridge = Ridge()
    clf.set_params(learner=ridge, learner__alpha=3.0)
    assert clf.learner is ridge and ridge.alpha == 3.0


def test_grid_search_over_the_default_learner():
    X, y = _moons()
    base = LearnedRuleMLPClassifier((1,), max_iter=50, n_teacher_runs=2, random_state=0)
    grid = {"learner__hidden_layer_sizes": [(2,), (4,)]}
    search = GridSearchCV(base, grid, cv=2).fit(X, y)
    assert base.learner is None  # the search set its clones only
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_params_["learner__hidden_layer_sizes"]
    assert search.best_estimator_.learner_.hidden_layer_sizes == best
    # the rest of the learner is the default one
    fitted = search.best_estimator_.learner_.get_params()
    assert fitted == {**default_learner().get_params(), "hidden_layer_sizes": best}


def test_clone_of_learner_set_through_the_classifier_is_equivalent():
    X, y = _moons()
    clf = LearnedRuleMLPClassifier(
        (1,), max_iter=20, n_teacher_runs=2, random_state=0
    ).set_params(learner__hidden_layer_sizes=(4,), learner__max_iter=20)
    twin = clone(clf)
    assert twin.learner is not clf.learner
    assert twin.learner.get_params() == clf.learner.get_params()
    clf.fit(X, y)
    twin.fit(X, y)
    np.testing.assert_array_equal(twin.loss_curve_, clf.loss_curve_)
    assert twin.learner_.hidden_layer_sizes == (4,)


@pytest.mark.parametrize("mode", ["network", "link", "delta"])
def test_partial_fit_first_chunk_with_one_class(mode):
    # as BackpropMLPClassifier: classes names every class, the chunk may lack
    # some; the teacher is recorded with them all
    X, y = _moons()
    first = y == 0
    params = dict(max_iter=20, n_teacher_runs=2, record_every=4, random_state=0)
    clf = LearnedRuleMLPClassifier((2,), learner=small_learner(), mode=mode, **params)
    clf.partial_fit(X[first], y[first], classes=[0, 1])
    assert clf.recorder_.teacher_.classes_.tolist() == [0, 1]
    assert clf.classes_.tolist() == [0, 1] and clf.n_outputs_ == 1
    clf.partial_fit(X[~first], y[~first])
    assert np.isfinite(clf.loss_curve_).all() and len(clf.loss_curve_) == 2
    assert set(clf.predict(X)) <= {0, 1}
    BackpropMLPClassifier((2,)).partial_fit(X[first], y[first], classes=[0, 1])


def test_verbose_reports_recording_learner_fit_and_student(capsys):
    X, y = make_boolean("and")
    params = dict(n_teacher_runs=2, record_every=2, max_iter=10, random_state=0)
    LearnedRuleMLPClassifier((1,), learner=small_learner(), **params).fit(X, y)
    assert capsys.readouterr().out == ""
    clf = LearnedRuleMLPClassifier((1,), learner=small_learner(), verbose=1, **params)
    clf.fit(X, y)
    out = capsys.readouterr().out
    recording, rest = out.split("Fitting the learner BackpropMLPRegressor on 40 rows")
    assert recording.startswith("Recording teacher 1: 2 runs of 10 epochs")
    assert "Recorded teacher 1: 2 runs, 40 rows" in recording
    learner_fit, student = rest.split("Training the network with the learned rule")
    # the learner prints its own 30 epochs, then the time and its final loss
    assert learner_fit.count("Iteration") == 30
    assert f"final loss {clf.learner_.loss_:.6g}" in learner_fit
    assert student.count("Iteration") == 10
    # its verbose was lent for the fit only
    assert clf.learner_.verbose is False
    # a learner without a verbose parameter: a line before and after its fit
    clf.set_params(learner=Ridge()).fit(X, y)
    out = capsys.readouterr().out
    learner_fit = out[out.index("Fitting the learner Ridge") : out.index("Training")]
    assert "Iteration" not in learner_fit and "Fitted the learner in" in learner_fit


def test_saved_network_rule_trains_other_data_of_same_topology(
    and_network_clf, tmp_path
):
    path = tmp_path / "and_rule.joblib"
    joblib.dump(and_network_clf.learner_, path)
    rule = joblib.load(path)
    X, y = make_boolean("nand")
    clf = LearnedRuleMLPClassifier(
        (1,), learner=FrozenEstimator(rule), max_iter=100, random_state=1
    ).fit(X, y)
    assert clf.recorder_ is None
    assert clf.learner_ is rule  # frozen: used as it is, not refitted
    assert all(np.isfinite(c).all() for c in clf.coefs_)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_saved_link_rule_trains_a_larger_topology(and_link_clf, tmp_path):
    path = tmp_path / "link_rule.joblib"
    joblib.dump(and_link_clf.learner_, path)
    rule = joblib.load(path)
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = LearnedRuleMLPClassifier(
        (5,), learner=FrozenEstimator(rule), mode="link", max_iter=5, random_state=0
    ).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 5), (5, 3)]
    assert all(np.isfinite(c).all() for c in clf.coefs_)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_skops_round_trip(and_network_clf, tmp_path):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "rule.skops"
    sio.dump(and_network_clf.learner_, path)
    untrusted = sio.get_untrusted_types(file=path)
    # Only the library's own regressor needs trusting (see the README).
    assert untrusted == ["sk_metabp.backprop.BackpropMLPRegressor"]
    rule = sio.load(path, trusted=untrusted)
    X = and_network_clf.recorder_.to_frame()[and_network_clf.recorder_.feature_names_]
    np.testing.assert_array_equal(rule.predict(X), and_network_clf.learner_.predict(X))


#: The types a saved learned classifier asks to trust (README, "Saving with
#: skops.io"); numpy's and scikit-learn's are trusted by skops already.
PUBLIC_TYPES = {
    "sk_metabp.learned.LearnedRuleMLPClassifier",
    "sk_metabp.backprop.BackpropMLPRegressor",
    "sk_metabp.backprop.BackpropMLPClassifier",
    "sk_metabp.recorder.TrajectoryRecorder",
}


@pytest.mark.parametrize(
    "mode, target, batch_size",
    [
        ("network", "change", 1),
        ("link", "change", 1),
        ("link", "residual_odd", 1),
        ("delta", "change", 1),
        ("link", "scaled", 2),
        ("delta", "change", 2),
    ],
)
def test_skops_saves_the_classifier_with_public_types_only(mode, target, batch_size):
    sio = pytest.importorskip("skops.io")
    X, y = make_boolean("and")
    params = dict(mode=mode, target=target, batch_size=batch_size, max_iter=30)
    fitted = LearnedRuleMLPClassifier(
        (2,), n_teacher_runs=2, random_state=0, **params
    ).fit(X, y)
    frozen = LearnedRuleMLPClassifier(
        (2,), learner=FrozenEstimator(fitted.learner_), random_state=0, **params
    ).fit(X, y)
    for clf in (fitted, frozen):
        data = sio.dumps(clf)
        untrusted = sio.get_untrusted_types(data=data)
        assert set(untrusted) <= PUBLIC_TYPES, untrusted
        loaded = sio.loads(data, trusted=untrusted)
        assert loaded.mode_.arguments() == clf.mode_.arguments()
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        if clf.recorder_ is not None:
            assert loaded.recorder_.mode_.describe() == clf.recorder_.mode_.describe()
            np.testing.assert_array_equal(
                loaded.recorder_.features_, clf.recorder_.features_
            )
        # training goes on from the saved state as from the original
        loaded.partial_fit(X, y)
        clf.partial_fit(X, y)
        for a, b in zip(
            loaded.coefs_ + loaded.intercepts_, clf.coefs_ + clf.intercepts_
        ):
            np.testing.assert_array_equal(a, b)


def test_network_learner_refuses_another_topology(and_network_clf):
    X, y = make_boolean("or")
    clf = LearnedRuleMLPClassifier(
        (4,), learner=FrozenEstimator(and_network_clf.learner_), max_iter=5
    )
    with pytest.raises(ValueError, match=r"2-1-1.*2-4-1") as info:
        clf.fit(X, y)
    assert "mode='link'" in str(info.value)
    assert not hasattr(clf, "coefs_")


def test_network_learner_refuses_other_variables(and_network_clf):
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=FrozenEstimator(and_network_clf.learner_),
        variables="paper+h",
        max_iter=5,
    )
    with pytest.raises(ValueError, match="fitted for rows"):
        clf.fit(X, y)


def test_divergence_warns_and_keeps_finite_weights():
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,), learner=constant_learner(), max_update=None, max_iter=20, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="diverged at epoch 1"):
        clf.fit(X, y)
    assert clf.diverged_ and clf.n_iter_ == 0
    assert all(np.isfinite(c).all() for c in clf.coefs_ + clf.intercepts_)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_divergence_raises_when_asked():
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=constant_learner(),
        max_update=None,
        on_divergence="raise",
        max_iter=20,
    )
    with pytest.raises(FloatingPointError, match="diverged at epoch 1"):
        clf.fit(X, y)


def test_max_update_bounds_every_change():
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,), learner=constant_learner(), max_update=0.01, max_iter=3, random_state=0
    ).fit(X, y)
    start = BackpropMLPClassifier((1,), max_iter=1, random_state=0)
    start._random_state = np.random.RandomState(0)
    start._initialize([2, 1, 1], start._random_state)
    moved = np.abs(clf.coefs_[0] - start.coefs_[0])
    # 3 epochs x 4 patterns = 12 updates of exactly +0.01 each
    np.testing.assert_allclose(moved, 0.12)
    assert not clf.diverged_


@pytest.mark.parametrize(
    "learner", [KNeighborsRegressor(n_neighbors=3), Ridge(alpha=1e-3)]
)
def test_scikit_learn_regressors_work_as_learners(learner):
    X, y = make_boolean("or")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=learner,
        mode="link",
        n_teacher_runs=2,
        record_every=5,
        max_iter=40,
        random_state=0,
    ).fit(X, y)
    assert type(clf.learner_) is type(learner)
    assert np.isfinite(clf.loss_curve_).all()
    assert clf.predict(X).shape == (4,)


def test_bad_settings_are_refused():
    X, y = make_boolean("and")
    with pytest.raises(ValueError, match="batch_size=1"):
        LearnedRuleMLPClassifier((1,), batch_size=2).fit(X, y)
    with pytest.raises(ValueError, match="mode"):
        LearnedRuleMLPClassifier((1,), mode="whole").fit(X, y)
    with pytest.raises(ValueError, match="teacher's hidden_layer_sizes"):
        LearnedRuleMLPClassifier(
            (1,), teacher=BackpropMLPClassifier((3,), max_iter=2), max_iter=2
        ).fit(X, y)
