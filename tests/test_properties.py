"""Property-based tests: hypothesis draws widths, parameters, inputs, targets and learning rates
within sane ranges, and every implementation must agree with the hand-written one and keep the
invariants of the protocol:

- predictions lie strictly between 0 and 1;
- zero epochs return the parameters unchanged and no losses;
- the gradient is zero for a sample whose target equals its prediction;
- the caller's params, X and T are never modified.

The default profile is small enough for CI (25 examples a test). For a longer search:

    NN_ROSETTA_HYPOTHESIS=long python -m pytest tests/test_properties.py

(500 examples a test). The profiles apply to this file's tests only; other hypothesis users in
the same session keep their own settings.
"""
import copy
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.params import flatten

# The impl fixture is function-scoped and hypothesis runs many examples inside one call: that is
# safe here because an implementation is a stateless module.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("nn-rosetta-ci", max_examples=25, **_COMMON)
settings.register_profile("nn-rosetta-long", max_examples=500, **_COMMON)
PROFILE = os.environ.get("NN_ROSETTA_HYPOTHESIS", "ci")
if PROFILE not in ("ci", "long"):
    raise ValueError(f"NN_ROSETTA_HYPOTHESIS is {PROFILE!r}: expected ci or long")
SETTINGS = settings.get_profile(f"nn-rosetta-{PROFILE}")

# Two float64 computations of the same function differ by summation order and fused operations:
# a few ulps of values of order 1, far below 1e-10 relative.
RTOL = 1e-10
# Where a value is zero or nearly so, relative error means nothing: t - p for t close to p is
# the difference of two numbers each rounded at 1e-16, and the chain rule multiplies it by
# factors below 1 here (sigmoid' <= 1/4, weights and inputs <= 3). 1e-13 covers that.
ATOL = 1e-13
# A trained weight is w - lr dw, summed over steps; it can land near zero by cancellation, and
# its absolute error is then that of w (order 1) times a few ulps.
TRAIN_ATOL = 1e-12

# JAX compiles once per shape (and per epoch count, in train): a few fixed shapes keep the run fast.
SHAPES = [(1, 2, 1), (3, 9, 4), (2, 3, 3)]  # (H, n_in, N): one unit, the glyph size, a middle one
weights = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
inputs = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
targets = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
learning_rates = st.floats(1e-3, 1.0, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw):
    """(params, X, T): a network of a drawn shape and a dataset it fits."""
    H, n_in, N = draw(st.sampled_from(SHAPES))
    params = {
        "W1": [[draw(weights) for _ in range(n_in)] for _ in range(H)],
        "b1": [draw(weights) for _ in range(H)],
        "W2": [draw(weights) for _ in range(H)],
        "b2": draw(weights),
    }
    X = [[draw(inputs) for _ in range(n_in)] for _ in range(N)]
    T = [draw(targets) for _ in range(N)]
    return params, X, T


def values(result):
    """Every float in a result, params in the protocol's order W1, b1, W2, b2 whatever the dict's order."""
    if isinstance(result, dict):
        return flatten(result)
    if isinstance(result, (list, tuple)):
        return [v for item in result for v in values(item)]
    return [result]


def assert_agree(got, want, atol, what):
    got, want = values(got), values(want)
    assert len(got) == len(want), f"{what}: {len(got)} values, hand has {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert abs(g - w) <= atol + RTOL * abs(w), f"{what}: value {i} is {g!r}, hand says {w!r}"


# --- agreement with the hand-written version --------------------------------------------------

@SETTINGS
@given(problem=problems())
def test_predictions_agree_with_hand_and_lie_in_0_1(impl, hand, problem):
    params, X, _ = problem
    p = impl.predict(params, X)
    # |z2| <= 3 H + 3 = 30 here, so p is at least 1e-13 away from 0 and 1: exactly 0 or 1 is wrong.
    assert all(0.0 < p_s < 1.0 for p_s in p), f"prediction outside (0, 1): {p}"
    assert_agree(p, hand.predict(params, X), ATOL, "predict")


@SETTINGS
@given(problem=problems(), s=st.integers(0, 3))
def test_gradients_agree_with_hand(other, hand, problem, s):
    params, X, T = problem
    x, t = X[s % len(X)], T[s % len(T)]
    assert_agree(other.gradients(params, x, t), hand.gradients(params, x, t), ATOL, "gradients")


@SETTINGS
@given(problem=problems(), lr=learning_rates, epochs=st.sampled_from([1, 2]))
def test_training_agrees_with_hand(other, hand, problem, lr, epochs):
    params, X, T = problem
    trained, losses = other.train(params, X, T, lr=lr, epochs=epochs)
    want, want_losses = hand.train(params, X, T, lr=lr, epochs=epochs)
    assert len(losses) == epochs
    assert_agree(trained, want, TRAIN_ATOL, "trained params")
    assert_agree(losses, want_losses, TRAIN_ATOL, "losses")


def mirrored(params):
    """Every parameter negated and the rows reversed: a second network of the same shape that differs."""
    return {"W1": [[-w for w in row] for row in reversed(params["W1"])], "b1": [-b for b in reversed(params["b1"])],
            "W2": [-w for w in reversed(params["W2"])], "b2": -params["b2"]}


@SETTINGS
@given(problem=problems(), lr=learning_rates)
def test_train_many_agrees_with_hand(other, hand, problem, lr):
    # Two networks of one shape on one X, each with its own targets, as the one-vs-rest digits do.
    params, X, T = problem
    second = mirrored(params)
    targets = [T, [1.0 - t for t in T]]
    got = other.train_many([params, second], X, targets, lr=lr, epochs=1)
    want = [hand.train(p, X, T_k, lr=lr, epochs=1) for p, T_k in zip([params, second], targets)]
    assert len(got) == 2
    for k in range(2):
        assert_agree(got[k], want[k], TRAIN_ATOL, f"network {k}")


# --- invariants, for all four --------------------------------------------------------------------

@SETTINGS
@given(problem=problems(), lr=learning_rates, dtype=st.sampled_from(["float64", "float32"]))
def test_zero_epochs_return_the_params_and_no_losses(impl, problem, lr, dtype):
    params, X, T = problem
    trained, losses = impl.train(params, X, T, lr=lr, epochs=0, dtype=dtype)
    assert losses == []
    if impl.compute_dtype(dtype) == "float64":
        assert repr(values(trained)) == repr(values(params)), "zero epochs changed the params"
    else:  # a float32 run can only hand back what float32 holds: the nearest float32 of each
        assert values(trained) == [float(np.float32(w)) for w in values(params)]


@SETTINGS
@given(problem=problems(), s=st.integers(0, 3))
def test_gradient_is_zero_where_the_target_is_the_prediction(impl, problem, s):
    # t - p = 0 makes dL/dp = -2 (t - p) = 0, and every gradient is a multiple of it. t is the
    # implementation's own prediction of x, so the two sides are the same float computation.
    params, X, _ = problem
    x = X[s % len(X)]
    (t,) = impl.predict(params, [x])
    g = impl.gradients(params, x, t)
    assert all(v == 0.0 for v in values(g)), f"gradient at t = p = {t!r}: {g}"


@SETTINGS
@given(problem=problems(), lr=learning_rates, as_numpy=st.booleans())
def test_the_callers_data_are_never_modified(impl, problem, lr, as_numpy):
    params, X, T = problem
    if as_numpy:  # arrays can be changed in place where lists are copied: check those too
        params = {k: (v if k == "b2" else np.array(v)) for k, v in params.items()}
        X, T = np.array(X), np.array(T)
    before = copy.deepcopy((params, X, T))
    impl.predict(params, X)
    impl.gradients(params, X[0], T[0])
    impl.train(params, X, T, lr=lr, epochs=1)
    impl.train_many([params, params], X, [T, T], lr=lr, epochs=1)
    for name, now, then in [("params", params, before[0]), ("X", X, before[1]), ("T", T, before[2])]:
        assert same(now, then), f"{impl.__name__} changed the caller's {name}"


def same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b and type(a) is type(b)
