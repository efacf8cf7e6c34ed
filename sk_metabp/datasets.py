"""The paper's tasks as data: boolean functions and the inner-square problem."""

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
