"""Several teachers: the paper's "knowledge from several training algorithms"."""

import numpy as np
import pytest

from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
)
from sk_metabp.datasets import make_boolean

TEACHERS = [
    BackpropMLPClassifier((1,), learning_rate_init=0.1, max_iter=20),
    BackpropMLPClassifier((1,), learning_rate_init=0.5, max_iter=20),
    BackpropMLPClassifier((1,), learning_rate_init=0.23, momentum=0.9, max_iter=10),
]


def test_recording_holds_labelled_rows_of_each_teacher():
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(TEACHERS, n_runs=2, random_state=0, dtype=np.float64)
    frame = rec.record(X, y)
    assert list(frame.columns[:4]) == ["teacher", "run", "epoch", "step"]
    counts = frame.groupby("teacher").size().to_dict()
    assert counts == {0: 2 * 20 * 4, 1: 2 * 20 * 4, 2: 2 * 10 * 4}
    # runs are numbered across teachers, so they serve as CV groups
    assert sorted(frame["run"].unique()) == list(range(6))
    assert (frame.groupby("run")["teacher"].nunique() == 1).all()
    # each teacher's rows are its own training: run k of teacher t equals a
    # seeded fit of that teacher
    for t, teacher in enumerate(TEACHERS):
        k = 2 * t + 1
        fitted = BackpropMLPClassifier(**teacher.get_params())
        fitted.set_params(random_state=rec.seeds_[k]).fit(X, y)
        np.testing.assert_allclose(
            rec.loss_curves_[k, : len(fitted.loss_curve_)], fitted.loss_curve_
        )
    # backprop at rate 0.5 makes larger changes than at 0.1, from the same kind
    # of state: the labels tell the teachers apart
    size = np.abs(rec.targets_).mean(axis=1)
    assert size[rec.teacher_ids_ == 1].mean() > size[rec.teacher_ids_ == 0].mean()


def test_one_teacher_frame_has_no_teacher_column():
    X, y = make_boolean("and")
    frame = TrajectoryRecorder(TEACHERS[0], random_state=0).record(X, y)
    assert "teacher" not in frame.columns


def test_teachers_of_different_topologies_are_refused():
    X, y = make_boolean("and")
    rec = TrajectoryRecorder(
        [TEACHERS[0], BackpropMLPClassifier((3,), max_iter=5)], random_state=0
    )
    with pytest.raises(ValueError, match="same topology.*2-1-1.*2-3-1"):
        rec.fit(X, y)
    assert not hasattr(rec, "features_")


def test_classifier_learner_fits_the_union_of_teachers():
    X, y = make_boolean("and")
    clf = LearnedRuleMLPClassifier(
        (1,),
        learner=BackpropMLPRegressor((8,), max_iter=5, random_state=0),
        teacher=TEACHERS,
        n_teacher_runs=2,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    rec = clf.recorder_
    assert len(rec.teachers_) == 3
    assert set(np.unique(rec.teacher_ids_)) == {0, 1, 2}
    # the learner saw every teacher's rows
    assert clf.learner_.x_mean_.shape == (9,)
    np.testing.assert_allclose(
        clf.learner_.x_mean_, rec.features_.astype(np.float64).mean(axis=0), rtol=1e-5
    )
    assert np.isfinite(clf.loss_curve_).all()


class _SignTeacher(BackpropMLPClassifier):
    """A teacher whose rule does not name a learning rate: sign-SGD."""

    def update_rule(self):
        from sk_metabp.rules import BackpropRule, UpdateRule

        rate = self.learning_rate_init

        class SignRule(UpdateRule):
            def start(self, step):
                self.inner = BackpropRule(1.0)
                self.inner.start(step)

            def __call__(self, step):
                dcoefs, dintercepts = self.inner(step)
                for d in [*dcoefs, *dintercepts]:
                    np.multiply(np.sign(d), rate, out=d)
                return dcoefs, dintercepts

        return SignRule()


def test_recorder_and_learned_classifier_read_one_teacher_rate():
    from sk_metabp.rules import teacher_rate

    X, y = make_boolean("and")
    teacher = _SignTeacher((1,), learning_rate_init=0.7, max_iter=3)
    assert teacher_rate(teacher) == 0.7
    assert teacher_rate(BackpropMLPClassifier(learning_rate_init=0.4)) == 0.4
    rec = TrajectoryRecorder(teacher, mode="delta", n_runs=2, random_state=0)
    rec.fit(X, y)
    clf = LearnedRuleMLPClassifier(
        (1,), mode="delta", teacher=teacher, n_teacher_runs=2, max_iter=2
    ).fit(X, y)
    assert rec.mode_.learning_rate == clf.mode_.learning_rate == 0.7


def test_adam_teacher_is_recorded_in_link_mode():
    # Adam's first step is about gamma * sign(g) on every link with a gradient:
    # the recording holds the Adam teacher's changes, not backprop's
    X, y = make_boolean("xor")
    adam = BackpropMLPClassifier(
        (3,), solver="adam", learning_rate_init=0.01, max_iter=2
    )
    rec = TrajectoryRecorder(
        adam, mode="link", target="change", n_runs=1, random_state=0, dtype=np.float64
    )
    frame = rec.record(X, y)
    first = frame[(frame["epoch"] == 0) & (frame["step"] == 0)]
    moved = first["dw"].abs() > 1e-6
    assert moved.sum() >= 3
    np.testing.assert_allclose(first.loc[moved, "dw"].abs(), 0.01, rtol=1e-3)
    # later steps are no longer plain multiples of the gradient's sign
    assert frame["dw"].abs().std() > 1e-4
