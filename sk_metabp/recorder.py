"""Sample a training run, update by update, into learner rows (the paper's step 1)."""

from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from ._mlp import init_params, train
from ._modes import make_mode


def _training_data(estimator, X, y):
    """Validate and encode (X, y) the way ``estimator.fit`` would.

    Returns the inputs and expected outputs the loop trains on and the layer
    sizes; ``estimator`` (a clone) keeps the fitted encoders (``classes_``, the
    regressor's standardisation).
    """
    from .backprop import _BaseBackpropMLP

    if not isinstance(estimator, _BaseBackpropMLP):
        raise TypeError(
            f"Cannot record {type(estimator).__name__}: the recorder samples the "
            "training loop of sk_metabp's own networks. Pass a "
            "BackpropMLPClassifier or BackpropMLPRegressor."
        )
    return estimator._training_data(X, y)


def _record_chunk(estimator, X, Y, sizes, seeds, mode, every, dtype):
    """Train one lockstep stack of runs and keep every ``every``-th update."""
    rngs = [np.random.RandomState(s) for s in seeds]
    coefs, intercepts = init_params(
        sizes,
        rngs,
        init_scale=estimator.init_scale,
        activation=estimator._hidden_activation(),
    )
    K, n = len(seeds), X.shape[0]
    n_samples = -(-estimator.max_iter * n // every)
    R = mode.rows_per_update
    F = np.empty((K, n_samples, R, mode.n_features), dtype=dtype)
    T = np.empty((K, n_samples, R, mode.n_targets), dtype=dtype)
    epochs = np.empty(n_samples, dtype=np.int64)
    steps = np.empty(n_samples, dtype=np.int64)
    state = {"row": 0}

    def callback(step, dcoefs, dintercepts):
        if step.step % every:
            return
        s = state["row"]
        mode.features(step, out=F[:, s])
        mode.targets(step, dcoefs, dintercepts, out=T[:, s])
        epochs[s] = step.epoch
        steps[s] = step.step
        state["row"] = s + 1

    curves, n_iter, diverged, _ = train(
        coefs,
        intercepts,
        X,
        Y,
        estimator._make_rule(),
        max_iter=estimator.max_iter,
        batch_size=1,
        shuffle=estimator.shuffle,
        random_states=rngs,
        hidden_activation=estimator._hidden_activation(),
        output_activation=estimator._output_activation,
        callback=callback,
    )
    return F, T, epochs, steps, curves, diverged


class TrajectoryRecorder(BaseEstimator):
    """Record backprop training, update by update, as rows a learner can fit.

    ``record(X, y)`` trains ``n_runs`` copies of ``estimator`` on (X, y), each
    from its own seed, as one lockstep stack, and keeps every ``every``-th
    update: the state the update rule saw (the features) and the change it made
    (the targets), in the layout of ``mode`` (see :mod:`sk_metabp._modes` for
    the columns). Run k is exactly ``clone(estimator).set_params(
    random_state=seeds_[k]).fit(X, y)``. Training is online (``batch_size=1``),
    as in the paper; the estimator's ``tol`` is not used (runs go ``max_iter``
    epochs).

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
        Keep one update in ``every``.
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
    runs_, epochs_, steps_ : ndarray of shape (n_rows,)
        Run index, epoch (0-based) and update (0-based, per run) of each row.
    units_ : ndarray of shape (n_rows,) or None
        The link (``w1_0_1``, ``b1_0``) or hidden neuron (``h1_0``) of a row;
        None in network mode.
    feature_names_, target_names_ : list of str
    seeds_ : ndarray of shape (n_runs,)
    loss_curves_ : ndarray of shape (n_runs, n_epochs)
    layer_sizes_ : list of int
    mode_ : the mode object that made the rows

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

    def fit(self, X, y):
        """Record training on (X, y), keeping the rows as arrays (``features_``...).

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
        Xs, Y, sizes = _training_data(teacher, X, y)
        if teacher.batch_size != 1:
            raise ValueError(
                f"The teacher trains with batch_size={teacher.batch_size}; the "
                "recorder samples online training (one pattern per update, the "
                "paper's way). Set the teacher's batch_size=1."
            )
        mode = make_mode(self.mode, sizes, self.variables, teacher.learning_rate)
        per_run = -(-teacher.max_iter * Xs.shape[0] // self.every)
        n_rows = self.n_runs * per_run * mode.rows_per_update
        if n_rows > self.max_rows:
            raise ValueError(
                f"This recording would hold {n_rows:,} rows ({self.n_runs} runs x "
                f"{per_run:,} sampled updates x {mode.rows_per_update} rows per "
                f"update), more than max_rows={self.max_rows:,}. Raise every "
                f"(keep one update in k), lower n_runs or the teacher's max_iter, "
                "or raise max_rows."
            )
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_runs)
        n_chunks = max(1, min(self.n_runs, effective_n_jobs(self.n_jobs)))
        chunks = np.array_split(np.arange(self.n_runs), n_chunks)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_record_chunk)(
                teacher, Xs, Y, sizes, seeds[c], mode, self.every, self.dtype
            )
            for c in chunks
        )
        F = np.concatenate([r[0] for r in results])
        T = np.concatenate([r[1] for r in results])
        K, S, R = F.shape[:3]
        self.features_ = F.reshape(K * S * R, -1)
        self.targets_ = T.reshape(K * S * R, -1)
        self.runs_ = np.repeat(np.arange(K), S * R)
        self.epochs_ = np.tile(np.repeat(results[0][2], R), K)
        self.steps_ = np.tile(np.repeat(results[0][3], R), K)
        unit_names = self._unit_names(mode)
        self.units_ = None if unit_names is None else np.tile(unit_names, K * S)
        self.feature_names_ = list(mode.feature_names)
        self.target_names_ = list(mode.target_names)
        self.seeds_ = seeds
        self.loss_curves_ = np.concatenate([r[4] for r in results])
        self.diverged_ = np.concatenate([r[5] for r in results])
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
            columns["unit"] = pd.Categorical(self.units_)
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
