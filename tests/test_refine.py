"""Refinement of a fitted learner by trial and error (evolution strategies)."""

import copy

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean
from sk_metabp.refine import loss_ratios, refine_learner, resample_ratios

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


# -- batch sizes, the worst-ratio objective, loss_ratios -----------------------


@pytest.fixture(scope="module")
def wide_tasks():
    """Two tasks with more patterns than a batch, so batch sizes differ."""
    from sk_metabp.datasets import make_teacher_task

    return [(*make_teacher_task(64, 3, 2, random_state=s), (3,)) for s in range(2)]


def test_candidates_train_at_the_batch_size(rule, wide_tasks):
    # at batch 32 a 64-pattern task takes 2 updates per epoch, online 64: the
    # same learner and students then end with different losses, and the
    # baseline ratios too
    kwargs = dict(n_epochs=3, n_students=2, random_state=0)
    online = loss_ratios(rule, wide_tasks, batch_size=1, **kwargs)
    batched = loss_ratios(rule, wide_tasks, batch_size=32, **kwargs)
    assert online.shape == batched.shape == (2,)
    assert not np.allclose(online, batched)
    a = refine_learner(
        rule, wide_tasks, batch_size=32, n_generations=1, population=2, **kwargs
    )
    b = refine_learner(
        rule, wide_tasks, batch_size=1, n_generations=1, population=2, **kwargs
    )
    assert a.refine_start_loss_ != b.refine_start_loss_


def test_worst_ratio_objective_is_the_largest_task_ratio(rule, wide_tasks):
    kwargs = dict(n_epochs=3, n_students=2, batch_size=32, random_state=0)
    ratios = loss_ratios(rule, wide_tasks, baseline_rate=1.0, **kwargs)
    refined = refine_learner(
        rule,
        wide_tasks,
        score="worst_ratio",
        baseline_rate=1.0,
        n_generations=1,
        population=2,
        **kwargs,
    )
    # the same seeds draw the same students: the search's start is the worst
    # of the ratios loss_ratios measures
    assert refined.refine_start_loss_ == pytest.approx(ratios.max())
    assert refined.refine_loss_ <= refined.refine_start_loss_
    mean = refine_learner(rule, wide_tasks, n_generations=1, population=2, **kwargs)
    assert mean.refine_start_loss_ != pytest.approx(refined.refine_start_loss_)


def test_worst_ratio_search_is_reproducible_per_seed(rule, wide_tasks):
    kwargs = dict(
        score="worst_ratio",
        batch_size=32,
        n_generations=2,
        population=4,
        n_epochs=3,
        n_students=2,
    )
    runs = [
        refine_learner(rule, wide_tasks, random_state=s, **kwargs) for s in (1, 1, 2)
    ]
    np.testing.assert_array_equal(_weights(runs[0]), _weights(runs[1]))
    assert runs[0].refine_history_ == runs[1].refine_history_
    # another seed draws other perturbations: the weights differ
    assert not np.array_equal(_weights(runs[0]), _weights(runs[2]))


def test_ratios_of_the_pretrained_rule_against_a_baseline_rate(wide_tasks):
    # the pretrained rule at batch 32 against backprop at rate 16 and at the
    # paper's 0.23 (the default): a slower backprop ends higher, so the
    # ratios are lower
    from sk_metabp import pretrained

    info = pretrained.load_manifest()
    kwargs = dict(
        variables=info["variables"],
        target=info["target"],
        batch_size=32,
        n_epochs=5,
        n_students=2,
        random_state=0,
    )
    learner = pretrained.load(batch_size=32)
    own = loss_ratios(learner, wide_tasks, baseline_rate=16.0, **kwargs)
    paper = loss_ratios(learner, wide_tasks, **kwargs)
    assert np.all(np.isfinite(own)) and np.all(own > 0)
    assert np.all(paper < own)


def test_rejects_bad_objective_and_batch_size(rule, tasks):
    with pytest.raises(ValueError, match="score"):
        refine_learner(rule, tasks, score="mean")
    with pytest.raises(ValueError, match="batch_size"):
        refine_learner(rule, tasks, batch_size=0)
    with pytest.raises(ValueError, match="baseline_rate"):
        refine_learner(rule, tasks, baseline_rate=-1.0)
    with pytest.raises(ValueError, match="baseline_rate"):
        loss_ratios(rule, tasks, baseline_rate=0)


# -- a baseline teacher of any kind, the soft worst ratio ----------------------

ADAM = {"solver": "adam", "learning_rate_init": 0.05}


def test_baseline_rate_is_backprop_as_a_baseline(rule, wide_tasks):
    from sk_metabp import BackpropMLPClassifier

    kwargs = dict(batch_size=32, n_epochs=3, n_students=2, random_state=0)
    by_rate = loss_ratios(rule, wide_tasks, baseline_rate=1.0, **kwargs)
    by_dict = loss_ratios(
        rule, wide_tasks, baseline={"learning_rate_init": 1.0}, **kwargs
    )
    by_estimator = loss_ratios(
        rule,
        wide_tasks,
        baseline=BackpropMLPClassifier((7,), learning_rate_init=1.0, max_iter=1),
        **kwargs,
    )
    np.testing.assert_array_equal(by_rate, by_dict)
    np.testing.assert_array_equal(by_rate, by_estimator)


@pytest.mark.parametrize(
    "baseline",
    [None, ADAM],
    ids=["backprop at 0.23 (the default)", "adam"],
)
def test_ratio_is_that_of_two_classifiers_at_the_batch_size(rule, wide_tasks, baseline):
    # the students loss_ratios scores at batch 32 are those classifiers with
    # batch_size=32 train: the learner's final loss over the baseline's equals
    # the ratio of the two classifiers' final losses, with the same seed
    from sk_metabp import BackpropMLPClassifier

    X, y, hidden = wide_tasks[0]
    seed = np.random.RandomState(5).randint(np.iinfo(np.int32).max)
    common = dict(max_iter=4, batch_size=32, random_state=seed)
    mine = LearnedRuleMLPClassifier(
        hidden, learner=FrozenEstimator(rule), mode="link", **common
    ).fit(X, y)
    params = baseline or {"learning_rate_init": 0.23}
    theirs = BackpropMLPClassifier(hidden, **params, **common).fit(X, y)
    sgd = BackpropMLPClassifier(hidden, learning_rate_init=0.23, **common).fit(X, y)
    if baseline is not None:  # Adam's students are not backprop's
        assert theirs.loss_curve_[-1] != pytest.approx(sgd.loss_curve_[-1])
    kwargs = dict(batch_size=32, n_epochs=4, n_students=1, random_state=5)
    (ratio,) = loss_ratios(rule, [(X, y, hidden)], baseline=baseline, **kwargs)
    assert ratio == pytest.approx(mine.loss_curve_[-1] / theirs.loss_curve_[-1])


def test_student_loss_is_the_students_mean_median_or_geometric_mean(rule, wide_tasks):
    # a task's loss is its students' mean final loss, or with student_loss
    # their median or geometric mean: one student on a plateau moves the first
    # most
    from sk_metabp import BackpropMLPClassifier
    from sk_metabp.refine import soft_worst

    X, y, hidden = wide_tasks[0]
    seeds = np.random.RandomState(5).randint(np.iinfo(np.int32).max, size=3)
    common = dict(max_iter=4, batch_size=32)
    mine = [
        LearnedRuleMLPClassifier(
            hidden, learner=FrozenEstimator(rule), mode="link", random_state=s, **common
        )
        .fit(X, y)
        .loss_curve_[-1]
        for s in seeds
    ]
    theirs = [
        BackpropMLPClassifier(hidden, **ADAM, random_state=s, **common)
        .fit(X, y)
        .loss_curve_[-1]
        for s in seeds
    ]
    kwargs = dict(
        baseline=ADAM, batch_size=32, n_epochs=4, n_students=3, random_state=5
    )
    (median,) = loss_ratios(rule, [(X, y, hidden)], student_loss="median", **kwargs)
    (mean,) = loss_ratios(rule, [(X, y, hidden)], **kwargs)
    (gmean,) = loss_ratios(
        rule, [(X, y, hidden)], student_loss="geometric_mean", **kwargs
    )
    assert median == pytest.approx(np.median(mine) / np.median(theirs))
    assert mean == pytest.approx(np.mean(mine) / np.mean(theirs))
    assert gmean == pytest.approx(np.exp(np.mean(np.log(mine) - np.log(theirs))))
    assert len({round(v, 6) for v in (median, mean, gmean)}) == 3
    # with return_losses, every student's final loss, same seeds on both sides
    ratios, learner_losses, baseline_losses = loss_ratios(
        rule, [(X, y, hidden)], return_losses=True, **kwargs
    )
    np.testing.assert_allclose(learner_losses, [mine])
    np.testing.assert_allclose(baseline_losses, [theirs])
    assert ratios.tolist() == [mean]
    # the search scores with the same statistic
    searched = refine_learner(
        rule,
        [(X, y, hidden)],
        score="soft_worst",
        student_loss="median",
        n_generations=1,
        population=2,
        **kwargs,
    )
    assert searched.refine_start_loss_ == pytest.approx(soft_worst([median]))
    for call in (refine_learner, loss_ratios):
        with pytest.raises(ValueError, match="student_loss must be one of"):
            call(rule, [(X, y, hidden)], student_loss="max", **kwargs)


def test_student_losses_compare_learners_on_the_same_students(rule, wide_tasks):
    from sklearn.exceptions import NotFittedError

    from sk_metabp.refine import student_losses, task_ratios

    # a second learner: the first with its output layer's weights halved
    other = copy.deepcopy(rule)
    other.coefs_[-1] = other.coefs_[-1] / 2
    kwargs = dict(
        baseline=ADAM, batch_size=32, n_epochs=4, n_students=3, random_state=5
    )
    mine, theirs = student_losses([rule, FrozenEstimator(other)], wide_tasks, **kwargs)
    assert mine.shape == (2, len(wide_tasks), 3) and theirs.shape == (
        len(wide_tasks),
        3,
    )
    # each row is what loss_ratios gives that learner alone, on the same students
    for learner, row in zip((rule, other), mine):
        _, alone, baseline = loss_ratios(
            learner, wide_tasks, return_losses=True, **kwargs
        )
        np.testing.assert_array_equal(row, alone)
        np.testing.assert_array_equal(theirs, baseline)
    assert not np.array_equal(mine[0], mine[1])
    # task_ratios makes loss_ratios' ratios from them
    for how in ("mean", "median", "geometric_mean"):
        np.testing.assert_array_equal(
            task_ratios(mine[1], theirs, student_loss=how),
            loss_ratios(other, wide_tasks, student_loss=how, **kwargs),
        )
    with pytest.raises(ValueError, match="of one shape"):
        task_ratios(mine[1], theirs[:, :2])
    with pytest.raises(ValueError, match="at least one fitted learner"):
        student_losses([], wide_tasks, **kwargs)
    with pytest.raises(NotFittedError):
        student_losses([rule, BackpropMLPRegressor()], wide_tasks, **kwargs)
    reads_less = copy.deepcopy(rule)
    reads_less.feature_names_in_ = rule.feature_names_in_[:-1]
    with pytest.raises(ValueError, match="read different variables"):
        student_losses([rule, reads_less], wide_tasks, **kwargs)


def test_search_scores_against_the_baseline_teacher(rule, wide_tasks):
    from sk_metabp.refine import soft_worst

    kwargs = dict(batch_size=32, n_epochs=3, n_students=2, random_state=0)
    ratios = loss_ratios(rule, wide_tasks, baseline=ADAM, **kwargs)
    search = dict(n_generations=1, population=2, baseline=ADAM, **kwargs)
    worst = refine_learner(rule, wide_tasks, score="worst_ratio", **search)
    assert worst.refine_start_loss_ == pytest.approx(ratios.max())
    soft = refine_learner(
        rule, wide_tasks, score="soft_worst", temperature=0.5, **search
    )
    assert soft.refine_start_loss_ == pytest.approx(soft_worst(ratios, 0.5))
    assert soft.refine_loss_ <= soft.refine_start_loss_
    # validation scores in the same units, against the same teacher: on the
    # same validation students the soft worst lies below the worst ratio
    start = {}
    for how in ("worst_ratio", "soft_worst"):
        validated = refine_learner(
            rule,
            wide_tasks[:1],
            validation=wide_tasks,
            validation_score=how,
            **search,
        )
        start[how] = validated.refine_validation_start_loss_
    assert 0 < start["soft_worst"] < start["worst_ratio"]


def test_soft_worst_values():
    from sk_metabp.refine import soft_worst

    assert soft_worst([3.0, 3.0, 3.0]) == pytest.approx(3.0)
    # two ratios: T * log((a^(1/T) + b^(1/T)) / 2), exponentiated
    a, b, T = 0.5, 2.0, 0.25
    expected = np.exp(T * np.log((a ** (1 / T) + b ** (1 / T)) / 2))
    assert soft_worst([a, b], T) == pytest.approx(expected)
    assert soft_worst([a, b], 1.0) == pytest.approx((a + b) / 2)
    # no overflow with ratios far apart at a low temperature
    assert soft_worst([1e-300, 1e300], 1e-3) == pytest.approx(1e300, rel=1e-2)


def test_soft_worst_lies_between_the_mean_and_the_maximum():
    from sk_metabp.refine import soft_worst

    rng = np.random.RandomState(0)
    for _ in range(50):
        ratios = np.exp(rng.normal(size=rng.randint(1, 9)))
        T = float(np.exp(rng.uniform(-4, 2)))
        geometric = np.exp(np.log(ratios).mean())
        s = soft_worst(ratios, T)
        assert ratios.max() * (1 + 1e-12) >= s >= geometric * (1 - 1e-12)
    ratios = [0.2, 0.9, 1.6]
    temps = [10.0, 1.0, 0.25, 0.05, 0.01]
    scores = [soft_worst(ratios, t) for t in temps]
    assert np.all(np.diff(scores) > 0)  # colder: nearer the maximum
    assert scores[-1] == pytest.approx(1.6, rel=0.02)


def test_soft_worst_moves_with_every_task():
    from sk_metabp.refine import soft_worst

    ratios = np.array([0.2, 0.9, 1.6])
    s = soft_worst(ratios)
    for i in range(3):
        up, down = ratios.copy(), ratios.copy()
        up[i] *= 1.1
        down[i] /= 1.1
        assert soft_worst(down) < s < soft_worst(up)
    # the worst task weighs most: the same relative change moves it furthest
    moves = []
    for i in range(3):
        up = ratios.copy()
        up[i] *= 1.1
        moves.append(soft_worst(up) - s)
    assert moves[2] > moves[1] > moves[0] > 0


def test_rejects_bad_baselines_and_temperatures(rule, tasks):
    from sk_metabp.refine import soft_worst

    with pytest.raises(ValueError, match="not both"):
        refine_learner(rule, tasks, baseline=ADAM, baseline_rate=1.0)
    with pytest.raises(ValueError, match="not both"):
        loss_ratios(rule, tasks, baseline=ADAM, baseline_rate=1.0)
    with pytest.raises(ValueError, match="BackpropMLPClassifier parameters"):
        loss_ratios(rule, tasks, baseline={"rate": 1.0})
    with pytest.raises(ValueError, match="Invalid baseline.*learning_rate_init"):
        loss_ratios(rule, tasks, baseline={"learning_rate_init": -1.0})
    with pytest.raises(ValueError, match="Invalid baseline.*learning_rate_init"):
        loss_ratios(rule, tasks, baseline={"learning_rate_init": "fast"})
    with pytest.raises(ValueError, match="Invalid baseline.*momentum"):
        loss_ratios(rule, tasks, baseline={"momentum": 1.5})
    with pytest.raises(ValueError, match="Invalid baseline"):
        refine_learner(
            rule, tasks, baseline={"solver": "adam", "learning_rate": "invscaling"}
        )
    with pytest.raises(TypeError, match="baseline must be"):
        loss_ratios(rule, tasks, baseline="adam")
    with pytest.raises(TypeError, match="baseline must be"):
        refine_learner(rule, tasks, baseline=FrozenEstimator(rule))
    with pytest.raises(ValueError, match="temperature"):
        refine_learner(rule, tasks, score="soft_worst", temperature=0)
    with pytest.raises(ValueError, match="score"):
        refine_learner(rule, tasks, validation_score="softmax")
    with pytest.raises(ValueError, match="temperature"):
        soft_worst([1.0, 2.0], temperature=-1)
    with pytest.raises(ValueError, match="positive"):
        soft_worst([1.0, 0.0])
    with pytest.raises(ValueError, match="non-empty"):
        soft_worst([])


# -- tasks drawn afresh each generation ---------------------------------------


@pytest.fixture(scope="module")
def four_tasks():
    return [(*make_boolean(f), (1,)) for f in ("and", "or", "nand", "nor")]


def test_each_generation_scores_its_candidates_on_tasks_drawn_for_it(
    rule, four_tasks, monkeypatch, capsys
):
    import sk_metabp.refine as refine

    seen = []
    real = refine._score

    def spy(learner, layout, theta, tasks, *args):
        seen.append(tuple(id(t) for t in tasks))
        return real(learner, layout, theta, tasks, *args)

    monkeypatch.setattr(refine, "_score", spy)
    refined = refine_learner(
        rule,
        four_tasks,
        tasks_per_generation=2,
        n_generations=3,
        population=4,
        n_epochs=5,
        n_students=2,
        random_state=0,
        verbose=True,
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("on its 2 tasks" in line for line in lines)
    # 3 generations of 5 candidates (the weights and 2 antithetic pairs), each
    # on 2 tasks, the same 2 within a generation; then input and final on all 4
    per_generation = [seen[i * 5 : (i + 1) * 5] for i in range(3)]
    assert len(seen) == 3 * 5 + 2
    for scored in per_generation:
        assert len(set(scored)) == 1 and len(scored[0]) == 2
    assert len({g[0] for g in per_generation}) > 1  # the draws differ
    assert [len(s) for s in seen[-2:]] == [4, 4]
    assert len(refined.refine_history_) == 3
    # the start is the input's score on all tasks, as without drawing
    whole = refine_learner(
        rule,
        four_tasks,
        n_generations=1,
        population=2,
        n_epochs=5,
        n_students=2,
        random_state=0,
    )
    assert refined.refine_start_loss_ == whole.refine_start_loss_
    assert refined.refine_loss_ <= refined.refine_start_loss_


def test_drawn_tasks_return_the_input_unless_the_final_weights_score_lower(
    rule, four_tasks
):
    kwargs = dict(
        tasks_per_generation=2,
        n_generations=2,
        population=4,
        n_epochs=5,
        n_students=2,
        random_state=0,
    )
    # steps this long make the final learner's students fail: the input returns
    wrecked = refine_learner(
        rule, four_tasks, sigma=1e6, step_size=1e6, max_update=None, **kwargs
    )
    np.testing.assert_array_equal(_weights(wrecked), _weights(rule))
    assert wrecked.refine_loss_ == wrecked.refine_start_loss_
    # a search that ends lower on all tasks returns its final weights
    moved = refine_learner(rule, four_tasks, sigma=0.1, step_size=0.5, **kwargs)
    assert moved.refine_loss_ < moved.refine_start_loss_
    assert not np.array_equal(_weights(moved), _weights(rule))
    # with validation, the final weights must also validate lower: on this seed
    # the search ends lower on all tasks but not on the validation task
    kwargs["random_state"] = 1
    unchecked = refine_learner(rule, four_tasks, sigma=0.1, step_size=0.05, **kwargs)
    assert unchecked.refine_loss_ < unchecked.refine_start_loss_
    checked = refine_learner(
        rule,
        four_tasks,
        validation=four_tasks[:1],
        sigma=0.1,
        step_size=0.05,
        **kwargs,
    )
    assert checked.refine_validation_loss_ == checked.refine_validation_start_loss_
    assert checked.refine_loss_ == checked.refine_start_loss_
    assert len(checked.refine_validation_history_) == 1
    np.testing.assert_array_equal(_weights(checked), _weights(rule))


def test_rejects_bad_tasks_per_generation(rule, four_tasks):
    with pytest.raises(ValueError, match="more than the 4 tasks"):
        refine_learner(rule, four_tasks, tasks_per_generation=5)
    with pytest.raises(ValueError, match="tasks_per_generation"):
        refine_learner(rule, four_tasks, tasks_per_generation=0)


# -- checkpoints and several validation scores --------------------------------


#: A search of 4 generations that moves within a second on the boolean tasks.
SHORT_SEARCH = dict(
    n_generations=4,
    population=4,
    n_epochs=5,
    n_students=2,
    sigma=0.1,
    step_size=0.5,
    random_state=0,
)


def _spy_scores(monkeypatch, validation_scores=None):
    """Record every scoring as (weights, number of tasks, score); with
    ``validation_scores``, the i-th validated weights (0: the input) score
    ``validation_scores(i)`` (its first entries, one per score) instead of
    their real validation scores."""
    import sk_metabp.refine as refine

    real = refine._score
    seen, validated = [], []

    def spy(learner, layout, theta, tasks, n_epochs, max_update, how, *args):
        if isinstance(how[0], tuple) and validation_scores is not None:
            validated.append(np.array(theta))
            return validation_scores(len(validated) - 1)[: len(how[0])]
        result = real(learner, layout, theta, tasks, n_epochs, max_update, how, *args)
        seen.append((np.array(theta), len(tasks), result))
        return result

    monkeypatch.setattr(refine, "_score", spy)
    return seen, validated


def test_checkpoints_return_the_lowest_generation_below_the_input(
    rule, four_tasks, monkeypatch
):
    seen, _ = _spy_scores(monkeypatch)
    kwargs = dict(tasks_per_generation=2, **SHORT_SEARCH)
    refined = refine_learner(rule, four_tasks, checkpoints=True, **kwargs)
    # the input and each of the 4 generations' weights, scored on all 4 tasks
    start, *ends = seen[-5:]
    assert all(n == 4 for _, n, _ in seen[-5:])
    np.testing.assert_array_equal(start[0], _weights(rule))
    lower = [(score, w) for w, _, score in ends if score < start[2]]
    assert len(lower) >= 2  # several generations end below the input here
    score, weights = min(lower, key=lambda pair: pair[0])
    np.testing.assert_array_equal(_weights(refined), weights)
    assert refined.refine_loss_ == score < refined.refine_start_loss_ == start[2]
    # without checkpoints only the final weights are compared with the input
    seen.clear()
    final = refine_learner(rule, four_tasks, **kwargs)
    assert [n for _, n, _ in seen[-2:]] == [4, 4] and len(seen) == 4 * 5 + 2
    np.testing.assert_array_equal(seen[-1][0], ends[-1][0])
    assert final.refine_loss_ == min(start[2], ends[-1][2])


@pytest.mark.parametrize("drawn", [True, False])
def test_several_validation_scores_must_all_be_lower(
    rule, four_tasks, monkeypatch, drawn
):
    # the 1st validated weights lower only the first score, the 2nd both, the
    # 3rd the first score more but not the second, the later ones both but less
    fake = {0: (1.0, 1.0), 1: (0.5, 2.0), 2: (0.7, 0.9), 3: (0.6, 1.5)}
    _, validated = _spy_scores(monkeypatch, lambda i: fake.get(i, (0.8, 0.8)))
    kwargs = dict(validation=four_tasks[:1], **SHORT_SEARCH)
    if drawn:  # on this seed all 4 generations end below the input on all tasks
        kwargs.update(tasks_per_generation=2, checkpoints=True, random_state=2)
    both = refine_learner(
        rule, four_tasks, validation_score=("soft_worst", "worst_ratio"), **kwargs
    )
    assert len(validated) >= 3
    np.testing.assert_array_equal(validated[0], _weights(rule))
    np.testing.assert_array_equal(_weights(both), validated[2])
    assert both.refine_validation_scores_ == {"soft_worst": 0.7, "worst_ratio": 0.9}
    assert both.refine_validation_start_scores_ == {
        "soft_worst": 1.0,
        "worst_ratio": 1.0,
    }
    assert both.refine_validation_loss_ == 0.7
    assert both.refine_validation_start_loss_ == 1.0
    # ranked on the first score alone, the 1st validated weights win
    validated.clear()
    first = refine_learner(rule, four_tasks, validation_score="soft_worst", **kwargs)
    np.testing.assert_array_equal(_weights(first), validated[1])
    assert first.refine_validation_scores_ == {"soft_worst": 0.5}


def test_validation_students_train_the_validation_tasks(rule, four_tasks, monkeypatch):
    import sk_metabp.refine as refine

    real, counts = refine._prepare, []

    def spy(tasks, frozen, settings, n_students, rng):
        counts.append((len(tasks), n_students))
        return real(tasks, frozen, settings, n_students, rng)

    monkeypatch.setattr(refine, "_prepare", spy)
    refined = refine_learner(
        rule,
        four_tasks,
        validation=four_tasks[:1],
        validation_students=5,
        n_generations=1,
        population=2,
        n_epochs=5,
        n_students=2,
        random_state=0,
    )
    assert counts == [(4, 2), (1, 5)]
    assert np.isfinite(refined.refine_validation_start_loss_)


@pytest.mark.parametrize("drawn", [True, False])
def test_trust_radius_bounds_every_scored_and_returned_weights(
    rule, four_tasks, monkeypatch, drawn
):
    seen, _ = _spy_scores(monkeypatch)
    kwargs = dict(SHORT_SEARCH)
    if drawn:  # on this seed the search ends below the input on all tasks
        kwargs.update(tasks_per_generation=2, checkpoints=True, random_state=2)
    origin = _weights(rule)
    radius = 0.05 * np.linalg.norm(origin)

    def distances():
        return np.array([np.linalg.norm(w - origin) for w, _, _ in seen])

    refine_learner(rule, four_tasks, **kwargs)
    assert distances().max() > 2 * radius  # unbounded, the search goes further
    seen.clear()
    bounded = refine_learner(rule, four_tasks, trust_radius=0.05, **kwargs)
    assert distances().max() <= radius * (1 + 1e-9)
    # the bound binds: perturbed or stepped weights sit on the ball's surface
    assert np.isclose(distances(), radius).sum() >= 4
    moved = np.linalg.norm(_weights(bounded) - origin)
    assert 0 < moved <= radius * (1 + 1e-9)
    assert bounded.refine_loss_ < bounded.refine_start_loss_


def test_rejects_bad_checkpoints_and_validation_settings(rule, four_tasks):
    with pytest.raises(ValueError, match="checkpoints=True needs tasks_per_gen"):
        refine_learner(rule, four_tasks, checkpoints=True)
    with pytest.raises(ValueError, match="validation_score"):
        refine_learner(rule, four_tasks, validation_score=())
    with pytest.raises(ValueError, match="validation_score.*'softmax'"):
        refine_learner(rule, four_tasks, validation_score=("soft_worst", "softmax"))
    with pytest.raises(ValueError, match="validation_students"):
        refine_learner(rule, four_tasks, validation_students=0)
    for radius in (0, -0.1, "0.1"):
        with pytest.raises(ValueError, match="trust_radius must be a number > 0"):
            refine_learner(rule, four_tasks, trust_radius=radius)


def test_guarded_ratio_is_that_of_a_classifier_that_falls_back(rule, wide_tasks):
    # loss_ratios(fallback_tol=) guards the learner's students as the
    # classifier's on_divergence="fallback" does, falling back to the baseline
    from sk_metabp import BackpropMLPClassifier

    uphill = copy.deepcopy(rule)
    uphill.coefs_[-1] = -20 * uphill.coefs_[-1]  # steps that raise the loss
    uphill.intercepts_[-1] = -20 * uphill.intercepts_[-1]
    X, y, hidden = wide_tasks[0]
    seed = np.random.RandomState(5).randint(np.iinfo(np.int32).max)
    common = dict(max_iter=8, batch_size=32, random_state=seed)
    guarded = LearnedRuleMLPClassifier(
        hidden,
        learner=FrozenEstimator(uphill),
        mode="link",
        on_divergence="fallback",
        fallback_tol=0.1,
        **common,
    ).fit(X, y)
    assert guarded.fallback_epoch_ > 0  # the guard acted
    theirs = BackpropMLPClassifier(hidden, learning_rate_init=0.23, **common).fit(X, y)
    kwargs = dict(batch_size=32, n_epochs=8, n_students=1, random_state=5)
    (ratio,) = loss_ratios(uphill, [(X, y, hidden)], fallback_tol=0.1, **kwargs)
    assert ratio == pytest.approx(guarded.loss_curve_[-1] / theirs.loss_curve_[-1])
    (unguarded,) = loss_ratios(uphill, [(X, y, hidden)], **kwargs)
    assert unguarded > ratio
    with pytest.raises(ValueError, match="fallback_tol"):
        loss_ratios(rule, wide_tasks, fallback_tol=0)


@pytest.mark.parametrize("student_loss", ["mean", "median", "geometric_mean"])
def test_resampled_ratios_draw_the_same_students_on_both_sides(student_loss):
    rng = np.random.RandomState(0)
    # two tasks of 6 students, some on a plateau a thousand times above the rest
    baseline = np.where(rng.rand(2, 6) < 0.5, 1e-5, 1e-2) * rng.uniform(1, 2, (2, 6))
    # paired: a learner 3 times the baseline on every student is 3 on every draw
    tripled = resample_ratios(
        3 * baseline, baseline, student_loss=student_loss, random_state=0
    )
    assert tripled.shape == (1000, 2)
    np.testing.assert_allclose(tripled, 3.0)
    # a learner that leaves other students on the plateau: the resampled ratios
    # spread around the ratio of all students, and reproducibly so
    learner = baseline[:, ::-1].copy()
    kwargs = dict(student_loss=student_loss, n_resamples=400, random_state=1)
    resampled = resample_ratios(learner, baseline, **kwargs)
    from sk_metabp.refine import _reduce

    full = [
        _reduce(a, student_loss) / _reduce(b, student_loss)
        for a, b in zip(learner, baseline)
    ]
    low, high = np.quantile(resampled, [0.05, 0.95], axis=0)
    assert np.all(low < high)
    assert np.all((low <= full) & (full <= high))
    np.testing.assert_array_equal(
        resampled, resample_ratios(learner, baseline, **kwargs)
    )


def test_resampled_ratios_reject_bad_losses():
    good = np.ones((2, 3))
    with pytest.raises(ValueError, match="one shape"):
        resample_ratios(good, np.ones((2, 4)))
    with pytest.raises(ValueError, match="one shape"):
        resample_ratios(np.ones(3), np.ones(3))
    for bad in (np.nan, np.inf, 0.0, -1.0):
        losses = good.copy()
        losses[1, 2] = bad
        with pytest.raises(ValueError, match="positive and finite"):
            resample_ratios(losses, good)
        with pytest.raises(ValueError, match="positive and finite"):
            resample_ratios(good, losses)
    with pytest.raises(ValueError, match="n_resamples"):
        resample_ratios(good, good, n_resamples=0)
    with pytest.raises(ValueError, match="student_loss must be one of"):
        resample_ratios(good, good, student_loss="max")
