"""Sample a training run, update by update, into learner rows (the paper's step 1)."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import check_random_state

from ._base import TrainingData
from ._mlp import ParamLayout
from ._modes import ModeStateMixin, make_mode
from .rules import UpdateRule, teacher_rate


def _check_teacher(estimator):
    """Refuse, with a clear error, an estimator the recorder cannot sample."""
    from .backprop import BackpropMLPClassifier, BackpropMLPRegressor

    if not isinstance(estimator, (BackpropMLPClassifier, BackpropMLPRegressor)):
        raise TypeError(
            f"Cannot record {type(estimator).__name__}: the recorder samples the "
            "training of sk_metabp's backprop networks (or of a subclass with its "
            "own update_rule). Pass a BackpropMLPClassifier or BackpropMLPRegressor."
        )


def _check_online(estimator, mode):
    """Refuse a network-mode teacher that does not train online (its
    parameters validated)."""
    if mode == "network" and estimator.batch_size != 1:
        raise ValueError(
            f"The teacher trains with batch_size={estimator.batch_size}; network "
            "mode records online training (one pattern per update, the paper's "
            "way). Set the teacher's batch_size=1, or record in mode='link' or "
            "mode='delta', whose rows describe a mini-batch."
        )


def _sample_updates(n_updates, every, candidates=None):
    """The updates to keep: one from each block of ``every`` consecutive updates.

    The offset inside each block is drawn from a generator seeded by ``every``:
    a fixed stride would see only some patterns whenever it shares a factor with
    the number of patterns. ``candidates``, the updates that may be kept (all
    ``n_updates`` when None), are sampled the same way.
    """
    if candidates is not None:
        return candidates[_sample_updates(len(candidates), every)]
    starts = np.arange(0, n_updates, every)
    if every == 1:
        return starts
    rng = np.random.RandomState(every)
    return starts + rng.randint(0, np.minimum(every, n_updates - starts))


def _progress_marks(picks, per_epoch, n_epochs, name):
    """``{s: message}``: what to print after writing sampled update ``s``.

    One message about every tenth of the epochs (at the first sampled update
    after it; ``per_epoch`` updates make an epoch), so that a long recording
    shows it is moving.
    """
    epochs = picks // per_epoch
    marks = {}
    for done in np.unique(np.linspace(0, n_epochs, 11)[1:-1].astype(int)):
        s = int(np.searchsorted(epochs, done))
        if done and s < len(picks):
            marks[s] = f"  {name}: {done} of {n_epochs} epochs done"
    return marks


def _runs(index):
    """``'run 3'`` or ``'runs 1-2'`` for 0-based run indices."""
    first, last = index[0] + 1, index[-1] + 1
    return f"run {first}" if first == last else f"runs {first}-{last}"


class _TeacherLabelled(UpdateRule):
    """Train by ``rollout``; label every state with ``teacher``'s change there.

    At each update the teacher's rule runs first (backprop's change can be
    computed at any state), then the rollout rule, whose change is applied;
    with ``teacher_share`` s, each network applies the teacher's change
    instead at a share s of its updates (drawn from ``random_state``).
    :meth:`labels` are the teacher's changes at the update. The step's
    cached deltas are dropped after the rollout rule (a delta-mode rule
    overwrites them), so rows written from the step read backprop's.
    The teacher's rule keeps its own state (momentum) from its own changes.
    """

    def __init__(self, teacher, rollout, teacher_share=0.0, random_state=None):
        self.teacher = teacher
        self.rollout = rollout
        self.teacher_share = teacher_share
        self.random_state = random_state

    def start(self, step):
        self.teacher.start(step)
        self.rollout.start(step)
        layout = ParamLayout.of(step.coefs)
        self.label, self.label_coefs, self.label_intercepts = layout.zeros(
            step.n_networks
        )
        self.flat, self.dcoefs, self.dintercepts = layout.zeros(step.n_networks)
        self._layout = layout
        self._rng = check_random_state(self.random_state)

    def labels(self):
        """The teacher's changes at the current update: ``(dcoefs, dintercepts)``."""
        return self.label_coefs, self.label_intercepts

    def __call__(self, step):
        dcoefs, dintercepts = self.teacher(step)
        self._layout.flatten(dcoefs, dintercepts, out=self.label)
        dcoefs, dintercepts = self.rollout(step)
        step.invalidate()
        if not self.teacher_share:
            return dcoefs, dintercepts
        self._layout.flatten(dcoefs, dintercepts, out=self.flat)
        mixed = self._rng.random_sample(step.n_networks) < self.teacher_share
        self.flat[mixed] = self.label[mixed]
        return self.dcoefs, self.dintercepts

    def end_epoch(self, epoch, params, loss, active, finite, start_params):
        self.teacher.end_epoch(epoch, params, loss, active, finite, start_params)
        return self.rollout.end_epoch(epoch, params, loss, active, finite, start_params)

    def on_plateau(self, stalled):
        return self.rollout.on_plateau(stalled)


def _record_chunk(
    estimator,
    X,
    Y,
    sizes,
    seeds,
    mode,
    picks,
    dtype,
    progress=None,
    rollout=None,
    teacher_share=0.0,
):
    """Train one lockstep stack of runs and keep the updates in ``picks``.

    With ``rollout`` (an update rule) the runs are trained by it, and each
    kept row holds the teacher's change at the state (see
    :class:`_TeacherLabelled`); otherwise by the teacher.

    Returns the rows, shape ``(K, len(picks), R, n_features + n_targets)`` (the
    features, then the targets), the loss curves and the divergence epochs of
    the K runs. Rows of updates a stopped stack never reached are left
    unwritten (the caller drops them). ``progress``, from
    :func:`_progress_marks`, prints its messages as the stack reaches them.
    """
    K, S, R = len(seeds), len(picks), mode.rows_per_update
    rows = np.empty((K, S, R, mode.n_features + mode.n_targets), dtype=dtype)
    write = mode.row_writer()

    # a plain list and a sentinel keep the per-update test cheap
    wanted = [*picks.tolist(), -1]
    at = [0]
    rule = None
    if rollout is not None:
        rule = _TeacherLabelled(
            estimator.update_rule(), rollout, teacher_share, int(seeds[0])
        )

    # rows with running averages need every update, written or not
    observe = getattr(write, "observe", None)

    def callback(step, dcoefs, dintercepts):
        s = at[0]
        if step.step == wanted[s]:
            if rule is not None:
                dcoefs, dintercepts = rule.labels()
            write(step, dcoefs, dintercepts, rows[:, s])
            at[0] = s + 1
        elif observe is not None:
            observe(step)

    if progress:
        started = time.perf_counter()
        record = callback

        def callback(step, dcoefs, dintercepts):
            s = at[0]
            record(step, dcoefs, dintercepts)
            if at[0] != s and s in progress:
                elapsed = time.perf_counter() - started
                print(f"{progress[s]} ({elapsed:.1f} s)", flush=True)

    students = estimator.train_students(
        TrainingData(X, Y, sizes), seeds, rule=rule, callback=callback
    )
    fell_back = getattr(rollout, "fell_back", None)
    fell_back = np.full(len(seeds), -1) if fell_back is None else fell_back.copy()
    return rows, students.loss_curves, students.diverged, fell_back


#: Bytes of the per-row indices a recording keeps: run, epoch, step, teacher.
_INDEX_BYTES = 4 * np.dtype(np.int64).itemsize


def _gib(n_bytes):
    """A byte count for a message: ``'16.8 GiB'``."""
    return f"{n_bytes / 2**30:.1f} GiB"


def _join(arrays):
    """Concatenate along the first axis, without a copy for a single array."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


class TrajectoryRecorder(ModeStateMixin, BaseEstimator):
    """Record backprop training, update by update, as rows a learner can fit.

    ``record(X, y)`` trains ``n_runs`` copies of ``estimator`` on (X, y), each
    from its own seed, as one lockstep stack, and keeps every ``every``-th
    update: the state the update rule saw (the features) and the change it made
    (the targets), in the layout of ``mode`` (see :mod:`sk_metabp._modes` for
    the columns). Run k is exactly ``clone(estimator).set_params(
    random_state=seeds_[k]).fit(X, y)``. Network mode records online training
    (``batch_size=1``), as in the paper; link and delta modes record the
    teacher at its own ``batch_size`` (a row then describes a mini-batch: see
    :data:`~sk_metabp._modes.LINK_BATCH` and
    :class:`~sk_metabp._modes.DeltaMode`; delta mode samples only full
    batches). The estimator's ``tol`` is not used (runs go ``max_iter``
    epochs). A run that diverges (a non-finite loss or weight) keeps its rows
    up to the epoch before, with a ``ConvergenceWarning``.

    Parameters
    ----------
    estimator : BackpropMLPClassifier, BackpropMLPRegressor or list, default=None
        The teacher; ``None`` is ``BackpropMLPClassifier()``. A list of teachers
        of one topology (say backprop at several rates, or with momentum)
        records ``n_runs`` runs of each, numbered one after the other, and adds
        a ``teacher`` column: the paper's "knowledge from several training
        algorithms". A learner fitted on it fits their union.
    mode : {"network", "link", "delta"}, default="network"
        ``network``: one row per update, the whole network as columns.
        ``link``: one row per connection and bias. ``delta``: one row per hidden
        neuron, its delta as the target.
    variables : str or sequence of str, default=None
        The state variables to sample. For ``network`` mode a list from
        ``w, b, x, h, y, ev, J, in, fp, delta`` or a preset: ``"paper"`` (the
        default, ``w, b, x, y, ev``, experiments 1-3), ``"paper+h"`` (adds the
        hidden activations, experiment 4), ``"all"``. For ``link`` and ``delta``
        modes see ``LINK_VARIABLES`` and ``DELTA_VARIABLES`` in
        :mod:`sk_metabp._modes`.
    target : {"change", "scaled", "fan_in_scaled", "residual", \
"residual_odd"}, default=None
        What link mode's target column holds (None: ``"scaled"`` in link
        mode, ``"change"`` in the others): the change ``dw``, the change in
        units of its layer's scale (``dw_n``), the change times its link's
        fan-in (``dw_f``), or the change beyond backprop's
        step at the (first) teacher's rate, in those units (``dw_r``, for both
        residual targets); see :class:`~sk_metabp._modes.LinkMode`. Other modes
        take ``"change"``.
    n_runs : int, default=1
        Independent runs (seeds).
    every : int, default=1
        Keep one update in ``every``: from each block of ``every`` consecutive
        updates one, drawn at a fixed pseudo-random offset, so every pattern is
        sampled whatever the period.
    max_rows : int, default=5_000_000
        Refuse, before allocating anything, a recording of more rows.
    max_bytes : int or None, default=4 * 2**30
        Refuse, before allocating anything, a recording whose arrays would take
        more bytes (4 GiB by default: room to spare on a 24 GiB machine); the
        error gives the estimate and how to cut it. The estimate counts the
        rows (``dtype``) and their run, epoch and step indices; joining the
        parts of several workers briefly needs up to twice it, and
        :meth:`to_frame` a copy. ``None`` checks rows only.
    random_state : int, RandomState instance or None, default=None
        Draws the runs' seeds (``seeds_``).
    n_jobs : int or None, default=None
        Split the runs into this many lockstep stacks, one per joblib worker;
        ``None`` follows ``joblib.parallel_config`` (so a dask backend works).
    dtype : numpy dtype, default=np.float32
        Of the recorded features and targets.
    verbose : int, default=0
        Print the recording's progress: what each teacher's runs will record,
        a line about every tenth of their epochs (per lockstep stack; joblib
        workers print in their own process), and the rows and time taken.
    rollout : UpdateRule or None, default=None
        Record *rollouts* (on-policy imitation): the runs are trained by this
        rule (say a learned classifier's ``update_rule()``) from the teacher's
        initial weights, and every kept row holds the state the rollout
        reached with the teacher's change at that state as its target
        (backprop's change can be computed at any state; link mode's
        residual targets and delta mode's deltas are backprop's there too).
        Rows, columns and sampling are those of a teacher recording, so the
        rows serve a learner's fit or a grid search like any recording. The
        rule is started afresh per lockstep stack; guard it yourself
        (:class:`~sk_metabp.rules.BoundedRule`,
        :class:`~sk_metabp.rules.FallbackRule`, whose ``fell_back`` the
        recorder keeps as ``fell_back_``). A teacher with momentum keeps its
        velocity from its own (unapplied) changes.
    teacher_share : float in [0, 1], default=0.0
        With ``rollout``: the share of each run's updates that apply the
        teacher's change instead of the rollout rule's (drawn per update and
        run), keeping the rollouts nearer the teacher's states.

    Attributes
    ----------
    features_ : ndarray of shape (n_rows, n_features)
    targets_ : ndarray of shape (n_rows, n_targets)
        Views of one ``(n_rows, n_features + n_targets)`` block (each update's
        row is written in one copy), of type ``dtype``.
    runs_, epochs_, steps_ : ndarray of shape (n_rows,)
        Run index, epoch (0-based) and update (0-based, per run) of each row.
    units_ : ndarray of shape (n_rows,) or None
        The link (``w1_0_1``, ``b1_0``) or hidden neuron (``h1_0``) of a row;
        None in network mode.
    feature_names_, target_names_ : list of str
    seeds_ : ndarray of shape (n_teachers * n_runs,)
    loss_curves_ : ndarray of shape (n_runs, max_iter)
        Each run's ``loss_curve_``; NaN from the epoch a run diverged.
    diverged_ : ndarray of shape (n_runs,)
        The epoch (1-based) at which a run diverged, or -1.
    fell_back_ : ndarray of shape (n_runs,)
        With a ``rollout`` rule that keeps ``fell_back`` (a
        :class:`~sk_metabp.rules.FallbackRule`): the epoch (1-based) at which
        a rollout fell back to its fallback rule, or -1; all -1 otherwise.
    layer_sizes_ : list of int
    mode_ : the mode object that made the rows
    teacher_ : estimator
        The clone of ``estimator`` (the first, for a list) whose encoders
        (``classes_``, the regressor's standardisation) turned (X, y) into the
        recorded values.
    teachers_ : list of estimator
        The clone of every teacher.
    teacher_ids_ : ndarray of shape (n_rows,)
        The teacher (index into ``teachers_``) of each row.

    Examples
    --------
    >>> from sk_metabp import BackpropMLPClassifier, TrajectoryRecorder
    >>> from sk_metabp.datasets import make_boolean
    >>> X, y = make_boolean("and")
    >>> rec = TrajectoryRecorder(
    ...     BackpropMLPClassifier(hidden_layer_sizes=(1,), max_iter=10),
    ...     n_runs=2, random_state=0)
    >>> traj = rec.record(X, y)
    >>> traj.shape  # 2 runs x 10 epochs x 4 patterns; run, epoch, step, 9 + 5
    (80, 17)
    >>> rec.feature_names_[:4], rec.target_names_[:2]
    (['w1_0_0', 'w1_0_1', 'w2_0_0', 'b1_0'], ['dw1_0_0', 'dw1_0_1'])
    """

    def __init__(
        self,
        estimator=None,
        *,
        mode="network",
        variables=None,
        target=None,
        n_runs=1,
        every=1,
        max_rows=5_000_000,
        max_bytes=4 * 2**30,
        random_state=None,
        n_jobs=None,
        dtype=np.float32,
        verbose=0,
        rollout=None,
        teacher_share=0.0,
    ):
        self.estimator = estimator
        self.mode = mode
        self.variables = variables
        self.target = target
        self.n_runs = n_runs
        self.every = every
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.verbose = verbose
        self.rollout = rollout
        self.teacher_share = teacher_share

    def _check_params(self):
        for name in ("n_runs", "every", "max_rows"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
        b = self.max_bytes
        if b is not None and (
            not isinstance(b, Real) or isinstance(b, bool) or not b > 0
        ):
            raise ValueError(
                f"max_bytes must be a positive number of bytes, or None; got {b!r}."
            )
        try:
            kind = np.dtype(self.dtype).kind
        except TypeError:
            kind = None
        if kind != "f":
            raise ValueError(
                f"dtype must be a floating point type such as np.float32; got "
                f"{self.dtype!r}."
            )
        if not isinstance(self.verbose, Integral) or self.verbose < 0:
            raise ValueError(
                f"verbose must be a bool or an integer >= 0; got {self.verbose!r}."
            )
        if self.rollout is not None and not isinstance(self.rollout, UpdateRule):
            raise TypeError(
                "rollout must be an update rule (sk_metabp.rules.UpdateRule), "
                "such as a fitted LearnedRuleMLPClassifier's update_rule(), or "
                f"None to record the teacher; got {type(self.rollout).__name__}."
            )
        share = self.teacher_share
        if (
            not isinstance(share, Real)
            or isinstance(share, bool)
            or not 0 <= share <= 1
        ):
            raise ValueError(
                "teacher_share must be a number in [0, 1], the share of a "
                f"rollout's updates made by the teacher; got {share!r}."
            )

    def fit(self, X, y, *, classes=None):
        """Record training on (X, y), keeping the rows as arrays (``features_``...).

        Every check (parameters, teacher, data, mode, ``max_rows``) runs before
        anything is trained or allocated; a failed ``fit`` leaves the recorder
        as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        classes : array-like of shape (n_classes,), default=None
            Every class, when y lacks some: a classifier teacher then has one
            output per class (as a student given ``classes`` has). Only for
            classifier teachers.

        Returns
        -------
        self : object
        """
        self._check_params()
        # every check, for every teacher, before anything is trained
        plans = []
        for t in self._teachers():
            # one base rate for link mode's residual target: the first teacher's
            rate = plans[0]["mode"].learning_rate if plans else None
            plans.append(self._plan(t, X, y, rate, classes))
        sizes = plans[0]["sizes"]
        for plan in plans[1:]:
            if (
                plan["sizes"] != sizes
                or plan["mode"].variables != plans[0]["mode"].variables
            ):
                raise ValueError(
                    "All teachers must train the same topology: got "
                    f"{'-'.join(map(str, sizes))} and "
                    f"{'-'.join(map(str, plan['sizes']))}."
                )
        n_rows = sum(p["n_rows"] for p in plans)
        if n_rows > self.max_rows:
            detail = " + ".join(
                f"{self.n_runs} runs x {p['S']:,} sampled updates x "
                f"{p['mode'].rows_per_update} rows per update"
                for p in plans
            )
            raise ValueError(
                f"This recording would hold {n_rows:,} rows ({detail}), more "
                f"than max_rows={self.max_rows:,}. Raise every (keep one update "
                "in k), lower n_runs or the teacher's max_iter, or raise max_rows."
            )
        self._check_bytes(plans, n_rows)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(plans) * self.n_runs)
        parts = [
            self._record(plan, seeds[t * self.n_runs : (t + 1) * self.n_runs], t)
            for t, plan in enumerate(plans)
        ]
        # only now, with nothing left to fail, does the recorder change
        mode = plans[0]["mode"]
        n_epochs = max(p["curves"].shape[1] for p in parts)
        curves = np.full((len(seeds), n_epochs), np.nan)
        for t, part in enumerate(parts):
            runs = slice(t * self.n_runs, (t + 1) * self.n_runs)
            curves[runs, : part["curves"].shape[1]] = part["curves"]
        block = _join([p["rows"] for p in parts])
        self.features_ = block[:, : mode.n_features]
        self.targets_ = block[:, mode.n_features :]
        self.runs_ = np.concatenate(
            [p["runs"] + t * self.n_runs for t, p in enumerate(parts)]
        )
        self.teacher_ids_ = np.repeat(
            np.arange(len(parts)), [len(p["runs"]) for p in parts]
        )
        self.epochs_ = np.concatenate([p["epochs"] for p in parts])
        self.steps_ = np.concatenate([p["steps"] for p in parts])
        codes = [p["codes"] for p in parts]
        self._unit_codes = None if codes[0] is None else np.concatenate(codes)
        unit_names = self._unit_names(mode)
        self.units_ = None if unit_names is None else unit_names[self._unit_codes]
        self.feature_names_ = list(mode.feature_names)
        self.target_names_ = list(mode.target_names)
        self.seeds_ = seeds
        self.loss_curves_ = curves
        self.diverged_ = np.concatenate([p["diverged"] for p in parts])
        self.fell_back_ = np.concatenate([p["fell_back"] for p in parts])
        self.layer_sizes_ = sizes
        self.mode_ = mode
        self.teachers_ = [p["teacher"] for p in plans]
        self.teacher_ = self.teachers_[0]
        return self

    def _check_bytes(self, plans, n_rows):
        """Refuse a recording over ``max_bytes``, saying how to make it fit."""
        if self.max_bytes is None:
            return
        dtype = np.dtype(self.dtype)
        mode = plans[0]["mode"]
        width = mode.n_features + mode.n_targets
        per_row = width * dtype.itemsize + _INDEX_BYTES
        total = n_rows * per_row
        if total <= self.max_bytes:
            return
        every = -(-self.every * total // int(self.max_bytes))
        smaller = (
            ""
            if dtype.itemsize <= 4
            else f", record with dtype=np.float32 (half of {dtype.name})"
        )
        raise ValueError(
            f"This recording would take about {_gib(total)} ({n_rows:,} rows of "
            f"{width:,} {dtype.name} values, {mode.describe()}, plus their "
            f"indices), more than max_bytes={_gib(self.max_bytes)}. Keep fewer "
            f"updates (every={every} or more would fit), lower n_runs or the "
            f"teacher's max_iter{smaller}, or raise max_bytes if the machine has "
            "the memory."
        )

    def _teachers(self):
        """Clones of the teacher(s): ``estimator`` may be one or a list."""
        from .backprop import BackpropMLPClassifier

        if self.estimator is None:
            return [BackpropMLPClassifier()]
        teachers = self.estimator
        if not isinstance(teachers, (list, tuple)):
            teachers = [teachers]
        elif not teachers:
            raise ValueError("estimator is an empty list; pass one teacher or more.")
        for t in teachers:
            _check_teacher(t)
        return [clone(t) for t in teachers]

    def _plan(self, teacher, X, y, rate=None, classes=None):
        """Check one teacher and its data; size its recording.

        ``rate`` is the mode's learning rate, the teacher's when None.
        """
        if classes is not None and not is_classifier(teacher):
            raise ValueError(
                f"classes is for classifier teachers; {type(teacher).__name__} "
                "is a regressor. Leave classes=None."
            )
        # validates its parameters first
        Xs, Y, sizes = teacher.training_data(X, y, classes=classes)
        _check_online(teacher, self.mode)
        if rate is None:
            rate = teacher_rate(teacher)
        n = Xs.shape[0]
        # the loop's batches: the last of an epoch may be short
        B = min(teacher.batch_size, n)
        mode = make_mode(
            self.mode, sizes, self.variables, rate, target=self.target, batch_size=B
        )
        R = mode.rows_per_update
        if R == 0:
            raise ValueError(
                f"mode={self.mode!r} records one row per hidden neuron, and the "
                f"topology {'-'.join(map(str, sizes))} has none. Use a teacher "
                "with hidden layers, or mode='network' or 'link'."
            )
        per_epoch = -(-n // B)
        # delta mode's rows are per pattern: a short last batch has fewer, so
        # only full batches are sampled
        short = self.mode == "delta" and n % B
        n_sampled = teacher.max_iter * (n // B if short else per_epoch)
        S = -(-n_sampled // self.every)
        return {
            "teacher": teacher,
            "Xs": Xs,
            "Y": Y,
            "sizes": sizes,
            "mode": mode,
            "per_epoch": per_epoch,
            "full_only": bool(short),
            "S": S,
            "n_rows": self.n_runs * S * R,
        }

    def _record(self, plan, seeds, t=0):
        """Record ``len(seeds)`` runs of planned teacher ``t``."""
        teacher, mode, S = plan["teacher"], plan["mode"], plan["S"]
        R, per_epoch = mode.rows_per_update, plan["per_epoch"]
        n_updates = teacher.max_iter * per_epoch
        candidates = None
        if plan["full_only"]:
            updates = np.arange(n_updates)
            candidates = updates[updates % per_epoch < per_epoch - 1]
        picks = _sample_updates(n_updates, self.every, candidates)
        K = len(seeds)
        n_chunks = max(1, min(K, effective_n_jobs(self.n_jobs)))
        chunks = np.array_split(np.arange(K), n_chunks)
        dtype = np.dtype(self.dtype)
        started = time.perf_counter()
        if self.verbose:
            print(
                f"Recording teacher {t + 1}: {K} runs of {teacher.max_iter} epochs "
                f"in {n_chunks} lockstep stack(s), {S:,} sampled updates per run, "
                f"{plan['n_rows']:,} rows; {mode.describe()}",
                flush=True,
            )
        marks = [
            _progress_marks(
                picks, per_epoch, teacher.max_iter, f"teacher {t + 1}, {_runs(c)}"
            )
            if self.verbose
            else None
            for c in chunks
        ]
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_record_chunk)(
                teacher,
                plan["Xs"],
                plan["Y"],
                plan["sizes"],
                seeds[c],
                mode,
                picks,
                dtype,
                progress=m,
                rollout=self.rollout,
                teacher_share=self.teacher_share,
            )
            for c, m in zip(chunks, marks)
        )
        rows = _join([r[0] for r in results])
        curves = np.full((K, teacher.max_iter), np.nan)
        for c, r in zip(chunks, results):
            curves[c, : r[1].shape[1]] = r[1]
        diverged = np.concatenate([r[2] for r in results])
        fell_back = np.concatenate([r[3] for r in results])

        # A diverged run keeps its rows up to the epoch before it diverged: the
        # network's weights are those of the start of that epoch, and a stack
        # whose runs all stopped never wrote the rows after.
        epochs = picks // per_epoch
        keep = (diverged[:, None] < 0) | (epochs[None, :] < diverged[:, None] - 1)
        width = mode.n_features + mode.n_targets
        if keep.all():
            rows = rows.reshape(K * S * R, width)
        else:
            rows = rows[keep].reshape(-1, width)
            bad = np.flatnonzero(diverged >= 0)
            warnings.warn(
                f"{len(bad)} of {K} runs diverged ("
                + ", ".join(f"run {k} at epoch {diverged[k]}" for k in bad[:10])
                + (", ..." if len(bad) > 10 else "")
                + "); their rows from that epoch on are left out. Lower the "
                "teacher's learning_rate_init.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if dtype.itemsize < 8 and not np.isfinite(rows).all():
            warnings.warn(
                f"Some recorded values are too large for dtype={dtype.name} and "
                "were stored as inf; record with dtype=np.float64.",
                RuntimeWarning,
                stacklevel=3,
            )
        kept_per_run = keep.sum(axis=1)
        if self.verbose:
            print(
                f"Recorded teacher {t + 1}: {K} runs, {len(rows):,} rows in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
        codes = (
            None
            if mode.unit_names() is None
            else np.tile(np.arange(R, dtype=np.min_scalar_type(R)), keep.sum())
        )
        return {
            "rows": rows,
            "runs": np.repeat(np.arange(K), kept_per_run * R),
            "epochs": np.repeat(np.broadcast_to(epochs, keep.shape)[keep], R),
            "steps": np.repeat(np.broadcast_to(picks, keep.shape)[keep], R),
            "codes": codes,
            "curves": curves,
            "diverged": diverged,
            "fell_back": fell_back,
        }

    @staticmethod
    def _unit_names(mode):
        names = mode.unit_names()
        return None if names is None else np.array(names)

    def to_frame(self):
        """The recording as a DataFrame: run, epoch, step[, unit], features, targets.

        Returns
        -------
        frame : pandas.DataFrame
        """
        if not hasattr(self, "features_"):
            raise NotFittedError(
                "This TrajectoryRecorder has recorded nothing yet; call record(X, y) "
                "or fit(X, y) first."
            )
        columns = {"run": self.runs_, "epoch": self.epochs_, "step": self.steps_}
        if len(self.teachers_) > 1:
            columns = {"teacher": self.teacher_ids_, **columns}
        if self.units_ is not None:
            # a row position's unit; on a batch several positions share one
            # (delta mode: a neuron per pattern), so the categories are unique
            per_position, units = pd.factorize(self._unit_names(self.mode_))
            columns["unit"] = pd.Categorical.from_codes(
                per_position[self._unit_codes], categories=units
            )
        head = pd.DataFrame(columns)
        body = pd.DataFrame(
            np.hstack([self.features_, self.targets_]),
            columns=self.feature_names_ + self.target_names_,
        )
        return pd.concat([head, body], axis=1)

    def record(self, X, y, *, classes=None):
        """Record training on (X, y) and return it as a DataFrame.

        ``rec.feature_names_`` and ``rec.target_names_`` select the learner's
        inputs and outputs; ``run`` serves as ``groups`` for ``GroupKFold``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        classes : array-like of shape (n_classes,), default=None
            As in :meth:`fit`.

        Returns
        -------
        frame : pandas.DataFrame
        """
        return self.fit(X, y, classes=classes).to_frame()
