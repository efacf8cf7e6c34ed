"""scikit-learn's API compliance checks for both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_metabp import BackpropMLPClassifier, BackpropMLPRegressor

# Small max_iter keeps the ~60 checks per estimator fast; the second instance of
# each covers the other code paths (no hidden layer, mini-batches with shuffling
# and momentum, tanh hidden units).
ESTIMATORS = [
    BackpropMLPClassifier(max_iter=30, random_state=0),
    BackpropMLPClassifier(
        hidden_layer_sizes=(),
        batch_size=8,
        shuffle=True,
        momentum=0.5,
        max_iter=20,
        random_state=0,
    ),
    BackpropMLPRegressor(max_iter=30, random_state=0),
    BackpropMLPRegressor(
        hidden_layer_sizes=(3, 4),
        activation="tanh",
        batch_size=1,
        momentum=0.0,
        shuffle=False,
        standardize=False,
        max_iter=20,
        random_state=0,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
