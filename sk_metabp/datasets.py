"""Tasks as data: the paper's boolean functions and inner square, and synthetic
tasks labelled by randomly drawn teacher networks."""

import numpy as np
from sklearn.utils import check_random_state

_BOOLEAN = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "nand": lambda a, b: 1 - (a & b),
    "nor": lambda a, b: 1 - (a | b),
    "xnor": lambda a, b: 1 - (a ^ b),
}


def make_boolean(name):
    """The truth table of a two-input boolean function.

    Parameters
    ----------
    name : {"and", "or", "xor", "nand", "nor", "xnor"}
        The function (case-insensitive).

    Returns
    -------
    X : ndarray of shape (4, 2)
        The patterns ``00, 01, 10, 11`` in this order, as floats.
    y : ndarray of shape (4,)
        The function's value, 0 or 1.

    Examples
    --------
    >>> from sk_metabp.datasets import make_boolean
    >>> X, y = make_boolean("and")
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 0, 0, 1])
    """
    key = str(name).lower()
    if key not in _BOOLEAN:
        raise ValueError(
            f"Unknown boolean function {name!r}; choose one of {sorted(_BOOLEAN)}."
        )
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    return bits.astype(float), _BOOLEAN[key](bits[:, 0], bits[:, 1])


def make_parity(n_bits=3):
    """All ``2**n_bits`` patterns of ``n_bits`` bits and their parity.

    Parameters
    ----------
    n_bits : int, default=3

    Returns
    -------
    X : ndarray of shape (2**n_bits, n_bits)
    y : ndarray of shape (2**n_bits,)
        1 where an odd number of bits is set.

    Examples
    --------
    >>> from sk_metabp.datasets import make_parity
    >>> X, y = make_parity(2)
    >>> y.tolist()
    [0, 1, 1, 0]
    """
    if int(n_bits) < 1:
        raise ValueError(f"n_bits must be at least 1; got {n_bits}.")
    X = (np.arange(2 ** int(n_bits))[:, None] >> np.arange(int(n_bits))[::-1]) & 1
    return X.astype(float), X.sum(axis=1) % 2


def make_squares(n_train=200, n_test=200, *, inner=0.5**0.5, random_state=None):
    """The paper's experiment 4: is a point of the unit square in the inner square?

    Points are uniform on ``[0, 1]^2``; the inner square is centred at
    ``(0.5, 0.5)`` with side ``inner``. The default side ``sqrt(1/2)`` gives the
    inner square half the area, so the classes are balanced. The paper gives
    neither sizes nor geometry (its Fig. 12 only shows the picture): these are
    this library's choice.

    Parameters
    ----------
    n_train, n_test : int, default=200
        Points in the training and the test set.
    inner : float, default=sqrt(0.5)
        Side of the inner square, in (0, 1).
    random_state : int, RandomState instance or None
        Seeds the points; the test set is drawn after the training set.

    Returns
    -------
    X_train : ndarray of shape (n_train, 2)
    X_test : ndarray of shape (n_test, 2)
    Y_train : ndarray of shape (n_train, 2)
        Two 0/1 columns, ``innersquare`` and ``outersquare``, one per output
        unit of the paper's 2-5-2 network (a multilabel target).
    Y_test : ndarray of shape (n_test, 2)

    Examples
    --------
    >>> from sk_metabp.datasets import make_squares
    >>> X_tr, X_te, Y_tr, Y_te = make_squares(100, 50, random_state=0)
    >>> X_tr.shape, Y_tr.shape, X_te.shape
    ((100, 2), (100, 2), (50, 2))
    >>> bool((Y_tr.sum(axis=1) == 1).all())
    True
    """
    if not 0 < inner < 1:
        raise ValueError(f"inner must lie in (0, 1); got {inner}.")
    if int(n_train) < 1 or int(n_test) < 0:
        raise ValueError("n_train must be at least 1 and n_test at least 0.")
    rng = check_random_state(random_state)
    X = rng.uniform(0.0, 1.0, (int(n_train) + int(n_test), 2))
    inside = (np.abs(X - 0.5) <= inner / 2).all(axis=1).astype(int)
    Y = np.c_[inside, 1 - inside]
    return X[:n_train], X[n_train:], Y[:n_train], Y[n_train:]


def _balanced_argmax(logits, n_iter=500):
    """Labels ``argmax(logits + b)`` with per-class offsets ``b`` chosen so that
    the classes are about equally frequent.

    A random network's raw argmax often gives one class most of the points;
    shifting the output offsets (decaying multiplicative steps on the class
    frequencies) keeps the network's boundaries and balances the classes. The
    most balanced labelling seen is kept: a teacher whose outputs leave no room
    for a class (say, ten classes on one input) cannot be balanced fully.
    """
    n, k = logits.shape
    spread = logits.std() + 1e-12
    b = np.zeros(k)
    best, labels = -1, None
    for i in range(n_iter):
        current = np.argmax(logits + b, axis=1)
        counts = np.bincount(current, minlength=k)
        if counts.min() > best:
            best, labels = counts.min(), current
        if counts.min() >= 0.8 * n / k:
            break
        b -= 0.3 * spread * 0.99**i * np.log((counts + 1.0) / (n / k + 1.0))
    return labels


def make_teacher_task(
    n_samples=200,
    n_features=4,
    n_classes=2,
    *,
    hidden=(8,),
    gain=2.0,
    random_state=None,
):
    """Points labelled by a randomly drawn teacher network.

    Inputs are standard normal. The teacher is a ``tanh`` network with layers
    ``n_features -> hidden -> n_classes`` whose weights are normal with standard
    deviation ``gain / sqrt(fan_in)`` (larger gains bend the class boundaries
    more); a point's class is the teacher's largest output, after output
    offsets that make the classes about equally frequent (each class then holds
    at least 80% of its equal share, unless the teacher leaves no room for it,
    as ten classes on one input may). With ``hidden=()`` the classes are split by
    hyperplanes.

    Parameters
    ----------
    n_samples : int, default=200
    n_features : int, default=4
    n_classes : int, default=2
    hidden : tuple of int, default=(8,)
        The teacher's hidden layers (not the student's).
    gain : float, default=2.0
        Scale of the teacher's weights.
    random_state : int, RandomState instance or None
        Seeds the teacher, then the points.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class labels ``0 .. n_classes - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_metabp.datasets import make_teacher_task
    >>> X, y = make_teacher_task(300, 5, 3, hidden=(6, 4), random_state=0)
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((300, 5), (300,), [0, 1, 2])
    >>> bool(np.bincount(y).min() >= 80)
    True
    """
    n_samples, n_features, n_classes = int(n_samples), int(n_features), int(n_classes)
    hidden = tuple(int(h) for h in np.atleast_1d(hidden))
    if n_features < 1 or n_classes < 2 or n_samples < n_classes:
        raise ValueError(
            "make_teacher_task needs n_features >= 1, n_classes >= 2 and at least "
            f"one sample per class; got n_samples={n_samples}, "
            f"n_features={n_features}, n_classes={n_classes}."
        )
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden layer sizes must be positive; got {hidden}.")
    if not gain > 0:
        raise ValueError(f"gain must be positive; got {gain}.")
    rng = check_random_state(random_state)
    sizes = [n_features, *hidden, n_classes]
    layers = [
        (
            rng.normal(0.0, gain / np.sqrt(fan_in), (fan_in, fan_out)),
            rng.normal(0.0, 0.5, fan_out),
        )
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
    ]
    X = rng.normal(size=(n_samples, n_features))
    h = X
    for l, (W, b) in enumerate(layers):
        h = h @ W + b
        if l < len(layers) - 1:
            h = np.tanh(h)
    return X, _balanced_argmax(h)


def make_teacher_family(
    n_tasks,
    *,
    n_samples=(60, 200),
    n_features=(2, 16),
    n_classes=(2, 4),
    n_hidden_layers=(0, 2),
    hidden_units=(2, 8),
    random_state=None,
):
    """A family of :func:`make_teacher_task` tasks of random shapes.

    Each task draws its sizes uniformly from the given inclusive ranges, its
    teacher's hidden layers (between ``n_hidden_layers`` bounds, each of
    ``hidden_units`` bounds), and a student topology of the same kind (one or
    two hidden layers, drawn independently of the teacher's), so that a rule
    fitted or scored on the family meets many fan-ins, depths and class
    counts.

    Parameters
    ----------
    n_tasks : int
    n_samples, n_features, n_classes : (int, int), default=(60, 200), (2, 16), (2, 4)
        Inclusive ranges of each task's sizes.
    n_hidden_layers : (int, int), default=(0, 2)
        Inclusive range of the teacher's hidden layers.
    hidden_units : (int, int), default=(2, 8)
        Inclusive range of the units of each teacher and student hidden layer.
    random_state : int, RandomState instance or None

    Returns
    -------
    tasks : list of (X, y, hidden)
        The data and the student's hidden layers: the task format of
        :func:`sk_metabp.refine.refine_learner`.

    Examples
    --------
    >>> from sk_metabp.datasets import make_teacher_family
    >>> tasks = make_teacher_family(3, random_state=0)
    >>> [(X.shape[1], len(set(y.tolist())), len(hidden)) for X, y, hidden in tasks]
    [(7, 2, 2), (4, 3, 2), (3, 2, 2)]
    """
    if int(n_tasks) < 0:
        raise ValueError(f"n_tasks must be at least 0; got {n_tasks}.")
    ranges = dict(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        n_hidden_layers=n_hidden_layers,
        hidden_units=hidden_units,
    )
    for name, (low, high) in ranges.items():
        if not 0 <= low <= high:
            raise ValueError(
                f"{name} must be an inclusive range (low, high) with "
                f"0 <= low <= high; got {(low, high)}."
            )
    rng = check_random_state(random_state)

    def draw(bounds):
        return int(rng.randint(bounds[0], bounds[1] + 1))

    def layers(n):
        return tuple(max(1, draw(hidden_units)) for _ in range(n))

    tasks = []
    for _ in range(int(n_tasks)):
        k = max(2, draw(n_classes))
        n = max(draw(n_samples), 2 * k)
        d = max(1, draw(n_features))
        teacher = layers(draw(n_hidden_layers))
        student = layers(1 + rng.randint(2))
        X, y = make_teacher_task(
            n, d, k, hidden=teacher, random_state=rng.randint(2**31 - 1)
        )
        tasks.append((X, y, student))
    return tasks
