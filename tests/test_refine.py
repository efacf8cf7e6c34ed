"""Refinement of a fitted learner by trial and error (evolution strategies)."""

import copy

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean
from sk_metabp.refine import refine_learner

N_EPOCHS = 20
SEEDS = [11, 12, 13, 14]


@pytest.fixture(scope="module")
def rule():
    """A small link-mode learner imitating backprop on AND (a fraction of a second)."""
    return (
        LearnedRuleMLPClassifier(
            (1,),
            learner=BackpropMLPRegressor((8,), max_iter=20, random_state=0),
            mode="link",
            n_teacher_runs=2,
            max_iter=100,
            random_state=0,
        )
        .fit(*make_boolean("and"))
        .learner_
    )


@pytest.fixture(scope="module")
def tasks():
    return [(*make_boolean("and"), (1,)), (*make_boolean("or"), (1,))]


def _final_loss(learner, tasks):
    """Median final training loss of students with our own seeds, not refine's."""
    losses = []
    for X, y, hidden in tasks:
        for seed in SEEDS:
            clf = LearnedRuleMLPClassifier(
                hidden,
                learner=FrozenEstimator(learner),
                mode="link",
                max_iter=N_EPOCHS,
                random_state=seed,
            ).fit(X, y)
            losses.append(clf.loss_curve_[-1])
    return float(np.mean(losses))


def _weights(learner):
    return np.concatenate([a.ravel() for a in learner.coefs_ + learner.intercepts_])


def test_refinement_lowers_the_training_loss(rule, tasks):
    refined = refine_learner(
        rule,
        tasks,
        n_generations=6,
        population=6,
        n_epochs=N_EPOCHS,
        n_students=4,
        random_state=0,
    )
    before, after = _final_loss(rule, tasks), _final_loss(refined, tasks)
    print(f"final training loss: unrefined {before:.6f}, refined {after:.6f}")
    assert after < before
    history = refined.refine_history_
    assert len(history) == 6
    assert np.all(np.diff(history) <= 0)
    assert refined.refine_loss_ < refined.refine_start_loss_
    assert refined.refine_loss_ == history[-1]


def test_input_learner_is_unchanged(rule, tasks):
    before = copy.deepcopy(rule)
    refined = refine_learner(
        FrozenEstimator(rule),
        tasks[:1],
        n_generations=1,
        population=2,
        n_epochs=5,
        n_students=2,
        random_state=0,
    )
    assert refined is not rule
    assert isinstance(refined, BackpropMLPRegressor)
    np.testing.assert_array_equal(_weights(rule), _weights(before))
    assert not hasattr(rule, "refine_history_")


def test_reproducible_with_random_state(rule, tasks):
    kwargs = dict(n_generations=2, population=4, n_epochs=5, n_students=2)
    a = refine_learner(rule, tasks, random_state=3, **kwargs)
    b = refine_learner(rule, tasks, random_state=3, **kwargs)
    np.testing.assert_array_equal(_weights(a), _weights(b))
    assert a.refine_history_ == b.refine_history_


def test_survives_diverging_perturbations(rule, tasks):
    # perturbations this large make the learner predict huge or non-finite
    # changes: every student diverges, and the search must carry on and keep
    # the (finite) starting learner
    refined = refine_learner(
        rule,
        tasks,
        n_generations=2,
        population=4,
        sigma=1e6,
        step_size=1e6,
        n_epochs=5,
        n_students=2,
        max_update=None,
        random_state=0,
    )
    assert np.all(np.isfinite(_weights(refined)))
    assert np.all(np.isfinite(refined.refine_history_))
    assert refined.refine_loss_ <= refined.refine_start_loss_


def test_nan_learner_scores_as_a_failure(rule, tasks):
    broken = copy.deepcopy(rule)
    broken.coefs_[0][0, 0] = np.nan
    refined = refine_learner(
        broken, tasks, n_generations=1, population=2, n_epochs=3, n_students=2
    )
    # every candidate is NaN: each scores the penalty (n_outputs per student)
    assert refined.refine_start_loss_ == pytest.approx(1.0)


def test_verbose_prints_progress(rule, tasks, capsys):
    refine_learner(
        rule, tasks[:1], n_generations=2, population=2, n_epochs=3, verbose=True
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert "best loss" in lines[-1]


def test_rejects_bad_arguments(rule, tasks):
    with pytest.raises(TypeError, match="BackpropMLPRegressor"):
        refine_learner(object(), tasks)
    with pytest.raises(ValueError, match="sigma"):
        refine_learner(rule, tasks, sigma=0)
    with pytest.raises(ValueError, match="tasks"):
        refine_learner(rule, [])
