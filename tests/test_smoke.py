from sk_metabp import BackpropMLPClassifier
from sk_metabp.datasets import make_boolean


def test_and_network_learns():
    X, y = make_boolean("and")
    clf = BackpropMLPClassifier((1,), max_iter=3000, random_state=0).fit(X, y)
    assert clf.score(X, y) == 1.0
