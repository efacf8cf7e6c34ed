"""The paper's tasks as data: boolean functions, parity, the inner square."""

import operator

import numpy as np
import pytest

from sk_metabp.datasets import make_boolean, make_parity, make_squares

TRUTH = {
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
    "xor": operator.xor,
    "nand": lambda a, b: not (a and b),
    "nor": lambda a, b: not (a or b),
    "xnor": lambda a, b: a == b,
}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_make_boolean_truth_tables(name):
    X, y = make_boolean(name)
    assert X.shape == (4, 2) and X.dtype == np.float64 and y.shape == (4,)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    expected = [int(bool(TRUTH[name](bool(a), bool(b)))) for a, b in X.astype(int)]
    np.testing.assert_array_equal(y, expected)
    assert set(y.tolist()) == {0, 1}


def test_make_boolean_paper_tables_and_case():
    # the paper's tables: AND 00->0 01->0 10->0 11->1, OR 00->0 01->1 10->1 11->1
    assert make_boolean("and")[1].tolist() == [0, 0, 0, 1]
    assert make_boolean("OR")[1].tolist() == [0, 1, 1, 1]


def test_make_boolean_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown boolean function 'implies'.*'and'"):
        make_boolean("implies")


@pytest.mark.parametrize("n_bits", [1, 2, 3, 5])
def test_make_parity(n_bits):
    X, y = make_parity(n_bits)
    assert X.shape == (2**n_bits, n_bits) and y.shape == (2**n_bits,)
    # every pattern exactly once
    assert len({tuple(row) for row in X.astype(int)}) == 2**n_bits
    assert set(np.unique(X)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y, X.sum(axis=1).astype(int) % 2)
    assert y.sum() == 2 ** (n_bits - 1)  # half the patterns are odd


def test_make_parity_two_bits_is_xor():
    X, y = make_parity(2)
    np.testing.assert_array_equal(X, make_boolean("xor")[0])
    np.testing.assert_array_equal(y, make_boolean("xor")[1])


def test_make_parity_refuses_no_bits():
    with pytest.raises(ValueError, match="n_bits must be at least 1"):
        make_parity(0)


def test_make_squares_shapes_and_geometry():
    X_tr, X_te, Y_tr, Y_te = make_squares(300, 120, random_state=0)
    assert X_tr.shape == (300, 2) and X_te.shape == (120, 2)
    assert Y_tr.shape == (300, 2) and Y_te.shape == (120, 2)
    for X, Y in [(X_tr, Y_tr), (X_te, Y_te)]:
        assert ((X >= 0) & (X <= 1)).all()
        # one-hot: innersquare, outersquare
        np.testing.assert_array_equal(Y.sum(axis=1), 1)
        # the inner square is centred, of side sqrt(1/2)
        inside = np.max(np.abs(X - 0.5), axis=1) <= np.sqrt(0.5) / 2
        np.testing.assert_array_equal(Y[:, 0], inside)
    # the test set is not the training set
    assert not np.isin(X_te[:, 0], X_tr[:, 0]).any()


def test_make_squares_classes_balanced():
    _, _, Y, _ = make_squares(4000, 0, random_state=1)
    # half the area inside: 0.5 +- 5 standard errors (0.0079) of a 4000 draw
    assert abs(Y[:, 0].mean() - 0.5) < 0.04
    _, _, Y_small, _ = make_squares(4000, 0, inner=0.5, random_state=1)
    assert abs(Y_small[:, 0].mean() - 0.25) < 0.04  # side 1/2 is a quarter


def test_make_squares_reproducible():
    a = make_squares(50, 20, random_state=3)
    b = make_squares(50, 20, random_state=np.random.RandomState(3))
    c = make_squares(50, 20, random_state=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    # the training set does not depend on the size of the test set
    np.testing.assert_array_equal(make_squares(50, 0, random_state=3)[0], a[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(inner=0.0), "inner must lie in"),
        (dict(inner=1.0), "inner must lie in"),
        (dict(n_train=0), "n_train must be at least 1"),
        (dict(n_test=-1), "n_test at least 0"),
    ],
)
def test_make_squares_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_squares(**kwargs)


def test_make_teacher_task_is_deterministic_and_shaped():
    from sk_metabp.datasets import make_teacher_task

    X, y = make_teacher_task(150, 6, 4, hidden=(5, 3), random_state=3)
    X2, y2 = make_teacher_task(150, 6, 4, hidden=(5, 3), random_state=3)
    assert X.shape == (150, 6) and y.shape == (150,) and y.dtype.kind == "i"
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, y3 = make_teacher_task(150, 6, 4, hidden=(5, 3), random_state=4)
    assert not np.array_equal(y, y3)


@pytest.mark.parametrize("n_classes", [2, 3, 10])
@pytest.mark.parametrize("hidden", [(), (8,), (6, 4)])
def test_make_teacher_task_balances_the_classes(n_classes, hidden):
    from sk_metabp.datasets import make_teacher_task

    # every class holds at least 80% of its share, on every seed tried
    for seed in range(10):
        _, y = make_teacher_task(200, 3, n_classes, hidden=hidden, random_state=seed)
        counts = np.bincount(y, minlength=n_classes)
        assert counts.min() >= 0.8 * 200 / n_classes, (seed, counts)


def test_make_teacher_task_labels_follow_a_network():
    # a linear teacher's labels are split by a hyperplane on every seed; a
    # hidden layer's are not on some (2 of 6 seeds at least, with 2 inputs)
    from sklearn.linear_model import LogisticRegression

    from sk_metabp.datasets import make_teacher_task

    curved = 0
    for seed in range(6):
        X, y = make_teacher_task(400, 2, 2, hidden=(), random_state=seed)
        assert LogisticRegression().fit(X, y).score(X, y) >= 0.97
        X, y = make_teacher_task(400, 2, 2, hidden=(8,), random_state=seed)
        curved += LogisticRegression().fit(X, y).score(X, y) < 0.9
    assert curved >= 2


def test_make_teacher_task_bad_input():
    from sk_metabp.datasets import make_teacher_task

    with pytest.raises(ValueError, match="n_classes >= 2"):
        make_teacher_task(10, 2, 1)
    with pytest.raises(ValueError, match="hidden layer sizes must be positive"):
        make_teacher_task(10, 2, 2, hidden=(0,))
    with pytest.raises(ValueError, match="gain must be positive"):
        make_teacher_task(10, 2, 2, gain=0)


def test_make_teacher_family_draws_shapes_in_range():
    from sk_metabp.datasets import make_teacher_family

    tasks = make_teacher_family(
        12, n_features=(3, 9), n_classes=(2, 5), hidden_units=(2, 6), random_state=1
    )
    again = make_teacher_family(
        12, n_features=(3, 9), n_classes=(2, 5), hidden_units=(2, 6), random_state=1
    )
    assert len(tasks) == 12
    shapes = set()
    for (X, y, hidden), (X2, y2, hidden2) in zip(tasks, again):
        np.testing.assert_array_equal(X, X2)
        np.testing.assert_array_equal(y, y2)
        assert hidden == hidden2 and 1 <= len(hidden) <= 2
        assert all(2 <= h <= 6 for h in hidden)
        assert 3 <= X.shape[1] <= 9 and 60 <= X.shape[0] <= 200
        assert 2 <= len(set(y.tolist())) <= 5
        shapes.add((X.shape[1], len(hidden)))
    assert len(shapes) >= 4  # the family varies its shapes
    with pytest.raises(ValueError, match="n_features must be an inclusive range"):
        make_teacher_family(2, n_features=(5, 2))
