"""Refine a fitted learner by trial and error (the paper's "trial and error mode").

Imitation makes a learner as good as its teacher at best. The paper suggests
training the learning network further by trial and error, possibly beyond
backprop. :func:`refine_learner` does this with antithetic evolution
strategies: it perturbs the learner's weights, trains fresh students with each
perturbed learner, and steps the weights towards the perturbations whose
students ended with the lower training loss.

This is a function rather than a parameter of
:class:`~sk_metabp.LearnedRuleMLPClassifier`: refinement scores a learner on
several tasks at once, each with its own data and topology, while a
classifier's ``fit`` sees one task. As a function it takes any fitted learner
and returns an ordinary fitted regressor, which is saved and reused (wrapped in
:class:`sklearn.frozen.FrozenEstimator`) like any other learner.
"""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .backprop import BackpropMLPClassifier, BackpropMLPRegressor
from .learned import LearnedRuleMLPClassifier
from .rules import (
    BackpropRule,
    BoundedRule,
    FallbackRule,
    LearnedRule,
    ParamLayout,
    unwrap_learner,
)


def _flatten(learner):
    """The learner's weights and biases as one vector (every weight, then biases)."""
    sizes = [learner.coefs_[0].shape[0], *(w.shape[1] for w in learner.coefs_)]
    layout = ParamLayout(sizes)
    flat = layout.flatten(
        [c[None] for c in learner.coefs_], [b[None] for b in learner.intercepts_]
    )
    return flat[0], layout


def _with_params(learner, layout, theta):
    """A shallow copy of ``learner`` whose weights are views of ``theta``."""
    new = copy.copy(learner)
    coefs, intercepts = layout.views(np.asarray(theta, dtype=np.float64)[None])
    new.coefs_ = [c[0] for c in coefs]
    new.intercepts_ = [b[0] for b in intercepts]
    return new


def _student_losses(
    learner, task, n_epochs, max_update, baseline=None, fallback_tol=None
):
    """The final training loss of each of a task's students; failures score
    the penalty, and None if the students could not be trained at all.

    A student that diverged, stopped early or ended with a non-finite loss
    scores ``penalty``, which lies above any loss a sigmoid network can reach.
    With ``learner=None`` the students are trained by the update rule of
    ``baseline`` (a backprop estimator from :func:`_baseline_teacher`; None:
    backprop at the rate the learner's residual is taken from). With
    ``fallback_tol``, the learner's students are guarded: one whose loss rises
    past ``1 + fallback_tol`` times its lowest falls back to the baseline's
    rule (:class:`~sk_metabp.rules.FallbackRule`).
    """
    clf, data, seeds, penalty = task

    def baseline_rule():
        if baseline is None:
            return BackpropRule(clf.mode_.learning_rate)
        return baseline.update_rule()

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if learner is None:
                rule = baseline_rule()
            else:
                rule = LearnedRule(clf.mode_, learner)
                if max_update is not None:
                    rule = BoundedRule(rule, max_update)
                if fallback_tol is not None:
                    rule = FallbackRule(rule, baseline_rule(), fallback_tol)
            students = clf.train_students(data, seeds, rule=rule, max_iter=n_epochs)
    except (ArithmeticError, ValueError):
        return None
    curves, n_iter, diverged = students.loss_curves, students.n_iter, students.diverged
    if curves.shape[1] < n_epochs:
        return None
    final = curves[:, n_epochs - 1]
    ok = (n_iter == n_epochs) & (diverged < 0) & np.isfinite(final)
    return np.where(ok, final, penalty)


def _reduce(final, student_loss, axis=None):
    """A task's loss from its students' (see :data:`STUDENT_LOSSES`), over
    ``axis`` of ``final`` (all of it by default)."""
    if student_loss == "median":
        return np.median(final, axis=axis)
    if student_loss == "geometric_mean":
        return _geometric_mean(final, axis=axis)
    return np.mean(final, axis=axis)


def _task_loss(
    learner,
    task,
    n_epochs,
    max_update,
    baseline=None,
    student_loss="mean",
    fallback_tol=None,
):
    """One task's loss: its students' mean (or median, or geometric mean:
    ``student_loss``) final training loss (see :func:`_student_losses`)."""
    final = _student_losses(learner, task, n_epochs, max_update, baseline, fallback_tol)
    return task[-1] if final is None else float(_reduce(final, student_loss))


def _prepare(tasks, frozen, settings, n_students, rng):
    """Each task as (classifier with the frozen learner, data, seeds, penalty)."""
    prepared = []
    for X, y, hidden in tasks:
        clf = LearnedRuleMLPClassifier(hidden, learner=frozen, **settings)
        clf.fit_learner(X, y)  # builds the mode; refuses a learner that misfits
        data = clf.training_data(X, y)
        seeds = rng.randint(np.iinfo(np.int32).max, size=n_students)
        # J = 1/2 sum (ev - y)^2 over sigmoid outputs is at most n_outputs / 2
        prepared.append((clf, data, seeds, float(data.Y.shape[1])))
    return prepared


def _geometric_mean(losses, axis=None):
    logs = np.log(np.maximum(losses, np.finfo(float).tiny))
    return np.exp(np.mean(logs, axis=axis))


def soft_worst(ratios, temperature=0.25):
    """A smooth maximum of loss ratios: ``exp`` of the log-mean-exp of their logs.

    With ``l_i = log(ratios[i])`` over n tasks and temperature T, the score is
    ``exp(T * log(mean_i exp(l_i / T)))``. It lies between the geometric mean
    of the ratios (T large) and their maximum (T towards 0), grows with every
    ratio, and weighs a ratio by ``exp(l_i / T)``: the worst task counts most,
    a task ``T`` below it in log ratio ``e`` times less, and a change on any
    task moves the score, where the maximum moves with the worst task alone.

    Parameters
    ----------
    ratios : array-like of shape (n_tasks,)
        Positive ratios (of a rule's loss to a baseline's).
    temperature : float, default=0.25
        T above, in units of log ratio.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sk_metabp.refine import soft_worst
    >>> round(soft_worst([2.0, 2.0]), 6)  # equal ratios: that ratio
    2.0
    >>> round(soft_worst([1.0, 4.0], temperature=1e-3), 2)  # nearly the maximum
    4.0
    >>> round(soft_worst([1.0, 4.0], temperature=1e3), 2)  # nearly the geometric mean
    2.0
    >>> 2.0 < soft_worst([1.0, 4.0]) < 4.0
    True
    """
    _check_positive("temperature", temperature, Real, 0, strict=True)
    ratios = np.asarray(ratios, dtype=float)
    if ratios.ndim != 1 or ratios.size == 0:
        raise ValueError(
            f"ratios must be a non-empty 1-d array; got shape {ratios.shape}."
        )
    if not np.all(np.isfinite(ratios) & (ratios > 0)):
        raise ValueError(f"ratios must be positive and finite; got {ratios}.")
    logs = np.log(ratios) / temperature
    return float(np.exp(temperature * (logsumexp(logs) - np.log(ratios.size))))


#: The objectives of :func:`refine_learner` (``score`` and ``validation_score``).
SCORES = ("geometric_mean", "worst_ratio", "soft_worst")
#: How a task's students' final losses make the task's loss (``student_loss``).
STUDENT_LOSSES = ("mean", "median", "geometric_mean")


def _objective(losses, score, baseline, temperature):
    """One of :data:`SCORES` from the tasks' losses and the baseline's (a tuple
    of them for a tuple of names)."""
    if isinstance(score, tuple):
        return tuple(_objective(losses, s, baseline, temperature) for s in score)
    if score == "geometric_mean":
        return float(_geometric_mean(losses))
    ratios = np.maximum(losses / baseline, np.finfo(float).tiny)
    if score == "worst_ratio":
        return float(np.max(ratios))
    return soft_worst(ratios, temperature)


def _score(
    learner, layout, theta, tasks, n_epochs, max_update, objective, student_loss
):
    """The objective ``(score, baseline losses, temperature)`` of the tasks'
    losses (see :func:`_objective` and :func:`_task_loss`)."""
    if not np.all(np.isfinite(theta)):
        losses = np.array([t[-1] for t in tasks])
    else:
        candidate = _with_params(learner, layout, theta)
        losses = np.array(
            [
                _task_loss(
                    candidate, t, n_epochs, max_update, student_loss=student_loss
                )
                for t in tasks
            ]
        )
    return _objective(losses, *objective)


def _centered_ranks(scores):
    """Ranks of ``scores`` mapped to [-0.5, 0.5]; ties share their mean rank."""
    scores = np.asarray(scores)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(len(scores))
    for value in np.unique(scores):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    return ranks / max(len(scores) - 1, 1) - 0.5


def _check_positive(name, value, kind, minimum, strict=False):
    if (
        not isinstance(value, kind)
        or isinstance(value, bool)
        or value < minimum
        or (strict and value == minimum)
    ):
        sign = ">" if strict else ">="
        raise ValueError(f"{name} must be a number {sign} {minimum}; got {value!r}.")


def _check_student_loss(student_loss):
    if student_loss not in STUDENT_LOSSES:
        raise ValueError(
            f"student_loss must be one of {STUDENT_LOSSES}; got {student_loss!r}."
        )


def _baseline_teacher(baseline, baseline_rate):
    """The baseline as an unfitted backprop estimator, or None for the default.

    ``baseline_rate`` is backprop at that rate; ``baseline`` a backprop
    estimator (cloned) or a dict of :class:`~sk_metabp.BackpropMLPClassifier`
    parameters. Its :meth:`update_rule` trains the baseline's students.
    """
    if baseline is not None and baseline_rate is not None:
        raise ValueError(
            "Pass baseline or baseline_rate, not both: baseline_rate=r is "
            "baseline={'learning_rate_init': r}."
        )
    if baseline_rate is not None:
        _check_positive("baseline_rate", baseline_rate, Real, 0, strict=True)
        return BackpropMLPClassifier(learning_rate_init=float(baseline_rate))
    if baseline is None:
        return None
    if isinstance(baseline, dict):
        try:
            teacher = BackpropMLPClassifier(**baseline)
        except TypeError as exc:
            raise ValueError(
                "baseline as a dict holds BackpropMLPClassifier parameters "
                f"(such as learning_rate_init, solver, momentum); {exc}."
            ) from None
    elif isinstance(baseline, (BackpropMLPClassifier, BackpropMLPRegressor)):
        teacher = clone(baseline)
    else:
        raise TypeError(
            "baseline must be a BackpropMLPClassifier (or BackpropMLPRegressor), a "
            f"dict of its parameters or None; got {type(baseline).__name__}."
        )
    try:
        rule = teacher.update_rule()
        _check_positive("learning_rate_init", rule.learning_rate, Real, 0, strict=True)
        momentum = getattr(rule, "momentum", 0.0)
        if not isinstance(momentum, Real) or not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {momentum!r}.")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid baseline {baseline!r}: {exc}") from None
    return teacher


def refine_learner(
    learner,
    tasks,
    *,
    mode="link",
    variables=None,
    target=None,
    validation=None,
    validation_score="geometric_mean",
    score="geometric_mean",
    baseline_rate=None,
    baseline=None,
    temperature=0.25,
    batch_size=1,
    n_generations=10,
    population=8,
    sigma=0.02,
    step_size=0.05,
    n_epochs=50,
    n_students=4,
    student_loss="mean",
    tasks_per_generation=None,
    checkpoints=False,
    validation_students=None,
    trust_radius=None,
    max_update=1.0,
    n_jobs=None,
    random_state=None,
    verbose=False,
):
    """Improve a fitted learner by evolution strategies on students' training loss.

    Each generation draws ``n = ceil(population / 2)`` directions ``eps`` (standard
    normal, one entry per weight and bias of the learner) and scores the
    learner at the current weights and at ``theta +/- sigma * eps``. A score is
    the geometric mean over ``tasks`` of the mean final training loss (the
    last entry of the loss curve) of ``n_students`` fresh students trained for
    ``n_epochs`` epochs with that learner as their update rule (a geometric
    mean weighs a relative change equally on every task). Scores are turned
    into centred ranks ``u`` in [-0.5, 0.5], which makes the step insensitive
    to the scale of the losses and to failed students; the weights then move against the
    estimated gradient: with ``n`` antithetic pairs,
    ``theta -= step_size / n * sum_i (u(+eps_i) - u(-eps_i)) eps_i``, a step
    whose length does not depend on ``sigma`` (``sigma`` only sets how far
    apart the compared learners are).

    The students' seeds are drawn once, so every candidate is scored on the
    same students (common random numbers): differences in score come from the
    learner alone. The best-scoring weights seen are returned, so the result is
    never worse than the input on these tasks and students.

    A search on a few tasks can overfit them: a rule that steps boldly on
    small boolean tasks may overshoot on a larger data set. With
    ``validation`` tasks, every weights that improve the best score so far are
    also scored on the validation tasks (with their own students), and the
    returned weights are those, among the input's and these, with the lowest
    validation score: the input comes back unless a refinement also helps on
    tasks the search never trained on.

    With ``tasks_per_generation=k``, each generation scores its candidates on
    ``k`` tasks drawn afresh from ``tasks`` (without replacement; the students
    of a task stay the same), so that the search follows the whole family
    rather than fitting a fixed few, for the cost of ``k`` tasks a
    generation. Scores on different draws do not compare, so no best-so-far
    is kept: the input and the final weights are scored on all ``tasks`` and
    the final weights are returned only if they score lower (and, with
    ``validation``, also lower on the validation tasks). With
    ``checkpoints=True`` the weights after every generation are candidates
    too: those that score lower than the input on all ``tasks`` (and validate
    lower), the lowest-scoring is returned, on the validation tasks if any.
    A search that drifts away late, as a search on a few drawn tasks can,
    then still gives back the weights of the generation before it drifted
    (early stopping on the validation tasks).

    With ``trust_radius=r``, the weights never move further than ``r`` times
    the input weights' norm from them: the perturbed weights and each step's
    result are projected back onto that ball, so no weights outside it are
    scored or returned. On a noisy objective the ranked steps walk even where
    the estimated gradient is noise, and a rule that has walked far can lose
    on tasks unlike the search's; the radius bounds how far the result can be
    from the rule that was imitated, whatever the number of generations.

    Parameters
    ----------
    learner : BackpropMLPRegressor or FrozenEstimator of one
        A fitted learner; it is not modified.
    tasks : list of (X, y, hidden_layer_sizes)
        The problems the students train on, with their hidden layers.
    mode : {"link", "delta", "network"}, default="link"
        The mode the learner was fitted in; a network-mode learner serves only
        tasks of its own topology.
    variables : str or sequence of str, default=None
        The learner's variables (the mode's default when None).
    target : {"change", "scaled", "fan_in_scaled", "residual", \
"residual_odd"}, default=None
        What the link-mode learner predicts (the mode's default when None; see
        :class:`~sk_metabp.LearnedRuleMLPClassifier`).
    validation : list of (X, y, hidden_layer_sizes) or None, default=None
        Held-out tasks that choose the returned weights (see above).
    validation_score : {"geometric_mean", "worst_ratio", "soft_worst"} or \
sequence of them, default="geometric_mean"
        How the validation tasks score weights: the geometric mean of their
        losses, as in the search; the largest ratio of a task's loss to the
        baseline's (see ``baseline``, with the same students); or
        :func:`soft_worst` of those ratios, a smooth maximum at
        ``temperature``. ``"worst_ratio"`` returns the weights least worse than
        the baseline on their worst validation task: a search that trades a
        large gain on one task for a loss on another is not taken. With
        several, e.g. ``("soft_worst", "worst_ratio")``, weights are taken only
        if they score lower than the input on every one, and the first ranks
        them: a smooth gain that raises the worst validation task is refused.
    score : {"geometric_mean", "worst_ratio", "soft_worst"}, \
default="geometric_mean"
        The search's objective on ``tasks``, in the same three ways: with
        ``"worst_ratio"`` the search lowers the loss of the task on which the
        learner does worst against the baseline (each task's baseline loss is
        measured once, with the candidates' students); ``"soft_worst"`` moves
        when any task's ratio moves and still weighs the worst most.
    baseline_rate : float or None, default=None
        Backprop at this rate as the baseline of the ratios (the same as
        ``baseline={"learning_rate_init": baseline_rate}``). With neither
        this nor ``baseline``, the baseline is backprop at the rate of a
        :class:`~sk_metabp.LearnedRuleMLPClassifier`'s default teacher, the
        one a residual target is taken from (the paper's 0.23).
    baseline : BackpropMLPClassifier, dict or None, default=None
        The teacher the ratios compare with: an estimator whose
        :meth:`~sk_metabp.BackpropMLPClassifier.update_rule` trains the
        baseline's students (backprop at a rate, with momentum, or Adam), or a
        dict of its parameters. Only its rule counts: the students have the
        tasks' hidden layers and train at ``batch_size`` for ``n_epochs``. For
        a pretrained rule pass the teacher it imitated
        (:func:`sk_metabp.pretrained.imitated_teacher`). Not with
        ``baseline_rate``.
    temperature : float, default=0.25
        The temperature of ``"soft_worst"`` (see :func:`soft_worst`).
    batch_size : int, default=1
        The students' batch size (candidates and baseline alike): a learner
        fitted at batch size 32 is refined at 32.
    n_generations : int, default=10
        Steps of the search.
    population : int, default=8
        Perturbations scored per generation, in antithetic pairs; an odd number
        is rounded up.
    sigma : float, default=0.02
        Standard deviation of the perturbations of the learner's weights.
    step_size : float, default=0.05
        Length of the step along the rank-weighted mean direction.
    n_epochs : int, default=50
        Epochs of each student.
    n_students : int, default=4
        Students (seeds) per task, trained in lockstep.
    student_loss : {"mean", "median", "geometric_mean"}, default="mean"
        A task's loss from its students' final losses: their mean, their
        median or their geometric mean. A student that settles on a plateau
        ends with a loss hundreds of times its peers' (from other seeds the
        baseline's students do too), and with a few students the mean, and a
        ratio of two means, is then that one student's; the median is not
        moved by it, unless about half the students settle so; the geometric
        mean moves by the same factor for each student that does.
    tasks_per_generation : int or None, default=None
        Tasks drawn for each generation's candidates (see above); None scores
        every generation on all ``tasks``.
    checkpoints : bool, default=False
        With ``tasks_per_generation``, also consider the weights after each
        generation, not only the final ones (see above). Without it every
        generation's weights are compared already.
    validation_students : int or None, default=None
        Students per validation task (``n_students`` when None): more students
        make the validation ratios, and so the choice, less noisy, at the cost
        of the validation only.
    trust_radius : float or None, default=None
        Largest distance of the weights from the input's, relative to the
        input's norm (see above); None leaves them free.
    max_update : float or None, default=1.0
        Bound on each change the learner makes, as in
        :class:`~sk_metabp.LearnedRuleMLPClassifier`.
    n_jobs : int or None, default=None
        Workers scoring the candidates of a generation in parallel (joblib).
    random_state : int, RandomState instance or None, default=None
        Seeds the students and the perturbations.
    verbose : bool, default=False
        Print the best-so-far loss after each generation.

    Returns
    -------
    refined : BackpropMLPRegressor
        A deep copy of the learner with the best weights found, with
        ``refine_history_`` (the best-so-far loss after each generation),
        ``refine_start_loss_`` (the input learner's score) and ``refine_loss_``
        (the returned learner's score); with ``validation``, also
        ``refine_validation_start_loss_`` and ``refine_validation_loss_`` (the
        input's and the returned learner's validation scores) and
        ``refine_validation_history_`` (the best validation score after each
        generation), on the first ``validation_score``; and
        ``refine_validation_start_scores_`` and ``refine_validation_scores_``,
        dicts of every ``validation_score`` of the input and of the returned
        learner. With ``tasks_per_generation``, ``refine_history_`` holds
        each generation's score of its unperturbed weights on that
        generation's tasks, the two losses are scores on all ``tasks``, and the
        validation history is the returned weights' validation score alone.

    Examples
    --------
    >>> from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> from sk_metabp.refine import refine_learner
    >>> X, y = make_boolean("and")
    >>> rule = LearnedRuleMLPClassifier(
    ...     (1,), learner=BackpropMLPRegressor((8,), max_iter=20, random_state=0),
    ...     mode="link", n_teacher_runs=2, max_iter=100).fit(X, y).learner_
    >>> refined = refine_learner(rule, [(X, y, (1,))], n_generations=2,
    ...                          population=4, n_epochs=20, random_state=0)
    >>> len(refined.refine_history_)
    2
    >>> bool(refined.refine_loss_ <= refined.refine_start_loss_)
    True
    """
    base = unwrap_learner(learner)
    if not isinstance(base, BackpropMLPRegressor):
        raise TypeError(
            "refine_learner perturbs the weights of a BackpropMLPRegressor; got "
            f"{type(base).__name__}."
        )
    check_is_fitted(base)
    _check_positive("n_generations", n_generations, Integral, 1)
    _check_positive("population", population, Integral, 1)
    _check_positive("n_epochs", n_epochs, Integral, 1)
    _check_positive("n_students", n_students, Integral, 1)
    _check_positive("sigma", sigma, Real, 0, strict=True)
    _check_positive("step_size", step_size, Real, 0, strict=True)
    _check_positive("batch_size", batch_size, Integral, 1)
    _check_positive("temperature", temperature, Real, 0, strict=True)
    teacher = _baseline_teacher(baseline, baseline_rate)
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks must hold at least one (X, y, hidden_layer_sizes).")
    val_scores = (
        (validation_score,)
        if isinstance(validation_score, str)
        else tuple(validation_score)
    )
    if not isinstance(score, str) or score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}; got {score!r}.")
    if not val_scores or not all(
        isinstance(v, str) and v in SCORES for v in val_scores
    ):
        raise ValueError(
            f"validation_score must be one of {SCORES} or a non-empty sequence "
            f"of them; got {validation_score!r}."
        )
    if validation_students is not None:
        _check_positive("validation_students", validation_students, Integral, 1)
    if trust_radius is not None:
        _check_positive("trust_radius", trust_radius, Real, 0, strict=True)
    if checkpoints and tasks_per_generation is None:
        raise ValueError(
            "checkpoints=True needs tasks_per_generation: without drawn tasks "
            "every generation's weights are compared already."
        )
    _check_student_loss(student_loss)
    if tasks_per_generation is not None:
        _check_positive("tasks_per_generation", tasks_per_generation, Integral, 1)
        if tasks_per_generation > len(tasks):
            raise ValueError(
                f"tasks_per_generation={tasks_per_generation} is more than the "
                f"{len(tasks)} tasks given; pass at most len(tasks), or None to "
                "score every generation on all of them."
            )
    if validation is not None:
        validation = list(validation)
        if not validation:
            raise ValueError(
                "validation must hold at least one (X, y, hidden_layer_sizes) "
                "or be None."
            )

    rng = check_random_state(random_state)
    refined = copy.deepcopy(base)
    theta, layout = _flatten(refined)
    frozen = FrozenEstimator(refined)

    settings = dict(
        mode=mode,
        variables=variables,
        target=target,
        max_iter=n_epochs,
        max_update=max_update,
        batch_size=batch_size,
    )

    prepared = _prepare(tasks, frozen, settings, n_students, rng)
    held_out = None
    if validation is not None:
        held_out = _prepare(
            validation, frozen, settings, validation_students or n_students, rng
        )

    n_pairs = (population + 1) // 2
    parallel = Parallel(n_jobs=n_jobs)

    def objective(task_list, how):
        """(score, the baseline's loss on each task or None, temperature)."""
        losses = None
        if set(how if isinstance(how, tuple) else (how,)) != {"geometric_mean"}:
            # from the candidates' students
            losses = np.array(
                [
                    _task_loss(None, t, n_epochs, None, teacher, student_loss)
                    for t in task_list
                ]
            )
        return how, losses, temperature

    train_objective = objective(prepared, score)
    if held_out is not None:
        val_objective = objective(held_out, val_scores)

    def score_all(thetas, on=prepared, how=train_objective):
        return parallel(
            delayed(_score)(
                refined, layout, t, on, n_epochs, max_update, how, student_loss
            )
            for t in thetas
        )

    def validate(thetas):
        return score_all(thetas, held_out, val_objective)

    def drawn():
        """This generation's tasks and their objective (all of them by default)."""
        if tasks_per_generation is None:
            return prepared, train_objective
        idx = np.sort(rng.choice(len(prepared), tasks_per_generation, replace=False))
        how, losses, temp = train_objective
        return [prepared[i] for i in idx], (
            how,
            None if losses is None else losses[idx],
            temp,
        )

    best_theta, best = theta.copy(), np.inf
    origin = theta.copy()
    if trust_radius is not None:
        radius = trust_radius * np.linalg.norm(origin)

    def within_radius(weights):
        """``weights`` projected onto the trust region's ball (if any)."""
        if trust_radius is None:
            return weights
        shift = weights - origin
        distance = np.linalg.norm(shift)
        return weights if distance <= radius else origin + shift * (radius / distance)

    start = None
    history = []
    if held_out is not None:
        (val_start,) = validate([theta])
        val_history = []
    # with validation: the weights to return, their validation and training scores
    chosen = [theta.copy(), val_start if held_out is not None else None, None]

    def new_best(candidates, losses):
        """Keep new training bests; with validation, only those that validate
        lower than the input on every score, the lowest on the first."""
        if held_out is None:
            return
        for candidate, loss, val in zip(candidates, losses, validate(candidates)):
            lower = all(v < v0 for v, v0 in zip(val, val_start))
            if lower and val[0] < chosen[1][0]:
                chosen[:] = [candidate.copy(), val, loss]

    seen = []  # with checkpoints: the weights after each generation
    for gen in range(n_generations):
        on, how = drawn()
        eps = rng.standard_normal((n_pairs, theta.size))
        candidates = [
            theta,
            *map(within_radius, theta + sigma * eps),
            *map(within_radius, theta - sigma * eps),
        ]
        scores = np.array(score_all(candidates, on, how))
        if tasks_per_generation is not None:
            history.append(float(scores[0]))
        else:
            if start is None:
                start = best = chosen[2] = scores[0]
            i = int(np.argmin(scores))
            if scores[i] < best:
                best, best_theta = scores[i], candidates[i].copy()
                new_best([best_theta], [best])
        u = _centered_ranks(scores[1:])
        weights = u[:n_pairs] - u[n_pairs:]  # antithetic: +eps and -eps
        theta = within_radius(theta - step_size / n_pairs * (weights @ eps))
        if tasks_per_generation is not None:
            if checkpoints:
                seen.append(theta)
            if verbose:
                print(
                    f"generation {gen + 1}/{n_generations}: loss on its "
                    f"{len(on)} tasks {scores[0]:.6f} (population median "
                    f"{np.median(scores):.6f})"
                )
            continue
        if gen == n_generations - 1:
            (last,) = score_all([theta])
            if last < best:
                best, best_theta = last, theta.copy()
                new_best([best_theta], [best])
        history.append(float(best))
        if held_out is not None:
            val_history.append(float(chosen[1][0]))
        if verbose:
            print(
                f"generation {gen + 1}/{n_generations}: best loss {best:.6f} "
                f"(start {start:.6f}, population median {np.median(scores):.6f})"
                + (
                    ""
                    if held_out is None
                    else f"; validation {chosen[1][0]:.6f} (start {val_start[0]:.6f})"
                )
            )

    if tasks_per_generation is not None:
        # the input (best_theta, untouched) against the final weights (or every
        # generation's), on all tasks; only those scoring lower stay candidates
        finals = seen if checkpoints else [theta]
        start, *lasts = score_all([best_theta, *finals])
        best = chosen[2] = start
        lower = [(last, w) for last, w in zip(lasts, finals) if last < start]
        if held_out is None:
            if lower:
                best, best_theta = min(lower, key=lambda pair: pair[0])
                best_theta = best_theta.copy()
        else:
            # taken only if it validates better
            new_best([w for _, w in lower], [last for last, _ in lower])
            val_history = [float(chosen[1][0])]

    if held_out is not None:
        best_theta, best = chosen[0], chosen[2]
        refined.refine_validation_start_loss_ = float(val_start[0])
        refined.refine_validation_loss_ = float(chosen[1][0])
        refined.refine_validation_history_ = val_history
        refined.refine_validation_start_scores_ = dict(
            zip(val_scores, map(float, val_start))
        )
        refined.refine_validation_scores_ = dict(zip(val_scores, map(float, chosen[1])))

    final = _with_params(refined, layout, best_theta)
    refined.coefs_ = [c.copy() for c in final.coefs_]
    refined.intercepts_ = [b.copy() for b in final.intercepts_]
    refined.refine_history_ = history
    refined.refine_start_loss_ = float(start)
    refined.refine_loss_ = float(best)
    return refined


def student_losses(
    learners,
    tasks,
    *,
    baseline_rate=None,
    baseline=None,
    mode="link",
    variables=None,
    target=None,
    batch_size=1,
    n_epochs=50,
    n_students=4,
    max_update=1.0,
    fallback_tol=None,
    random_state=None,
):
    """Every student's final training loss under several learners and a baseline.

    On every task, ``n_students`` fresh students (seeds drawn from
    ``random_state``) train for ``n_epochs`` epochs with each learner's rule,
    and the same students (same seeds: the same initial weights and order of
    examples) with the baseline's (backprop at ``baseline_rate``, or the rule
    of ``baseline``), trained once for all the learners. A student that
    diverged, stopped early or ended with a non-finite loss scores the
    penalty of :func:`refine_learner`, which lies above any loss a sigmoid
    network can reach. Comparing rules on the same students makes their
    difference paired (:func:`resample_ratios`).

    Parameters
    ----------
    learners : list of BackpropMLPRegressor or FrozenEstimator of one
        Fitted learners that read the same variables.
    tasks : list of (X, y, hidden_layer_sizes)
    baseline_rate, baseline, mode, variables, target, batch_size, n_epochs, \
n_students, max_update, random_state
        As in :func:`refine_learner`.
    fallback_tol : float or None, default=None
        As in :func:`loss_ratios`.

    Returns
    -------
    learner_losses : ndarray of shape (n_learners, n_tasks, n_students)
    baseline_losses : ndarray of shape (n_tasks, n_students)
        Student ``j`` of a task has the same seed in every row.

    Examples
    --------
    >>> from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> from sk_metabp.refine import student_losses
    >>> X, y = make_boolean("and")
    >>> rules = [LearnedRuleMLPClassifier(
    ...     (1,), learner=BackpropMLPRegressor((8,), max_iter=20, random_state=s),
    ...     mode="link", n_teacher_runs=2, max_iter=100).fit(X, y).learner_
    ...     for s in (0, 1)]
    >>> mine, theirs = student_losses(
    ...     rules, [(X, y, (1,))], n_epochs=20, n_students=3, random_state=0)
    >>> mine.shape, theirs.shape
    ((2, 1, 3), (1, 3))
    """
    bases = [unwrap_learner(learner) for learner in learners]
    if not bases:
        raise ValueError("learners must hold at least one fitted learner.")
    for base in bases:
        check_is_fitted(base)
    names = [list(getattr(b, "feature_names_in_", [])) for b in bases]
    if any(n != names[0] for n in names[1:]):
        raise ValueError(
            "The learners read different variables "
            f"({[n for n in names if n != names[0]][0]} against {names[0]}); "
            "compare learners of one mode, variables and target."
        )
    _check_positive("batch_size", batch_size, Integral, 1)
    _check_positive("n_epochs", n_epochs, Integral, 1)
    _check_positive("n_students", n_students, Integral, 1)
    if fallback_tol is not None:
        _check_positive("fallback_tol", fallback_tol, Real, 0, strict=True)
    teacher = _baseline_teacher(baseline, baseline_rate)
    settings = dict(
        mode=mode,
        variables=variables,
        target=target,
        max_iter=n_epochs,
        max_update=max_update,
        batch_size=batch_size,
    )
    prepared = _prepare(
        list(tasks),
        FrozenEstimator(bases[0]),
        settings,
        n_students,
        check_random_state(random_state),
    )

    def losses(base, bound, tol):
        """(n_tasks, n_students) final losses of ``base``'s rule (None: the
        baseline's); students that could not be trained at all score the
        penalty."""
        rows = []
        for task in prepared:
            final = _student_losses(base, task, n_epochs, bound, teacher, tol)
            rows.append(np.full(n_students, task[-1]) if final is None else final)
        return np.array(rows)

    mine = np.array([losses(base, max_update, fallback_tol) for base in bases])
    return mine, losses(None, None, None)


def loss_ratios(
    learner,
    tasks,
    *,
    baseline_rate=None,
    baseline=None,
    mode="link",
    variables=None,
    target=None,
    batch_size=1,
    n_epochs=50,
    n_students=4,
    student_loss="mean",
    max_update=1.0,
    fallback_tol=None,
    return_losses=False,
    random_state=None,
):
    """Each task's ratio of a learner's training loss to a baseline teacher's.

    On every task, ``n_students`` fresh students train for ``n_epochs`` epochs
    with the learner, and the same students (same seeds) with the baseline
    (backprop at ``baseline_rate``, or the rule of ``baseline``); a task's
    ratio is the mean (or median, or geometric mean: ``student_loss``) final
    training loss of the first over that of the second, a failed student
    scoring the penalty as in
    :func:`refine_learner` (:func:`student_losses` gives every student's). Its
    largest entry is ``"worst_ratio"``, the
    objective of :func:`refine_learner` and :func:`soft_worst` of it
    ``"soft_worst"``, here measured on students of one's own seeds (for tasks
    the search never saw).

    Parameters
    ----------
    learner : BackpropMLPRegressor or FrozenEstimator of one
    tasks : list of (X, y, hidden_layer_sizes)
    baseline_rate, baseline, mode, variables, target, batch_size, n_epochs, \
n_students, student_loss, max_update
        As in :func:`refine_learner`.
    fallback_tol : float or None, default=None
        With a tolerance, the learner's students are guarded as by
        :class:`~sk_metabp.LearnedRuleMLPClassifier`'s
        ``on_divergence="fallback"``: a student whose epoch loss rises past
        ``1 + fallback_tol`` times its lowest gets back its best epoch's
        weights and trains on with the baseline's rule.
    return_losses : bool, default=False
        Also return every student's final loss, for :func:`resample_ratios`.
    random_state : int, RandomState instance or None, default=None
        Seeds the students.

    Returns
    -------
    ratios : ndarray of shape (n_tasks,)
    learner_losses, baseline_losses : ndarray of shape (n_tasks, n_students)
        With ``return_losses``: each student's final training loss with the
        learner and with the baseline (a failed student scores the penalty);
        student ``j`` of a task has the same seed on both sides.

    Examples
    --------
    >>> from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> from sk_metabp.refine import loss_ratios
    >>> X, y = make_boolean("and")
    >>> rule = LearnedRuleMLPClassifier(
    ...     (1,), learner=BackpropMLPRegressor((8,), max_iter=20, random_state=0),
    ...     mode="link", n_teacher_runs=2, max_iter=100).fit(X, y).learner_
    >>> loss_ratios(rule, [(X, y, (1,))], n_epochs=20, random_state=0).shape
    (1,)
    """
    _check_student_loss(student_loss)
    (mine,), theirs = student_losses(
        [learner],
        tasks,
        baseline_rate=baseline_rate,
        baseline=baseline,
        mode=mode,
        variables=variables,
        target=target,
        batch_size=batch_size,
        n_epochs=n_epochs,
        n_students=n_students,
        max_update=max_update,
        fallback_tol=fallback_tol,
        random_state=random_state,
    )
    ratios = _ratios(mine, theirs, student_loss)
    if not return_losses:
        return ratios
    return ratios, mine, theirs


def _ratios(mine, theirs, student_loss, axis=-1):
    """Each task's ratio of its students' losses, reduced over ``axis``."""
    return _reduce(mine, student_loss, axis=axis) / _reduce(
        theirs, student_loss, axis=axis
    )


def _check_losses(learner_losses, baseline_losses, student_loss):
    """The two (n_tasks, n_students) arrays of losses as floats, checked."""
    _check_student_loss(student_loss)
    mine = np.asarray(learner_losses, dtype=float)
    theirs = np.asarray(baseline_losses, dtype=float)
    if mine.ndim != 2 or mine.shape != theirs.shape or mine.size == 0:
        raise ValueError(
            "learner_losses and baseline_losses must be non-empty arrays of one "
            f"shape (n_tasks, n_students); got {mine.shape} and {theirs.shape}."
        )
    if not np.all(np.isfinite(mine) & (mine > 0) & np.isfinite(theirs) & (theirs > 0)):
        raise ValueError(
            "losses must be positive and finite (failed students score a "
            "finite penalty in loss_ratios)."
        )
    return mine, theirs


def task_ratios(learner_losses, baseline_losses, *, student_loss="mean"):
    """Each task's ratio from its students' final losses, as :func:`loss_ratios`.

    Parameters
    ----------
    learner_losses, baseline_losses : array-like of shape (n_tasks, n_students)
        Final training losses of each task's students (:func:`student_losses`).
    student_loss : {"mean", "median", "geometric_mean"}, default="mean"
        How a task's loss is made from its students'.

    Returns
    -------
    ratios : ndarray of shape (n_tasks,)

    Examples
    --------
    >>> from sk_metabp.refine import task_ratios
    >>> task_ratios([[1.0, 4.0], [2.0, 2.0]], [[2.0, 2.0], [1.0, 4.0]],
    ...             student_loss="geometric_mean").round(6).tolist()
    [1.0, 1.0]
    """
    mine, theirs = _check_losses(learner_losses, baseline_losses, student_loss)
    return _ratios(mine, theirs, student_loss)


def resample_ratios(
    learner_losses,
    baseline_losses,
    *,
    student_loss="mean",
    n_resamples=1000,
    random_state=None,
):
    """Task ratios recomputed on students drawn with replacement (paired bootstrap).

    A task's ratio rests on a few students, and where some of them settle on a
    plateau it moves a lot with the students drawn. Each resample draws, for
    every task, ``n_students`` of its students with replacement and takes the
    same ones on both sides (a student of the learner and of the baseline
    share a seed: the same initial weights and order of examples), then
    recomputes the ratio. The spread of a score over the resamples (the worst
    ratio, :func:`soft_worst`) says how much of a difference between two rules
    the students alone could make.

    Parameters
    ----------
    learner_losses, baseline_losses : array-like of shape (n_tasks, n_students)
        Final training losses of each task's students, as returned by
        ``loss_ratios(..., return_losses=True)``.
    student_loss : {"mean", "median", "geometric_mean"}, default="mean"
        How a task's loss is made from its students', as in :func:`loss_ratios`.
    n_resamples : int, default=1000
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    ratios : ndarray of shape (n_resamples, n_tasks)

    Examples
    --------
    >>> import numpy as np
    >>> from sk_metabp.refine import resample_ratios
    >>> baseline = np.array([[1e-3, 2e-3, 1e-2, 4e-3]])  # one task, 4 students
    >>> resampled = resample_ratios(2 * baseline, baseline, random_state=0)
    >>> resampled.shape, bool(np.allclose(resampled, 2.0))  # paired: always 2
    ((1000, 1), True)
    """
    _check_positive("n_resamples", n_resamples, Integral, 1)
    mine, theirs = _check_losses(learner_losses, baseline_losses, student_loss)
    n_tasks, n_students = mine.shape
    rng = check_random_state(random_state)
    picks = rng.randint(n_students, size=(n_resamples, n_tasks, n_students))
    tasks = np.arange(n_tasks)[None, :, None]

    return _ratios(mine[tasks, picks], theirs[tasks, picks], student_loss)
