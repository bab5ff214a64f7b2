"""Where the sigmoid saturates, every implementation stays finite, quiet and exactly right.

Pre-activations of +-1000 and far beyond (up to overflowing to +-infinity) are pushed through the
output unit and the hidden units, by huge parameters and by huge inputs. The expected values are
the exact limits, worked out here with math rather than taken from any implementation:
sigmoid(z) is exactly 1.0 once z > 37 in float64 (17 in float32), sigmoid(z) is exp(z) to
within exp(2z) for very negative z, and a saturated unit passes back a gradient of exactly 0.
Every test runs with warnings turned into errors: an overflow warning is a failure here.
"""
import math
import warnings

import numpy as np
import pytest

DTYPES = ("float64", "float32")
# float64 results against a closed form: a few roundings of values of order 1, far below 1e-12.
RTOL64 = 1e-12
# float32 results against the float64 closed form: float32 rounds each step at 6e-8 relative,
# and a handful of steps stay well under 1e-5.
RTOL32 = 1e-5
RTOL = {"float64": RTOL64, "float32": RTOL32}
# The largest finite input each dtype can hold with room to spare, for pre-activations that
# overflow to infinity: 1e200 * 1e200 is inf in float64, 1e30 * 1e30 is inf in float32.
HUGE = {"float64": 1e200, "float32": 1e30}


@pytest.fixture(autouse=True)
def warnings_are_errors():
    # The issue asks for no warning spam: numpy's "overflow encountered" must fail a test here.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def sigmoid(z):
    """The exact value in float64, for the expected side: written out, not borrowed from an implementation."""
    if z == math.inf:
        return 1.0
    if z == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def output_only(b2, W2=0.0, n_in=2):
    """One hidden unit whose output weight W2 and bias b2 set the output pre-activation directly."""
    return {"W1": [[0.0] * n_in], "b1": [0.0], "W2": [W2], "b2": b2}


def flat(params):
    return [w for row in params["W1"] for w in row] + list(params["b1"]) + list(params["W2"]) + [params["b2"]]


def close(got, want, rtol):
    return abs(got - want) <= rtol * abs(want)


def to_dtype(value, dtype):
    # What a float32 request can hold: the nearest float32, read back as a Python float.
    return float(np.float32(value)) if dtype == "float32" else value


# --- the output unit --------------------------------------------------------------------------

SATURATING = [1000.0, -1000.0, 1e6, -1e6, 1e30, -1e30]


# 1e300 is beyond float32's range: a float32 request refuses it (tests/test_validation.py).
LIMIT_CASES = [(dtype, z) for dtype in DTYPES for z in SATURATING] + [("float64", 1e300), ("float64", -1e300)]


@pytest.mark.parametrize("dtype,z", LIMIT_CASES)
def test_prediction_is_the_exact_limit(impl, dtype, z):
    p = impl.predict(output_only(z), [[1.0, 0.0], [0.0, 1.0]], dtype)
    want = [1.0, 1.0] if z > 0 else [0.0, 0.0]
    assert p == want, f"sigmoid({z}) gave {p}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", SATURATING, ids=str)
def test_prediction_saturates_through_the_weights_too(impl, dtype, z):
    # z2 = W2 h + b2 with h = sigmoid(0) = 0.5 exactly, so W2 = 2z puts the same z there by product.
    p = impl.predict(output_only(0.0, W2=2 * z), [[3.0, -1.0]], dtype)
    assert p == [1.0 if z > 0 else 0.0]


@pytest.mark.parametrize("dtype,z", [("float64", -40.0), ("float64", -100.0), ("float64", -700.0),
                                     ("float32", -40.0), ("float32", -80.0)])
def test_prediction_keeps_the_tiny_tail(impl, dtype, z):
    # Far out on the negative side sigmoid(z) = exp(z) / (1 + exp(z)) = exp(z) to within exp(2z):
    # the right answer is a tiny positive number, not 0 from 1 / (1 + overflowing exp(-z)).
    (p,) = impl.predict(output_only(z), [[1.0, 1.0]], dtype)
    assert 0.0 < p and close(p, math.exp(z), RTOL[dtype]), f"sigmoid({z}) gave {p!r}, exactly {math.exp(z)!r}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0.0, 1.0])
@pytest.mark.parametrize("z", [1000.0, -1000.0, 1e30, -1e30], ids=str)
def test_saturated_output_passes_back_exactly_zero(impl, dtype, z, t):
    # p is exactly 0 or 1, so p (1 - p) = 0 and every dL/dtheta = -2 (t - p) p (1 - p) ... = 0:
    # the exact value is below 1e-400, which no float holds.
    params = {"W1": [[0.7, -1.3], [2.0, 0.4]], "b1": [0.1, -0.2], "W2": [1.5, -0.5], "b2": z}
    g = impl.gradients(params, [1.0, 2.0], t, dtype)
    assert flat(g) == [0.0] * 9, f"gradients at z = {z}: {g}"


# --- the hidden units -------------------------------------------------------------------------

def hidden_case(kind, dtype):
    """(params, x) whose first hidden unit saturates to 1, second to 0, third stays moderate."""
    if kind == "huge weights":  # z1 = +-1000.5 by weights of 1000
        W1, x = [[1000.0, 0.5], [-1000.0, 0.5], [0.0, 0.5]], [1.0, 1.0]
    elif kind == "huge inputs":  # z1 = +-1e6 by an input of 1e6
        W1, x = [[1.0, 0.5], [-1.0, 0.5], [0.0, 0.5]], [1e6, 1.0]
    else:  # "overflow to infinity": z1 = +-HUGE^2 = +-inf, and still no NaN
        big = HUGE[dtype]
        W1, x = [[big, 0.5], [-big, 0.5], [0.0, 0.5]], [big, 1.0]
    return {"W1": W1, "b1": [0.0, 0.0, 0.25], "W2": [1.0, -2.0, 0.5], "b2": 0.1}, x


def exact_hidden_case(params, x, t):
    """p and the gradients of the case above with h = [1, 0, sigmoid(0.75)] exactly."""
    x = [float(v) for v in x]
    h3 = sigmoid(0.5 * x[1] + 0.25)
    h = [1.0, 0.0, h3]
    p = sigmoid(sum(w * h_j for w, h_j in zip(params["W2"], h)) + params["b2"])
    dL_dz2 = -2.0 * (t - p) * p * (1.0 - p)
    dL_dz1 = [0.0, 0.0, dL_dz2 * params["W2"][2] * h3 * (1.0 - h3)]
    return p, {"W1": [[d * x_i for x_i in x] for d in dL_dz1], "b1": dL_dz1,
               "W2": [dL_dz2 * h_j for h_j in h], "b2": dL_dz2}


HIDDEN_KINDS = ["huge weights", "huge inputs", "overflow to infinity"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", HIDDEN_KINDS)
def test_saturated_hidden_units_give_exact_outputs_and_gradients(impl, dtype, kind):
    params, x = hidden_case(kind, dtype)
    t = 1.0
    # The float32 run sees x rounded to float32; the moderate unit's weights are exact in both.
    want_p, want = exact_hidden_case(params, [to_dtype(v, dtype) for v in x], t)
    (p,) = impl.predict(params, [x], dtype)
    assert close(p, want_p, RTOL[dtype]), f"p = {p!r}, exactly {want_p!r}"
    g = impl.gradients(params, x, t, dtype)
    assert all(math.isfinite(v) for v in flat(g)), f"not finite: {g}"
    # A saturated unit's gradients are exactly zero, however large the input they multiply.
    assert g["W1"][:2] == [[0.0, 0.0], [0.0, 0.0]] and g["b1"][:2] == [0.0, 0.0], g
    assert g["W2"][1] == 0.0, "h[1] is exactly 0, so dL/dW2[1] = dL/dz2 h[1] is too"
    for got, exact in zip(flat(g), flat(want)):
        assert close(got, exact, RTOL[dtype]), f"gradient {got!r}, exactly {exact!r}: {g}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", HIDDEN_KINDS)
def test_training_through_saturated_hidden_units_stays_finite_and_agrees(impl, hand, dtype, kind):
    params, x = hidden_case(kind, dtype)
    X, T = [x, [x[0], 0.0], [x[0], 2.0]], [1.0, 0.0, 0.5]  # every sample saturates the first two units
    trained, losses = impl.train(params, X, T, lr=0.5, epochs=3, dtype=dtype)
    assert all(math.isfinite(v) for v in flat(trained) + losses), (trained, losses)
    # The saturated rows never move: their gradient is exactly 0 at every step.
    computes = impl.compute_dtype(dtype)  # hand computes float64 whatever is asked
    assert trained["W1"][:2] == [[to_dtype(w, computes) for w in row] for row in params["W1"][:2]]
    # Against hand, a float32 run is held to float32's tolerance, on the inputs float32 holds.
    hand_params = {**params, "W1": [[to_dtype(w, dtype) for w in row] for row in params["W1"]]}
    want, want_losses = hand.train(hand_params, [[to_dtype(v, dtype) for v in row] for row in X], T,
                                   lr=0.5, epochs=3)
    for got, exact in zip(flat(trained) + losses, flat(want) + want_losses):
        assert close(got, exact, RTOL[dtype]), f"{got!r} vs hand {exact!r}"


# --- training when everything is saturated -----------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b2", [1000.0, -1000.0])
def test_training_a_saturated_network_moves_nothing(impl, dtype, b2):
    # Every gradient is exactly 0 (see above), so SGD returns the parameters it was given, to the
    # bit, and each epoch's loss is the exact mean of (t - p)^2 with p = 1 or 0.
    params = {"W1": [[0.7, -1.3], [2.0, 0.4]], "b1": [0.1, -0.2], "W2": [1.5, -0.5], "b2": b2}
    X, T = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]], [0.0, 1.0, 0.0, 1.0]
    trained, losses = impl.train(params, X, T, lr=0.5, epochs=3, dtype=dtype)
    assert flat(trained) == [to_dtype(w, impl.compute_dtype(dtype)) for w in flat(params)]
    assert losses == [0.5, 0.5, 0.5]  # (t - p)^2 is 0, 1, 0, 1 for p = 1 and for p = 0
