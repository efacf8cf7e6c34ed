"""Sample a training run, update by update, into learner rows (the paper's step 1)."""

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import check_random_state

from ._modes import make_mode


def _check_teacher(estimator):
    """Refuse, with a clear error, an estimator the recorder cannot sample."""
    from .backprop import _BaseBackpropMLP

    if not isinstance(estimator, _BaseBackpropMLP):
        raise TypeError(
            f"Cannot record {type(estimator).__name__}: the recorder samples the "
            "training loop of sk_metabp's own networks. Pass a "
            "BackpropMLPClassifier or BackpropMLPRegressor."
        )
    if type(estimator)._make_rule is not _BaseBackpropMLP._make_rule:
        raise TypeError(
            f"Cannot record {type(estimator).__name__}: it does not train with "
            "backprop, and the recorder samples backprop's changes. Pass a "
            "BackpropMLPClassifier or BackpropMLPRegressor."
        )
    estimator._validate_params()
    if estimator.batch_size != 1:
        raise ValueError(
            f"The teacher trains with batch_size={estimator.batch_size}; the "
            "recorder samples online training (one pattern per update, the "
            "paper's way). Set the teacher's batch_size=1."
        )


def _sample_updates(n_updates, every):
    """The updates to keep: one from each block of ``every`` consecutive updates.

    The offset inside each block is drawn from a generator seeded by ``every``:
    a fixed stride would see only some patterns whenever it shares a factor with
    the number of patterns.
    """
    starts = np.arange(0, n_updates, every)
    if every == 1:
        return starts
    rng = np.random.RandomState(every)
    return starts + rng.randint(0, np.minimum(every, n_updates - starts))


def _record_chunk(estimator, X, Y, sizes, seeds, mode, picks, dtype):
    """Train one lockstep stack of runs and keep the updates in ``picks``.

    Returns the rows, shape ``(K, len(picks), R, n_features + n_targets)`` (the
    features, then the targets), the loss curves and the divergence epochs of
    the K runs. Rows of updates a stopped stack never reached are left
    unwritten (the caller drops them).
    """
    K, S, R = len(seeds), len(picks), mode.rows_per_update
    rows = np.empty((K, S, R, mode.n_features + mode.n_targets), dtype=dtype)
    # a plain list and a sentinel keep the per-update test cheap
    wanted = [*picks.tolist(), -1]
    at = [0]
    write = mode.rows

    def callback(step, dcoefs, dintercepts):
        s = at[0]
        if step.step == wanted[s]:
            write(step, dcoefs, dintercepts, rows[:, s])
            at[0] = s + 1

    _, _, (curves, _, diverged, _) = estimator._train_stack(
        X, Y, sizes, seeds, callback=callback
    )
    return rows, curves, diverged


def _join(arrays):
    """Concatenate along the first axis, without a copy for a single array."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


class TrajectoryRecorder(BaseEstimator):
    """Record backprop training, update by update, as rows a learner can fit.

    ``record(X, y)`` trains ``n_runs`` copies of ``estimator`` on (X, y), each
    from its own seed, as one lockstep stack, and keeps every ``every``-th
    update: the state the update rule saw (the features) and the change it made
    (the targets), in the layout of ``mode`` (see :mod:`sk_metabp._modes` for
    the columns). Run k is exactly ``clone(estimator).set_params(
    random_state=seeds_[k]).fit(X, y)``. Training is online (``batch_size=1``),
    as in the paper; the estimator's ``tol`` is not used (runs go ``max_iter``
    epochs). A run that diverges (a non-finite loss or weight) keeps its rows
    up to the epoch before, with a ``ConvergenceWarning``.

    Parameters
    ----------
    estimator : BackpropMLPClassifier or BackpropMLPRegressor, default=None
        The teacher; ``None`` is ``BackpropMLPClassifier()``.
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
    n_runs : int, default=1
        Independent runs (seeds).
    every : int, default=1
        Keep one update in ``every``: from each block of ``every`` consecutive
        updates one, drawn at a fixed pseudo-random offset, so every pattern is
        sampled whatever the period.
    max_rows : int, default=5_000_000
        Refuse, before allocating anything, a recording of more rows.
    random_state : int, RandomState instance or None, default=None
        Draws the runs' seeds (``seeds_``).
    n_jobs : int or None, default=None
        Split the runs into this many lockstep stacks, one per joblib worker;
        ``None`` follows ``joblib.parallel_config`` (so a dask backend works).
    dtype : numpy dtype, default=np.float32
        Of the recorded features and targets.

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
    seeds_ : ndarray of shape (n_runs,)
    loss_curves_ : ndarray of shape (n_runs, max_iter)
        Each run's ``loss_curve_``; NaN from the epoch a run diverged.
    diverged_ : ndarray of shape (n_runs,)
        The epoch (1-based) at which a run diverged, or -1.
    layer_sizes_ : list of int
    mode_ : the mode object that made the rows
    teacher_ : estimator
        The clone of ``estimator`` whose encoders (``classes_``, the
        regressor's standardisation) turned (X, y) into the recorded values.

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
        n_runs=1,
        every=1,
        max_rows=5_000_000,
        random_state=None,
        n_jobs=None,
        dtype=np.float32,
    ):
        self.estimator = estimator
        self.mode = mode
        self.variables = variables
        self.n_runs = n_runs
        self.every = every
        self.max_rows = max_rows
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype

    def _check_params(self):
        for name in ("n_runs", "every", "max_rows"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
        try:
            kind = np.dtype(self.dtype).kind
        except TypeError:
            kind = None
        if kind != "f":
            raise ValueError(
                f"dtype must be a floating point type such as np.float32; got "
                f"{self.dtype!r}."
            )

    def fit(self, X, y):
        """Record training on (X, y), keeping the rows as arrays (``features_``...).

        Every check (parameters, teacher, data, mode, ``max_rows``) runs before
        anything is trained or allocated; a failed ``fit`` leaves the recorder
        as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : object
        """
        from .backprop import BackpropMLPClassifier

        self._check_params()
        teacher = clone(
            self.estimator if self.estimator is not None else BackpropMLPClassifier()
        )
        _check_teacher(teacher)
        Xs, Y, sizes = teacher._training_data(X, y)
        mode = make_mode(self.mode, sizes, self.variables, teacher.learning_rate)
        R = mode.rows_per_update
        if R == 0:
            raise ValueError(
                f"mode={self.mode!r} records one row per hidden neuron, and the "
                f"topology {'-'.join(map(str, sizes))} has none. Use a teacher "
                "with hidden layers, or mode='network' or 'link'."
            )
        n = Xs.shape[0]
        n_updates = teacher.max_iter * n
        S = -(-n_updates // self.every)
        n_rows = self.n_runs * S * R
        if n_rows > self.max_rows:
            raise ValueError(
                f"This recording would hold {n_rows:,} rows ({self.n_runs} runs x "
                f"{S:,} sampled updates x {R} rows per update), more than "
                f"max_rows={self.max_rows:,}. Raise every (keep one update in k), "
                "lower n_runs or the teacher's max_iter, or raise max_rows."
            )
        picks = _sample_updates(n_updates, self.every)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_runs)
        n_chunks = max(1, min(self.n_runs, effective_n_jobs(self.n_jobs)))
        chunks = np.array_split(np.arange(self.n_runs), n_chunks)
        dtype = np.dtype(self.dtype)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_record_chunk)(teacher, Xs, Y, sizes, seeds[c], mode, picks, dtype)
            for c in chunks
        )
        rows = _join([r[0] for r in results])
        curves = np.full((self.n_runs, teacher.max_iter), np.nan)
        for c, r in zip(chunks, results):
            curves[c, : r[1].shape[1]] = r[1]
        diverged = np.concatenate([r[2] for r in results])

        # A diverged run keeps its rows up to the epoch before it diverged: the
        # network's weights are those of the start of that epoch, and a stack
        # whose runs all stopped never wrote the rows after.
        epochs = picks // n
        keep = (diverged[:, None] < 0) | (epochs[None, :] < diverged[:, None] - 1)
        K = self.n_runs
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
                "teacher's learning_rate.",
                ConvergenceWarning,
                stacklevel=2,
            )
        # features and targets are views of one block, written in one copy
        features = rows[:, : mode.n_features]
        targets = rows[:, mode.n_features :]
        if dtype.itemsize < 8 and not np.isfinite(rows).all():
            warnings.warn(
                f"Some recorded values are too large for dtype={dtype.name} and "
                "were stored as inf; record with dtype=np.float64.",
                RuntimeWarning,
                stacklevel=2,
            )
        kept_per_run = keep.sum(axis=1)
        unit_names = self._unit_names(mode)
        codes = (
            None
            if unit_names is None
            else np.tile(np.arange(R, dtype=np.min_scalar_type(R)), keep.sum())
        )
        # only now, with nothing left to fail, does the recorder change
        self.features_ = features
        self.targets_ = targets
        self.runs_ = np.repeat(np.arange(K), kept_per_run * R)
        self.epochs_ = np.repeat(np.broadcast_to(epochs, keep.shape)[keep], R)
        self.steps_ = np.repeat(np.broadcast_to(picks, keep.shape)[keep], R)
        self._unit_codes = codes
        self.units_ = None if codes is None else unit_names[codes]
        self.feature_names_ = list(mode.feature_names)
        self.target_names_ = list(mode.target_names)
        self.seeds_ = seeds
        self.loss_curves_ = curves
        self.diverged_ = diverged
        self.layer_sizes_ = sizes
        self.mode_ = mode
        self.teacher_ = teacher
        return self

    @staticmethod
    def _unit_names(mode):
        if mode.name == "link":
            return np.array(mode.layout.weight_names + mode.layout.bias_names)
        if mode.name == "delta":
            s = mode.sizes
            return np.array(
                [f"h{l}_{i}" for l in range(1, len(s) - 1) for i in range(s[l])]
            )
        return None

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
        if self.units_ is not None:
            columns["unit"] = pd.Categorical.from_codes(
                self._unit_codes, categories=self._unit_names(self.mode_)
            )
        head = pd.DataFrame(columns)
        body = pd.DataFrame(
            np.hstack([self.features_, self.targets_]),
            columns=self.feature_names_ + self.target_names_,
        )
        return pd.concat([head, body], axis=1)

    def record(self, X, y):
        """Record training on (X, y) and return it as a DataFrame.

        ``rec.feature_names_`` and ``rec.target_names_`` select the learner's
        inputs and outputs; ``run`` serves as ``groups`` for ``GroupKFold``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        frame : pandas.DataFrame
        """
        return self.fit(X, y).to_frame()
