"""A pretrained learned optimizer, shipped with the library, in a safe format.

The pretrained rule is a link-mode learner (a fitted
:class:`~sk_metabp.BackpropMLPRegressor`) that reads normalised link
variables, the running averages' Adam direction (``adam``) and the link's
fan-in, and predicts each weight's change times its fan-in (the change is
that over the fan-in): one rule for any topology. It was
fitted only on synthetic tasks the library generates (boolean functions, the
inner square, and tasks labelled by random teacher networks,
:func:`sk_metabp.datasets.make_teacher_family`), imitating for each batch size
the teacher that reached the lowest training loss over those tasks (Adam at
one of several rates, its steps divided by each layer's fan-in or not;
:func:`best_teacher` scores them; :data:`RECIPES` holds the recipes); the
batch-32 learner was then refined by trial and error on further synthetic
tasks, within a trust radius of the imitated weights (:func:`refine`,
:data:`REFINEMENT`). ``python -m sk_metabp pretrain --out DIR`` rebuilds it
(:func:`pretrain`).

Storage: a folder with ``learner.npz`` (the learner's arrays, read with
``allow_pickle=False``) and ``manifest.json`` (the link mode's variables and
target, the batch sizes, the library version, the tasks and teachers it was
fitted on, the recipe, the learner's parameters and the SHA-256 of the
``.npz``). Nothing is unpickled: loading builds the regressor from its
parameters and arrays.

Use it as ``LearnedRuleMLPClassifier(hidden, learner="pretrained")``: no
recording, no fitting of a learner; or get the regressor with :func:`load`.
"""

import copy
import hashlib
import io
import json
import time
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ._modes import LINK_DEFAULT, topology
from .backprop import BackpropMLPClassifier, BackpropMLPRegressor

__all__ = [
    "DEFAULT_DIR",
    "FORMAT",
    "best_teacher",
    "classifier",
    "imitated_classifier",
    "imitated_rate",
    "imitated_teacher",
    "load",
    "load_manifest",
    "save",
]

#: The shipped pretrained rule's folder (package data).
DEFAULT_DIR = Path(__file__).resolve().parent / "pretrained_data"
#: The storage format's version, in every manifest.
FORMAT = 1
_ARRAYS = "learner.npz"
_MANIFEST = "manifest.json"
#: The regressor's fitted arrays that a saved learner keeps, besides its
#: layers' weights and biases.
_MOMENTS = ("x_mean_", "x_scale_", "y_mean_", "y_scale_")


def _version():
    from . import __version__

    return __version__


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(learners, directory, **manifest):
    """Save fitted link-mode learners as ``learner.npz`` and ``manifest.json``.

    Parameters
    ----------
    learners : dict of int to BackpropMLPRegressor, or BackpropMLPRegressor
        One learner per batch size it was fitted at (a single learner is
        taken as the online one, batch size 1). Each is fitted on a
        recording's DataFrame (it knows its feature and target names).
    directory : str or Path
        Created if missing; its two files are replaced.
    **manifest
        What the rule needs and what it was fitted on: at least ``variables``,
        ``target`` and ``learning_rate`` (the rate a residual target is taken
        from, or None); the tasks, teachers and recipe are kept as given (JSON
        values).

    Returns
    -------
    manifest : dict
        As written, with ``format``, ``version``, ``mode``, ``batch_sizes``,
        each learner's ``params``, ``feature_names``, ``target_names`` and
        ``n_layers`` (under ``learners``), and the arrays' ``sha256``.

    Examples
    --------
    >>> import tempfile
    >>> from sk_metabp import pretrained
    >>> info = pretrained.load_manifest()
    >>> learners = {b: pretrained.load(batch_size=b) for b in info["batch_sizes"]}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = pretrained.save(
    ...         learners, tmp, **{k: info[k] for k in pretrained.REQUIRED}
    ...     )
    ...     again = pretrained.load(tmp, batch_size=32)
    >>> bool((again.coefs_[0] == learners[32].coefs_[0]).all())
    True
    """
    if not isinstance(learners, dict):
        learners = {1: learners}
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise ValueError(f"The manifest needs {missing}.")
    arrays, described = {}, {}
    for batch_size, learner in sorted(learners.items()):
        if not isinstance(learner, BackpropMLPRegressor) or not hasattr(
            learner, "coefs_"
        ):
            raise TypeError(
                "save takes fitted BackpropMLPRegressor learners (the library's "
                f"learner); got {type(learner).__name__}."
            )
        names = getattr(learner, "feature_names_in_", None)
        targets = getattr(learner, "target_names_", None)
        if names is None or targets is None:
            raise ValueError(
                "The learner must know its feature and target names: fit it on "
                "the recording's DataFrames (rec.to_frame() columns)."
            )
        key = f"b{int(batch_size)}_"
        arrays.update({f"{key}coef_{i}": c for i, c in enumerate(learner.coefs_)})
        arrays.update(
            {f"{key}intercept_{i}": b for i, b in enumerate(learner.intercepts_)}
        )
        arrays.update({key + name: getattr(learner, name) for name in _MOMENTS})
        arrays[key + "loss_curve"] = learner.loss_curve_
        params = learner.get_params(deep=False)
        params["hidden_layer_sizes"] = list(np.atleast_1d(params["hidden_layer_sizes"]))
        described[str(int(batch_size))] = {
            "params": {k: _plain(v) for k, v in params.items()},
            "feature_names": [str(n) for n in names],
            "target_names": [str(n) for n in targets],
            "n_layers": len(learner.coefs_),
        }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
    (directory / _ARRAYS).write_bytes(buffer.getvalue())
    info = {
        "format": FORMAT,
        "version": _version(),
        "mode": "link",
        **manifest,
        "batch_sizes": sorted(int(b) for b in learners),
        "learners": described,
        "sha256": _sha256(directory / _ARRAYS),
    }
    (directory / _MANIFEST).write_text(json.dumps(info, indent=1, sort_keys=True))
    return info


#: The manifest entries :func:`save` needs.
REQUIRED = ("variables", "target", "learning_rate")


def _plain(value):
    """A JSON value for a parameter: numpy scalars as Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _folder(directory):
    directory = DEFAULT_DIR if directory is None else Path(directory)
    for name in (_MANIFEST, _ARRAYS):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"No pretrained rule in {directory}: {name} is missing. Rebuild "
                "it with `python -m sk_metabp pretrain --out DIR` and pass DIR."
            )
    return directory


def load_manifest(directory=None):
    """The manifest of a pretrained rule (the shipped one by default).

    Parameters
    ----------
    directory : str or Path, default=None
        A folder written by :func:`save`; None is :data:`DEFAULT_DIR`.

    Returns
    -------
    manifest : dict

    Examples
    --------
    >>> from sk_metabp.pretrained import load_manifest
    >>> info = load_manifest()
    >>> info["mode"], info["target"], info["batch_sizes"]
    ('link', 'fan_in_scaled', [1, 32])
    """
    path = _folder(directory) / _MANIFEST
    try:
        info = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"The pretrained manifest {path} is not valid JSON ({exc}): the file "
            "is corrupted. Rebuild it with `python -m sk_metabp pretrain`."
        ) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        found = info.get("format") if isinstance(info, dict) else None
        raise ValueError(
            f"The pretrained manifest {path} has format {found!r}; this version "
            f"of sk_metabp reads format {FORMAT}. Rebuild it with `python -m "
            "sk_metabp pretrain`."
        )
    missing = [
        k for k in (*REQUIRED, "batch_sizes", "learners", "sha256") if k not in info
    ]
    if missing:
        raise ValueError(f"The pretrained manifest {path} lacks {missing}.")
    return info


def nearest_batch_size(batch_sizes, batch_size):
    """The batch size of ``batch_sizes`` nearest ``batch_size`` on a log scale.

    Examples
    --------
    >>> from sk_metabp.pretrained import nearest_batch_size
    >>> [nearest_batch_size([1, 32], b) for b in (1, 4, 8, 64)]
    [1, 1, 32, 32]
    """
    return min(
        batch_sizes, key=lambda b: (abs(np.log(b) - np.log(max(batch_size, 1))), b)
    )


def imitated_teacher(info, batch_size):
    """The parameters of the one teacher a rule imitated at ``batch_size``.

    Read from the manifest's tasks and recipe: a dict of
    :class:`~sk_metabp.BackpropMLPClassifier` parameters (backprop at a rate,
    with momentum, or Adam), or None when the tasks at the nearest batch size
    had several teachers (``choice="task"``). A guarded student
    (``on_divergence="fallback"``) falls back to this teacher's rule.

    Examples
    --------
    >>> from sk_metabp.pretrained import imitated_teacher, load_manifest
    >>> imitated_teacher(load_manifest(), 32)
    {'fan_in_power': 1.0, 'learning_rate_init': 1.0, 'solver': 'adam'}
    """
    chosen = nearest_batch_size(info["batch_sizes"], int(batch_size))
    names = {t["teacher"] for t in info.get("tasks", []) if t["batch_size"] == chosen}
    teachers = info.get("recipe", {}).get("teachers", {})
    return dict(teachers[names.pop()]) if len(names) == 1 else None


def imitated_classifier(info, batch_size, **params):
    """The teacher a rule imitated at ``batch_size``, as an estimator.

    A :class:`~sk_metabp.BackpropMLPClassifier` with the parameters of
    :func:`imitated_teacher`, ``batch_size`` and ``params`` (its hidden layers,
    epochs, ...), or None when the rule imitated no single teacher there.

    Examples
    --------
    >>> from sk_metabp.pretrained import imitated_classifier, load_manifest
    >>> teacher = imitated_classifier(load_manifest(), 32, hidden_layer_sizes=(8,))
    >>> teacher.solver, teacher.fan_in_power, teacher.batch_size
    ('adam', 1.0, 32)
    """
    teacher = imitated_teacher(info, batch_size)
    if teacher is None:
        return None
    return BackpropMLPClassifier(batch_size=batch_size, **params, **teacher)


def imitated_rate(info, batch_size):
    """The rate of the one backprop teacher a rule imitated at ``batch_size``.

    None when :func:`imitated_teacher` is None or not plain backprop (momentum
    or Adam).

    Examples
    --------
    >>> from sk_metabp.pretrained import imitated_rate, load_manifest
    >>> imitated_rate(load_manifest(), 32)  # the shipped rule imitated Adam
    >>> info = {
    ...     "batch_sizes": [1],
    ...     "tasks": [{"batch_size": 1, "teacher": "sgd 2"}],
    ...     "recipe": {"teachers": {"sgd 2": {"learning_rate_init": 2.0}}},
    ... }
    >>> imitated_rate(info, 1)
    2.0
    """
    params = imitated_teacher(info, batch_size)
    if (
        params is None
        or params.get("solver", "sgd") != "sgd"
        or params.get("momentum", 0)
    ):
        return None
    return float(params.get("learning_rate_init", 0.23))


_CACHE = {}


def load(directory=None, *, batch_size=1):
    """The fitted learner of a pretrained rule (the shipped one by default).

    The arrays are read with ``allow_pickle=False`` and checked against the
    manifest's SHA-256 and shapes; a damaged or mismatched folder raises a
    ``ValueError`` that says what is wrong.

    Parameters
    ----------
    directory : str or Path, default=None
        A folder written by :func:`save` (or ``python -m sk_metabp pretrain
        --out``); None is the shipped rule.
    batch_size : int, default=1
        The batch size the rule will train at: the learner fitted at the
        nearest of the manifest's ``batch_sizes`` (on a log scale) is returned.

    Returns
    -------
    learner : BackpropMLPRegressor
        Fitted: use it wrapped in :class:`sklearn.frozen.FrozenEstimator`, in
        link mode with the manifest's ``variables`` and ``target`` (or simply
        ``LearnedRuleMLPClassifier(learner="pretrained")``).

    Examples
    --------
    >>> from sk_metabp.pretrained import load, load_manifest
    >>> learner = load()
    >>> list(learner.feature_names_in_) == load_manifest()["variables"]
    True
    """
    folder = _folder(directory)
    info = load_manifest(folder)
    arrays_path = folder / _ARRAYS
    digest = _sha256(arrays_path)
    chosen = nearest_batch_size(info["batch_sizes"], int(batch_size))
    key = (str(arrays_path.resolve()), digest, info["sha256"], chosen)
    if key not in _CACHE:
        _CACHE[key] = _build(arrays_path, info, digest, chosen)
    return copy.deepcopy(_CACHE[key])


def classifier(hidden_layer_sizes=(100,), directory=None, **params):
    """A classifier trained by the rule saved in ``directory``.

    ``LearnedRuleMLPClassifier(hidden, learner="pretrained")`` uses the shipped
    rule; this uses any rule :func:`pretrain` wrote (its learner for the
    nearest batch size, frozen, and its manifest's variables and target), with
    the learner in float32 as ``learner="pretrained"`` has it. Its ``teacher``
    is the one the rule imitated (:func:`imitated_teacher`), when it had one:
    a guarded student (``on_divergence="fallback"``) falls back to it.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
    directory : str or Path, default=None
        A folder written by :func:`pretrain` (or :func:`save`); None is the
        shipped rule's.
    **params
        Other parameters of :class:`~sk_metabp.LearnedRuleMLPClassifier`
        (``batch_size``, ``max_iter``, ``learner_dtype``, ...).

    Returns
    -------
    clf : LearnedRuleMLPClassifier
        Unfitted; its ``fit`` trains a network with the rule, fitting nothing
        else.

    Examples
    --------
    >>> from sk_metabp import pretrained
    >>> from sk_metabp.datasets import make_teacher_task
    >>> X, y = make_teacher_task(random_state=0)
    >>> clf = pretrained.classifier((8,), batch_size=32, max_iter=20, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.8
    True
    """
    info = load_manifest(directory)
    batch_size = params.get("batch_size", 1)
    learner = load(directory, batch_size=batch_size)
    params.setdefault("learner_dtype", "float32")
    teacher = imitated_classifier(
        info, batch_size, hidden_layer_sizes=hidden_layer_sizes
    )
    if teacher is not None:
        # a guarded student falls back to the teacher the rule imitated
        params.setdefault("teacher", teacher)
    return _student(
        hidden_layer_sizes, learner, info["variables"], info["target"], **params
    )


def _student(hidden_layer_sizes, learner, variables, target, **params):
    """A link-mode classifier trained by the fitted ``learner``, frozen."""
    from sklearn.frozen import FrozenEstimator

    from .learned import LearnedRuleMLPClassifier

    return LearnedRuleMLPClassifier(
        hidden_layer_sizes,
        learner=FrozenEstimator(learner),
        mode="link",
        variables=variables,
        target=target,
        **params,
    )


def _build(path, info, digest, batch_size):
    if digest != info["sha256"]:
        raise ValueError(
            f"{path} does not match its manifest (SHA-256 {digest[:12]}..., the "
            f"manifest says {info['sha256'][:12]}...): the file is corrupted or "
            "from another build. Rebuild it with `python -m sk_metabp pretrain`."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({exc}).") from None
    about = info["learners"].get(str(batch_size))
    if about is None:
        raise ValueError(
            f"The manifest of {path} lists batch size {batch_size} but describes "
            "no learner for it: the file is corrupted."
        )
    names, targets = about["feature_names"], about["target_names"]
    params = dict(about["params"])
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    learner = BackpropMLPRegressor(**params)
    # a one-epoch fit on rows of the right columns sets every fitted
    # attribute the public way; the saved arrays then replace its numbers
    rows = np.linspace(-1, 1, 2 * len(names)).reshape(2, -1)
    learner.set_params(max_iter=1, verbose=False)
    learner.fit(
        pd.DataFrame(rows, columns=names),
        pd.DataFrame(rows[:, : len(targets)], columns=targets),
    )
    learner.set_params(max_iter=params["max_iter"], verbose=params["verbose"])
    n = int(about["n_layers"])
    key = f"b{batch_size}_"
    wanted = {f"coef_{i}": c for i, c in enumerate(learner.coefs_)}
    wanted.update({f"intercept_{i}": b for i, b in enumerate(learner.intercepts_)})
    wanted.update({name: getattr(learner, name) for name in _MOMENTS})
    for name, like in wanted.items():
        got = arrays.get(key + name)
        if got is None or got.shape != like.shape:
            raise ValueError(
                f"{path} does not fit its manifest: {key + name} has shape "
                f"{None if got is None else got.shape}, the learner in the "
                f"manifest needs {like.shape}."
            )
    learner.coefs_ = [arrays[f"{key}coef_{i}"] for i in range(n)]
    learner.intercepts_ = [arrays[f"{key}intercept_{i}"] for i in range(n)]
    for name in _MOMENTS:
        setattr(learner, name, arrays[key + name])
    curve = arrays.get(key + "loss_curve", np.empty(0)).tolist()
    learner.loss_curve_ = curve
    learner.n_iter_ = len(curve)
    learner.loss_ = curve[-1] if curve else np.nan
    learner.best_loss_ = min(curve) if curve else np.inf
    return learner


def best_teacher(teachers, X, y, *, seeds=(0, 1, 2), max_iter=None):
    """The teacher that reaches the lowest training loss on (X, y).

    Each teacher trains one network per seed (in lockstep, through
    :meth:`~sk_metabp.BackpropMLPClassifier.train_students`); its score is the
    median final training loss, infinite for a network that diverged or
    stopped early.

    Parameters
    ----------
    teachers : sequence of BackpropMLPClassifier
        The candidates (rates, momentum, Adam; same topology or not).
    X, y : array-like
        The task.
    seeds : sequence of int, default=(0, 1, 2)
    max_iter : int, default=None
        Epochs; None is each teacher's ``max_iter``.

    Returns
    -------
    index : int
        The position of the best teacher in ``teachers`` (the first on ties).
    losses : ndarray of shape (n_teachers,)
        Each teacher's score.

    Examples
    --------
    >>> from sk_metabp import BackpropMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> from sk_metabp.pretrained import best_teacher
    >>> X, y = make_boolean("and")
    >>> slow, fast = (BackpropMLPClassifier((1,), learning_rate_init=r, max_iter=200)
    ...               for r in (0.05, 2.0))
    >>> best_teacher([slow, fast], X, y)[0]
    1
    """
    teachers = list(teachers)
    if not teachers:
        raise ValueError("best_teacher needs at least one teacher.")
    losses = np.empty(len(teachers))
    for i, teacher in enumerate(teachers):
        epochs = teacher.max_iter if max_iter is None else int(max_iter)
        with np.errstate(all="ignore"):
            students = teacher.train_students(
                teacher.training_data(X, y), list(seeds), max_iter=epochs
            )
        curves = students.loss_curves
        done = (students.n_iter == epochs) & (students.diverged < 0)
        final = curves[:, -1] if curves.shape[1] else np.full(len(done), np.inf)
        final = np.where(done & np.isfinite(final), final, np.inf)
        losses[i] = np.median(final)
    return int(np.argmin(losses)), losses


# -- the recipe ---------------------------------------------------------------

#: The batch sizes recorded and served: online, and mini-batches of 32.
BATCH_SIZES = (1, 32)
#: The candidate teachers: name -> BackpropMLPClassifier parameters.
TEACHERS = {
    "sgd 0.23": dict(learning_rate_init=0.23),
    "sgd 0.5": dict(learning_rate_init=0.5),
    "sgd 1": dict(learning_rate_init=1.0),
    "sgd 2": dict(learning_rate_init=2.0),
    "sgd 4": dict(learning_rate_init=4.0),
    "sgd 8": dict(learning_rate_init=8.0),
    "sgd 16": dict(learning_rate_init=16.0),
    "momentum 0.23": dict(learning_rate_init=0.23, momentum=0.9),
    "adam 0.003": dict(solver="adam", learning_rate_init=0.003),
    "adam 0.01": dict(solver="adam", learning_rate_init=0.01),
    "adam 0.03": dict(solver="adam", learning_rate_init=0.03),
    "adam 0.1": dict(solver="adam", learning_rate_init=0.1),
    "adam 0.3": dict(solver="adam", learning_rate_init=0.3),
    # Adam whose steps in a layer are divided by its fan-in
    "adam/fan_in 0.1": dict(solver="adam", learning_rate_init=0.1, fan_in_power=1.0),
    "adam/fan_in 0.3": dict(solver="adam", learning_rate_init=0.3, fan_in_power=1.0),
    "adam/fan_in 1": dict(solver="adam", learning_rate_init=1.0, fan_in_power=1.0),
    "adam/fan_in 3": dict(solver="adam", learning_rate_init=3.0, fan_in_power=1.0),
}
# the fan-in recipes' candidates, named one by one so that a teacher added to
# TEACHERS does not change what a recipe rebuilds
_ADAM_AND_FAN_IN = (
    "adam 0.003",
    "adam 0.01",
    "adam 0.03",
    "adam 0.1",
    "adam 0.3",
    "adam/fan_in 0.1",
    "adam/fan_in 0.3",
    "adam/fan_in 1",
    "adam/fan_in 3",
)
#: The recipes: what a rule reads (``variables``), predicts (``target``) and
#: imitates (its candidate ``teachers``), and the variables that turn sign
#: with the error (``signed``): every recorded row is also fitted with these
#: and its target negated, so that the learner's prediction is (close to) odd
#: in the error and the rule makes (almost) no change where the error is 0,
#: instead of drifting.
#:
#: - ``"sgd"`` (the first shipped rule): link mode's defaults (each quantity
#:   over its rms across the layer, the layer's scale apart, and ``g_n``, the
#:   batch-mean gradient in those units, which carry a rule across fan-ins,
#:   depths and batch sizes), the change in units of the layer's scale,
#:   backprop without memory at rates 0.23 to 16, the small tasks only. With
#:   momentum or Adam teachers that target has outliers of 1e7 and more where
#:   a layer's gradient is small (their steps do not shrink with it), and
#:   rules fitted to them saturated their students.
#: - ``"adam"`` (shipped before): the same variables and ``adam``, the running
#:   averages' Adam direction, the raw change as target (Adam's steps are
#:   about its rate whatever the gradient's scale), Adam at rates 0.003 to
#:   0.3, and the wide tasks too (:data:`WIDE_FAMILY`). Chosen over ``"sgd"``
#:   on the synthetic validation tasks (see the README).
#: - ``"adam_fan_in"`` (shipped before): also ``fan_in``, and Adam teachers
#:   whose steps in a layer are divided by its fan-in (``fan_in_power=1``)
#:   besides the plain ones: on the training tasks the best plain rate falls
#:   as the networks widen (0.01-0.03 on the wide tasks, 0.1-0.3 on the small
#:   ones), and a step of about ``rate / fan_in`` suits both. Chosen over
#:   ``"adam"`` on the synthetic validation tasks (see the README).
#: - ``"adam_fan_in_scaled"`` (shipped): the same, predicting the change
#:   times its fan-in (``target="fan_in_scaled"``). With the raw change as
#:   target the wide layers' steps, a fan-in's share of the narrow layers',
#:   were fitted as noise around them: on the widest validation tasks the
#:   rule ended far from its teacher (0.25 against 0.10 online on 64
#:   inputs). Chosen over ``"adam_fan_in"`` on the synthetic validation
#:   tasks (see the README).
RECIPES = {
    "sgd": dict(
        variables=LINK_DEFAULT,
        target="scaled",
        teachers=("sgd 0.23", "sgd 0.5", "sgd 1", "sgd 2", "sgd 4", "sgd 8", "sgd 16"),
        signed=("delta_n", "err_n", "g_n"),
        wide=False,
    ),
    "adam": dict(
        variables=(*LINK_DEFAULT, "adam"),
        target="change",
        teachers=("adam 0.003", "adam 0.01", "adam 0.03", "adam 0.1", "adam 0.3"),
        signed=("delta_n", "err_n", "g_n", "adam"),
        wide=True,
    ),
    "adam_fan_in": dict(
        variables=(*LINK_DEFAULT, "adam", "fan_in"),
        target="change",
        teachers=_ADAM_AND_FAN_IN,
        signed=("delta_n", "err_n", "g_n", "adam"),
        wide=True,
    ),
}
RECIPES["adam_fan_in_scaled"] = {**RECIPES["adam_fan_in"], "target": "fan_in_scaled"}
#: The shipped rule's recipe.
RECIPE = "adam_fan_in_scaled"
VARIABLES = RECIPES[RECIPE]["variables"]
TARGET = RECIPES[RECIPE]["target"]
#: The budgets: synthetic tasks, teacher runs per task and batch size, epochs
#: (online, batch 32), the seeds that choose a task's teacher, the sampling of
#: updates, the learner's epochs and the wide tasks (for a recipe that takes
#: them). "tiny" exists for tests.
BUDGETS = {
    "full": dict(
        n_family=16,
        n_runs=2,
        epochs=(30, 100),
        choice_seeds=3,
        every=(48, 8),
        learner_epochs=100,
        n_wide=8,
    ),
    "tiny": dict(
        n_family=2,
        n_runs=1,
        epochs=(3, 5),
        choice_seeds=1,
        every=(20, 2),
        learner_epochs=2,
        n_wide=1,
    ),
}
#: Boolean tasks' four patterns are repeated so that an epoch has about as many
#: updates as a synthetic task's.
BOOLEAN_REPEATS = 12


#: The wide family's ranges (:func:`~sk_metabp.datasets.make_teacher_family`):
#: the shapes of real data the rule should serve (2-64 inputs, 2-10 classes,
#: hidden layers of up to 16 units), with more rows.
WIDE_FAMILY = dict(
    n_samples=(400, 1000), n_features=(2, 64), n_classes=(2, 10), hidden_units=(4, 16)
)
#: The most rows one task's recording keeps (its sampling is thinned to stay
#: near it), so that large networks do not drown the small ones. Only wide
#: tasks reach it: the others' recordings stay below it at the budgets' rates.
TASK_ROWS = 40_000


def training_tasks(n_family, random_state=0, n_wide=0):
    """The synthetic tasks a pretrained rule is fitted on: (name, X, y, hidden).

    AND, OR and XOR (their patterns repeated :data:`BOOLEAN_REPEATS` times),
    the inner square (100 points), ``n_family`` tasks of
    :func:`~sk_metabp.datasets.make_teacher_family` and ``n_wide`` of its
    :data:`WIDE_FAMILY` (named "wide net ...").
    """
    from .datasets import make_boolean, make_squares, make_teacher_family

    tasks = []
    for fn, hidden in (("and", (1,)), ("or", (4,)), ("xor", (2,))):
        X, y = make_boolean(fn)
        tasks.append(
            (
                f"{fn} 2-{hidden[0]}",
                np.tile(X, (BOOLEAN_REPEATS, 1)),
                np.tile(y, BOOLEAN_REPEATS),
                hidden,
            )
        )
    X, _, Y, _ = make_squares(100, 0, random_state=random_state)
    tasks.append(("squares 2-5-2", X, Y, (5,)))
    for prefix, family in [
        ("teacher net", make_teacher_family(n_family, random_state=random_state)),
        (
            "wide net",
            make_teacher_family(n_wide, random_state=random_state + 100, **WIDE_FAMILY),
        ),
    ]:
        for i, (X, y, hidden) in enumerate(family):
            shape = topology(_task_sizes(X, y, hidden))
            tasks.append((f"{prefix} {i} {shape}", X, y, hidden))
    return tasks


def _task_sizes(X, y, hidden):
    """A task's layer sizes, counting one output per class (the name's shape)."""
    return [X.shape[1], *hidden, len(np.unique(y))]


def _teacher(name, hidden, batch_size, epochs):
    return BackpropMLPClassifier(
        hidden, batch_size=batch_size, max_iter=epochs, **TEACHERS[name]
    )


def _score_task(task, batch_size, budget, teachers):
    """Each candidate teacher's training loss on ``task`` at ``batch_size``."""
    name, X, y, hidden = task
    epochs = budget["epochs"][0 if batch_size == 1 else 1]
    candidates = [_teacher(t, hidden, batch_size, epochs) for t in teachers]
    seeds = [1000 + s for s in range(budget["choice_seeds"])]
    _, losses = best_teacher(candidates, X, y, seeds=seeds)
    return [float(v) for v in losses]


def _rollout_rule(learner, task, batch_size, teacher, recipe):
    """``learner`` as a guarded rule for ``task``'s students: bounded by 1.0
    (the classifier's default ``max_update``) and falling back to ``teacher``
    (a :class:`BackpropMLPClassifier`) when their loss rises."""
    _, X, y, hidden = task
    clf = _student(
        hidden,
        learner,
        recipe["variables"],
        recipe["target"],
        batch_size=batch_size,
        teacher=teacher,
        on_divergence="fallback",
    ).fit_learner(X, y)
    return clf.update_rule()


def _record_task(task, batch_size, budget, random_state, teacher, recipe, rollout=None):
    """Record ``teacher`` (a name of :data:`TEACHERS`) on ``task`` in link mode,
    with the variables and target of ``recipe`` (a value of :data:`RECIPES`).
    With a ``rollout`` learner, on-policy: the students are trained by that
    learner's rule and every row holds the teacher's change at their state."""
    from .recorder import TrajectoryRecorder

    _, X, y, hidden = task
    online = batch_size == 1
    epochs = budget["epochs"][0 if online else 1]
    # thinned so that the rows stay under TASK_ROWS (links counted with one
    # output per class: an upper bound)
    sizes = _task_sizes(X, y, hidden)
    links = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    updates = budget["n_runs"] * epochs * -(-len(X) // batch_size)
    every = max(budget["every"][0 if online else 1], -(-updates * links // TASK_ROWS))
    teacher = _teacher(teacher, hidden, batch_size, epochs)
    if rollout is not None:
        rollout = _rollout_rule(rollout, task, batch_size, teacher, recipe)
    rec = TrajectoryRecorder(
        teacher,
        mode="link",
        variables=recipe["variables"],
        target=recipe["target"],
        n_runs=budget["n_runs"],
        every=every,
        random_state=random_state,
        dtype=np.float64,
        rollout=rollout,
    ).fit(X, y)
    return rec.features_, rec.targets_, list(rec.feature_names_), rec.target_names_


def _fit_learner(recordings, recipe, plan, seed, say):
    """The library's default learner fitted on ``recordings`` (a batch size's
    tasks: their blocks of rows), each row also with the recipe's signed
    variables and its target negated."""
    from .learned import default_learner

    X = pd.DataFrame(
        np.concatenate([f for r in recordings for f in r["features"]]),
        columns=recordings[0]["feature_names"],
    )
    Y = pd.DataFrame(
        np.concatenate([t for r in recordings for t in r["targets"]]),
        columns=recordings[0]["target_names"],
    )
    flipped = X.copy()
    for name in recipe["signed"]:
        flipped[name] = -flipped[name]
    X = pd.concat([X, flipped], ignore_index=True)
    Y = pd.concat([Y, -Y], ignore_index=True)
    b = recordings[0]["batch_size"]
    say(f"fitting the learner for batch size {b} on {len(X):,} rows")
    learner = default_learner().set_params(
        max_iter=plan["learner_epochs"], random_state=seed
    )
    learner.fit(X, Y)
    say(f"fitted the learner for batch size {b}: loss {learner.loss_:.4g}")
    return learner


#: Refinement by trial and error after the fit (``pretrain(refine_seed=S)``,
#: :func:`refine`): for each budget the batch size refined (the others keep
#: their imitated learner), the search's settings
#: (:func:`~sk_metabp.refine.refine_learner`'s keywords) and the numbers of
#: search and validation tasks (:func:`refinement_tasks`). "full" holds the
#: settings of the README's refinement section, "tiny" is for tests.
REFINEMENT = {
    "full": dict(
        batch_size=32,
        n_epochs=100,
        n_generations=10,
        population=32,
        sigma=0.05,
        step_size=0.05,
        n_students=8,
        score="soft_worst",
        validation_score=("soft_worst", "worst_ratio"),
        validation_students=20,
        student_loss="geometric_mean",
        tasks_per_generation=8,
        checkpoints=True,
        temperature=0.25,
        n_search=32,
        n_validation=32,
    ),
    "tiny": dict(
        batch_size=32,
        n_epochs=3,
        n_generations=2,
        population=4,
        sigma=0.05,
        step_size=0.05,
        n_students=2,
        score="soft_worst",
        validation_score=("soft_worst",),
        validation_students=2,
        student_loss="geometric_mean",
        tasks_per_generation=2,
        checkpoints=True,
        temperature=0.25,
        n_search=3,
        n_validation=2,
    ),
}
#: The shipped rule's refinement: its seed and trust radius (``pretrain``'s
#: defaults). The radius was chosen among 0.0025, 0.005 and 0.01 on the
#: validation tasks, the seed fixed before any held-out result (see the README).
REFINE_SEED = 20
TRUST_RADIUS = 0.005
#: The seed of the synthetic validation family the recipes were chosen on
#: (``make_teacher_family(n, random_state=VALIDATION_SEED)``), whose first
#: tasks also validate refinements.
VALIDATION_SEED = 12345
#: Hidden units of the narrow refinement tasks (``refinement_tasks(n_narrow=N)``).
NARROW = (2, 3)


def refinement_tasks(n_search=8, n_validation=8, n_narrow=0, random_state=0):
    """The synthetic tasks a refinement steps and stops on: (search, validation).

    Both are lists of (X, y, hidden). The search tasks are the first
    ``n_search`` of the teacher-network family a rule built with
    ``random_state`` was fitted on (its first 16 are in that rule's training
    set, the rest further draws of the same family); the validation ones the
    first ``n_validation`` of the family the recipe was chosen on
    (``make_teacher_family(n, random_state=VALIDATION_SEED)``). With ``n_narrow``, each
    gains that many tasks whose hidden layers have 2 or 3 units
    (:data:`NARROW`; other draws for each), the networks on which refined
    rules leave most students on plateaus.

    Examples
    --------
    >>> from sk_metabp.pretrained import refinement_tasks
    >>> search, validation = refinement_tasks(3, 2)
    >>> len(search), len(validation)
    (3, 2)
    """
    from .datasets import make_teacher_family

    search = make_teacher_family(n_search, random_state=random_state)
    validation = make_teacher_family(n_validation, random_state=VALIDATION_SEED)
    if n_narrow:
        search += make_teacher_family(n_narrow, hidden_units=NARROW, random_state=1)
        validation += make_teacher_family(
            n_narrow, hidden_units=NARROW, random_state=12346
        )
    return search, validation


def refine(
    learner,
    *,
    variables,
    target,
    baseline,
    random_state,
    n_search=8,
    n_validation=8,
    n_narrow=0,
    tasks_from=0,
    trust_radius=None,
    n_jobs=None,
    **settings,
):
    """Refine a pretrained rule's learner against the teacher it imitated.

    :func:`~sk_metabp.refine.refine_learner` on :func:`refinement_tasks`
    (search and validation), scoring the rule's students against
    ``baseline``'s with the same seeds. The one place where ``pretrain`` and
    ``benchmarks/bench_refine.py`` refine, so that a rule refined by one is
    rebuilt by the other.

    Parameters
    ----------
    learner : BackpropMLPRegressor
        A fitted link-mode learner (:func:`load`).
    variables, target : list of str, str
        What it reads and predicts (the manifest's).
    baseline : dict
        The imitated teacher's parameters (:func:`imitated_teacher`).
    random_state : int
        The refinement's seed.
    n_search, n_validation, n_narrow, tasks_from : int
        :func:`refinement_tasks`' numbers and ``random_state``.
    trust_radius : float or None
        Keep the weights within this fraction of their norm of ``learner``'s.
    n_jobs : int or None
        joblib workers.
    **settings
        The rest of :func:`~sk_metabp.refine.refine_learner`'s keywords
        (a value of :data:`REFINEMENT` without its task numbers).

    Returns
    -------
    refined : BackpropMLPRegressor
        :func:`~sk_metabp.refine.refine_learner`'s result (``learner``'s
        weights if no step improved the validation score).
    """
    from .refine import refine_learner

    search, validation = refinement_tasks(
        n_search, n_validation, n_narrow, random_state=tasks_from
    )
    return refine_learner(
        learner,
        search,
        validation=validation,
        variables=list(variables),
        target=target,
        baseline=baseline,
        trust_radius=trust_radius,
        n_jobs=n_jobs,
        random_state=random_state,
        **settings,
    )


def _gmean(values):
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        return np.inf
    return float(np.exp(np.mean(np.log(np.maximum(values, 1e-300)))))


def pretrain(
    out,
    *,
    budget="full",
    random_state=0,
    teachers=None,
    choice="suite",
    recipe=RECIPE,
    rounds=0,
    refine_seed=REFINE_SEED,
    trust_radius=TRUST_RADIUS,
    n_jobs=None,
    verbose=True,
):
    """Build a pretrained rule and save it in ``out`` (:func:`save`'s format).

    For every training task (:func:`training_tasks`) and batch size
    (:data:`BATCH_SIZES`), :func:`best_teacher` scores the candidate teachers
    (:data:`TEACHERS`) by their training loss; the teacher chosen (see
    ``choice``) is then recorded in link mode with the recipe's variables
    and target (:data:`RECIPES`). For each batch size one learner (the
    library's :func:`~sk_metabp.learned.default_learner`) is fitted on the
    union of its recordings, each row also with the recipe's signed variables
    and target negated. The tasks run as joblib jobs: inside
    ``joblib.parallel_config(backend="dask")`` they run on a dask cluster.
    The same ``random_state`` gives the same weights.

    Parameters
    ----------
    out : str or Path
        The folder to write.
    budget : {"full", "tiny"}, default="full"
        See :data:`BUDGETS`; "tiny" takes seconds and is for tests.
    random_state : int, default=0
        Seeds the tasks, the recordings and the learner.
    teachers : sequence of str, default=None
        Names of :data:`TEACHERS` to choose from; None is the recipe's.
    choice : {"suite", "task"}, default="suite"
        Which teacher each task is recorded with: for each batch size, the
        one teacher with the lowest geometric mean of the final losses over
        all the tasks (``"suite"``, the shipped rule's: see the README), or
        each task's own best (``"task"``).
    recipe : str, default=RECIPE
        A key of :data:`RECIPES`: the variables, target and teachers.
    rounds : int, default=0
        Rounds of on-policy imitation after the first fit: each round every
        task's students are trained by the current learner (guarded: bounded
        by 1.0 and falling back to the teacher), the teacher's changes at
        their states are recorded as more rows (as many as the teacher's),
        and the learners are fitted again on all the rows.
    refine_seed : int or None, default=REFINE_SEED
        After the fit, refine the learner of :data:`REFINEMENT`'s batch size
        by trial and error with this seed (:func:`refine`, with the budget's
        settings), against the teacher it imitated (the shipped rule's:
        :data:`REFINE_SEED`); None does not refine. The manifest's
        ``refinement`` records the settings, the tasks and the scores.
    trust_radius : float or None, default=TRUST_RADIUS
        With ``refine_seed``: keep the refined weights within this fraction
        of their norm of the imitated learner's (None: anywhere).
    n_jobs : int or None, default=None
        joblib workers.
    verbose : bool, default=True
        Print a line per task and per stage.

    Returns
    -------
    manifest : dict
    """
    if choice not in ("suite", "task"):
        raise ValueError(f"choice must be 'suite' or 'task'; got {choice!r}.")
    if budget not in BUDGETS:
        raise ValueError(f"Unknown budget {budget!r}; choose one of {list(BUDGETS)}.")
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; choose one of {list(RECIPES)}.")
    if isinstance(rounds, bool) or not isinstance(rounds, Integral) or rounds < 0:
        raise ValueError(f"rounds must be a non-negative integer; got {rounds!r}.")
    if refine_seed is not None and choice != "suite":
        raise ValueError(
            "refine_seed refines against the one teacher a rule imitated; with "
            "choice='task' each task had its own. Use choice='suite' or "
            "refine_seed=None."
        )
    recipe_name, recipe = recipe, RECIPES[recipe]
    teachers = list(recipe["teachers"] if teachers is None else teachers)
    unknown = [t for t in teachers if t not in TEACHERS]
    if unknown or not teachers:
        raise ValueError(f"Unknown teachers {unknown}; choose among {list(TEACHERS)}.")
    plan = BUDGETS[budget]
    seed = int(random_state)
    tasks = training_tasks(
        plan["n_family"], random_state=seed, n_wide=plan["n_wide"] * recipe["wide"]
    )
    jobs = [(task, b) for b in BATCH_SIZES for task in tasks]
    started = time.perf_counter()

    def say(text):
        if verbose:
            print(f"[{time.perf_counter() - started:7.1f} s] {text}", flush=True)

    say(
        f"pretraining on {len(tasks)} synthetic tasks x batch sizes "
        f"{list(BATCH_SIZES)} ({budget} budget, random_state={seed})"
    )
    scores = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_score_task)(task, b, plan, teachers) for task, b in jobs
    )
    losses = []
    for i, row in enumerate(scores):
        losses.append(row)
        task, b = jobs[i]
        say(
            f"scored {i + 1}/{len(jobs)}: {task[0]} at batch {b}: best "
            f"{teachers[int(np.argmin(row))]} ({min(row):.3g})"
        )
    chosen = []
    for b in BATCH_SIZES:
        mine = [row for (task, bb), row in zip(jobs, losses) if bb == b]
        # the teacher with the lowest geometric mean over the batch size's tasks
        suite = teachers[int(np.argmin([_gmean(col) for col in zip(*mine)]))]
        if choice == "suite":
            say(f"batch {b}: teacher {suite} for every task (best over the tasks)")
        chosen.extend(
            suite if choice == "suite" else teachers[int(np.argmin(row))]
            for (task, bb), row in zip(jobs, losses)
            if bb == b
        )
    done = [
        {
            "task": task[0],
            "batch_size": b,
            "teacher": teacher,
            "teacher_losses": dict(zip(teachers, row)),
            "features": [],
            "targets": [],
        }
        for (task, b), teacher, row in zip(jobs, chosen, losses)
    ]
    learners = {}
    for round_ in range(rounds + 1):
        # round 0 records the teachers; each later round records the current
        # learners' students, labelled by the teachers (on-policy imitation)
        recordings = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_record_task)(
                task,
                b,
                plan,
                seed + round_ * len(jobs) + i,
                teacher,
                recipe,
                rollout=learners[b] if round_ else None,
            )
            for i, ((task, b), teacher) in enumerate(zip(jobs, chosen))
        )
        for i, (features, targets, names, target_names) in enumerate(recordings):
            r = done[i]
            r["features"].append(features)
            r["targets"].append(targets)
            r["feature_names"], r["target_names"] = names, target_names
            whose = f"round {round_} rollouts of" if round_ else "teacher"
            say(
                f"recorded {i + 1}/{len(jobs)}: {r['task']} at batch "
                f"{r['batch_size']}: {whose} {r['teacher']}, {len(features):,} rows"
            )
        for b in BATCH_SIZES:
            mine = [r for r in done if r["batch_size"] == b]
            learners[b] = _fit_learner(mine, recipe, plan, seed, say)
    extra = {}  # the manifest's refinement record, if any
    if refine_seed is not None:
        settings = dict(REFINEMENT[budget])
        b = settings["batch_size"]
        teacher = next(t for (_, bb), t in zip(jobs, chosen) if bb == b)
        say(
            f"refining the learner for batch size {b} against {teacher} "
            f"(seed {refine_seed}, trust radius {trust_radius})"
        )
        learners[b] = refine(
            learners[b],
            variables=recipe["variables"],
            target=recipe["target"],
            baseline=dict(TEACHERS[teacher]),
            random_state=refine_seed,
            tasks_from=seed,
            trust_radius=trust_radius,
            n_jobs=n_jobs,
            **settings,
        )
        extra["refinement"] = {
            **settings,
            "seed": refine_seed,
            "trust_radius": trust_radius,
            # the tasks refinement_tasks draws
            "search_tasks": f"make_teacher_family({settings['n_search']}, "
            f"random_state={seed})",
            "validation_tasks": f"make_teacher_family("
            f"{settings['n_validation']}, random_state={VALIDATION_SEED})",
            "search": [
                float(learners[b].refine_start_loss_),
                float(learners[b].refine_loss_),
            ],
            "validation": [
                learners[b].refine_validation_start_scores_,
                learners[b].refine_validation_scores_,
            ],
        }
        say(
            f"refined: validation {learners[b].refine_validation_start_loss_:.4g} "
            f"-> {learners[b].refine_validation_loss_:.4g}"
        )
    info = save(
        learners,
        out,
        variables=list(recipe["variables"]),
        target=recipe["target"],
        learning_rate=None,
        random_state=seed,
        budget=budget,
        recipe={
            "teachers": {t: TEACHERS[t] for t in teachers},
            "choice": choice,
            "name": recipe_name,
            "rounds": int(rounds),
            "signed": list(recipe["signed"]),
            **plan,
        },
        tasks=[
            {
                "task": r["task"],
                "batch_size": r["batch_size"],
                "teacher": r["teacher"],
                "teacher_losses": r["teacher_losses"],
                "rows": len(r["features"][0]),
                "rollout_rows": [len(f) for f in r["features"][1:]],
            }
            for r in done
        ],
        **extra,
    )
    say(f"saved to {out}")
    return info
