"""``python -m sk_metabp``: train the paper's AND network with backprop and report."""

import sys
import time

from . import BackpropMLPClassifier
from .datasets import make_boolean


def main(argv=None):
    X, y = make_boolean("and")
    clf = BackpropMLPClassifier(
        hidden_layer_sizes=(1,), learning_rate=0.23, max_iter=5000, random_state=0
    )
    start = time.perf_counter()
    clf.fit(X, y)
    elapsed = time.perf_counter() - start
    print("AND on a 2-1-1 sigmoid network, online backprop, rate 0.23, 5000 cycles")
    print(f"  training time     {elapsed:.3f} s")
    print(f"  J after cycle 1   {clf.loss_curve_[0]:.4f}")
    print(f"  J after cycle {clf.n_iter_}  {clf.loss_curve_[-1]:.6f}")
    print(f"  predictions       {clf.predict(X).tolist()} (truth {y.tolist()})")
    print(f"  training accuracy {clf.score(X, y):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
