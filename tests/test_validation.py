"""Bad input is rejected at the protocol boundary the same way by all four implementations.

Every case below is handed to each implementation in turn. Each must raise the exception type
the case names (ValueError for a bad value, TypeError for a value of the wrong kind) with one
line that names the offending thing and says what was expected, and that line must be exactly
the hand-written version's: one shared validation, one message, whichever framework it reached.
Anything else (another exception, a warning, an answer) fails the test and says which.
"""
import warnings

import numpy as np
import pytest

from shared.params import init_networks, init_params

N_IN, HIDDEN = 3, 2  # small: every case is about the checks, not the arithmetic
FLOAT32_MAX = float(np.finfo(np.float32).max)


def good():
    """A valid (params, X, T) to spoil one piece at a time; W1 is not square, so H and n_in differ."""
    params = init_params(N_IN, HIDDEN, seed=3)
    X = [[0.0, 1.0, 0.5], [1.0, 0.0, 0.25], [0.5, 0.5, 0.5], [1.0, 1.0, 0.0]]
    T = [0.0, 1.0, 0.5, 1.0]
    return params, X, T


def with_params(**changes):
    params = good()[0]
    params.update(changes)
    return params


def without(key):
    params = good()[0]
    del params[key]
    return params


def spoil_W1(j, i, value):
    params = good()[0]
    params["W1"][j][i] = value
    return params


def predict_with(params=None, X=None, dtype="float64"):
    params_ok, X_ok, _ = good()
    return lambda impl: impl.predict(params_ok if params is None else params, X_ok if X is None else X, dtype)


def gradients_with(params=None, x=None, t=0.5, dtype="float64"):
    params_ok, X_ok, _ = good()
    return lambda impl: impl.gradients(params_ok if params is None else params, X_ok[0] if x is None else x,
                                       t, dtype)


def train_with(params=None, X=None, T=None, lr=0.1, epochs=2, dtype="float64"):
    params_ok, X_ok, T_ok = good()
    return lambda impl: impl.train(params_ok if params is None else params, X_ok if X is None else X,
                                   T_ok if T is None else T, lr=lr, epochs=epochs, dtype=dtype)


def train_many_with(networks=None, targets=None, lr=0.1, epochs=2):
    _, X, T = good()
    nets = init_networks(2, N_IN, HIDDEN, seed=3) if networks is None else networks
    return lambda impl: impl.train_many(nets, X, [T, T] if targets is None else targets, lr, epochs)


def ragged_X():
    X = good()[1]
    X[2] = X[2][:2]
    return X


def X_with(s, i, value):
    X = good()[1]
    X[s][i] = value
    return X


def T_with(s, value):
    T = good()[2]
    T[s] = value
    return T


# (id, call, expected exception type, words the one line must contain)
CASES = [
    # X: ragged, wrong-shaped, not rows, empty, not finite, not numbers
    ("X ragged", predict_with(X=ragged_X()), ValueError, ["X[2]", "2 values", "expected 3"]),
    ("X rows do not fit W1", predict_with(X=[[0.0, 1.0, 0.5, 1.0]] * 2), ValueError, ["X[0]", "4 values", "expected 3"]),
    ("X one flat row", predict_with(X=[0.0, 1.0, 0.5]), TypeError, ["X[0]", "float", "expected a list"]),
    ("X not a list", predict_with(X=7), TypeError, ["X", "int", "expected a list"]),
    ("X a string", predict_with(X="0.1,0.2,0.3"), TypeError, ["X", "str", "expected a list"]),
    ("X empty", predict_with(X=[]), ValueError, ["X is empty", "at least one sample"]),
    ("X NaN", predict_with(X=X_with(1, 2, float("nan"))), ValueError, ["X[1][2]", "nan", "finite"]),
    ("X inf", predict_with(X=X_with(3, 0, float("inf"))), ValueError, ["X[3][0]", "inf", "finite"]),
    ("X -inf", predict_with(X=X_with(0, 1, -float("inf"))), ValueError, ["X[0][1]", "-inf", "finite"]),
    ("X text value", predict_with(X=X_with(0, 1, "1.0")), TypeError, ["X[0][1]", "str", "real number"]),
    ("X None value", predict_with(X=X_with(2, 0, None)), TypeError, ["X[2][0]", "NoneType", "real number"]),
    ("X bool value", predict_with(X=X_with(0, 0, True)), TypeError, ["X[0][0]", "bool", "real number"]),
    ("X complex value", predict_with(X=X_with(0, 0, 1j)), TypeError, ["X[0][0]", "complex", "real number"]),
    # params: not a dict, wrong keys, H < 1, shapes that do not fit each other, not finite
    ("params not a dict", predict_with(params=[[1.0]]), TypeError, ["params", "list", "W1, b1, W2, b2"]),
    ("params missing b2", predict_with(params=without("b2")), ValueError, ["missing b2", "W1, b1, W2, b2"]),
    ("params missing W1", predict_with(params=without("W1")), ValueError, ["missing W1", "W1, b1, W2, b2"]),
    ("params extra key", predict_with(params=with_params(W3=[1.0])), ValueError, ["unexpected W3", "W1, b1, W2, b2"]),
    ("H < 1", predict_with(params=with_params(W1=[], b1=[], W2=[])), ValueError, ["W1", "no rows", "H >= 1"]),
    ("W1 rows empty", predict_with(params=with_params(W1=[[], []])), ValueError, ["W1", "empty", "n_in >= 1"]),
    ("W1 ragged", predict_with(params=with_params(W1=[[1.0, 2.0, 3.0], [1.0, 2.0]])), ValueError,
     ["W1", "row 1", "2 weights", "3"]),
    ("W1 a flat list", predict_with(params=with_params(W1=[1.0, 2.0])), TypeError, ["W1[0]", "expected a list"]),
    ("b1 does not fit W1", predict_with(params=with_params(b1=[0.0, 0.0, 0.0])), ValueError,
     ["b1", "3 values", "expected 2"]),
    ("W2 does not fit W1", predict_with(params=with_params(W2=[0.5])), ValueError, ["W2", "1 values", "expected 2"]),
    ("b2 a list", predict_with(params=with_params(b2=[0.5])), TypeError, ["b2", "list", "real number"]),
    ("W1 NaN", predict_with(params=spoil_W1(1, 2, float("nan"))), ValueError, ["W1[1][2]", "nan", "finite"]),
    ("W1 inf", predict_with(params=spoil_W1(0, 0, float("inf"))), ValueError, ["W1[0][0]", "inf", "finite"]),
    ("b1 NaN", predict_with(params=with_params(b1=[0.0, float("nan")])), ValueError, ["b1[1]", "nan", "finite"]),
    ("W2 -inf", predict_with(params=with_params(W2=[-float("inf"), 0.0])), ValueError, ["W2[0]", "-inf", "finite"]),
    ("b2 NaN", predict_with(params=with_params(b2=float("nan"))), ValueError, ["b2", "nan", "finite"]),
    # An int too large for a float is not a finite float64: it must be refused like infinity,
    # not crash the check with math.isfinite's OverflowError.
    ("b2 int beyond float", predict_with(params=with_params(b2=10**400)), ValueError, ["b2", "finite"]),
    ("dtype unknown", predict_with(dtype="float16"), ValueError, ["dtype", "float16", "float64, float32"]),
    # gradients: the one sample is x and its target t, and the message must call them that
    ("x does not fit W1", gradients_with(x=[0.0, 1.0]), ValueError, ["2 values", "expected 3"]),
    ("x NaN", gradients_with(x=[0.0, float("nan"), 1.0]), ValueError, ["x[1]", "nan", "finite"]),
    ("x a row of rows", gradients_with(x=[[0.0, 1.0, 0.5]]), ValueError, ["1 values", "expected 3"]),
    ("t NaN", gradients_with(t=float("nan")), ValueError, ["t", "nan", "finite"]),
    ("t a list", gradients_with(t=[0.5]), TypeError, ["t", "list", "real number"]),
    # train: T, lr, epochs
    ("T shorter than X", train_with(T=[0.0, 1.0, 0.5]), ValueError, ["T has 3", "X has 4", "one target per sample"]),
    ("T longer than X", train_with(T=[0.0, 1.0, 0.5, 1.0, 0.0]), ValueError, ["T has 5", "X has 4"]),
    ("T NaN", train_with(T=T_with(1, float("nan"))), ValueError, ["T[1]", "nan", "finite"]),
    ("T inf", train_with(T=T_with(2, float("inf"))), ValueError, ["T[2]", "inf", "finite"]),
    ("T text", train_with(T="0101"), TypeError, ["T", "str", "expected a list"]),
    ("empty dataset", train_with(X=[], T=[]), ValueError, ["X is empty", "at least one sample"]),
    ("lr zero", train_with(lr=0), ValueError, ["learning rate", "0", "positive finite"]),
    ("lr negative", train_with(lr=-0.1), ValueError, ["learning rate", "-0.1", "positive finite"]),
    ("lr NaN", train_with(lr=float("nan")), ValueError, ["learning rate", "nan", "positive finite"]),
    ("lr inf", train_with(lr=float("inf")), ValueError, ["learning rate", "inf", "positive finite"]),
    ("lr text", train_with(lr="0.1"), ValueError, ["learning rate", "'0.1'", "positive finite"]),
    ("lr None", train_with(lr=None), ValueError, ["learning rate", "None", "positive finite"]),
    ("lr bool", train_with(lr=True), ValueError, ["learning rate", "True", "positive finite"]),
    ("lr int beyond float", train_with(lr=10**400), ValueError, ["learning rate", "positive finite"]),
    ("epochs negative", train_with(epochs=-1), ValueError, ["epochs", "-1", "whole number >= 0"]),
    ("epochs fractional", train_with(epochs=2.5), ValueError, ["epochs", "2.5", "whole number"]),
    ("epochs float", train_with(epochs=2.0), ValueError, ["epochs", "2.0", "whole number"]),
    ("epochs text", train_with(epochs="3"), ValueError, ["epochs", "'3'", "whole number"]),
    ("epochs bool", train_with(epochs=True), ValueError, ["epochs", "True", "whole number"]),
    ("train params H < 1", train_with(params=with_params(W1=[], b1=[], W2=[])), ValueError, ["W1", "H >= 1"]),
    ("train X ragged", train_with(X=ragged_X()), ValueError, ["X[2]", "expected 3"]),
    # train_many: one params dict and one target list per network
    ("networks empty", train_many_with(networks=[], targets=[]), ValueError, ["networks is empty", "at least one"]),
    ("targets per network", train_many_with(targets=[good()[2]]), ValueError, ["1 target lists", "2 networks", "one each"]),
    ("networks of two shapes", train_many_with(networks=[init_params(N_IN, 2), init_params(N_IN, 3)]), ValueError,
     ["different shapes", "(2, 3)", "(3, 3)"]),
    ("networks lr zero", train_many_with(lr=0.0), ValueError, ["learning rate", "positive finite"]),
    ("networks epochs negative", train_many_with(epochs=-2), ValueError, ["epochs", "whole number >= 0"]),
    # Which of the networks is wrong matters when there are ten: name targets[k] and networks[k].
    ("targets[1] too short", train_many_with(targets=[good()[2], [0.0, 1.0]]), ValueError,
     ["targets[1]", "2 targets", "4 samples"]),
    ("networks[1] NaN", train_many_with(networks=[init_params(N_IN, HIDDEN), with_params(b2=float("nan"))]),
     ValueError, ["networks[1]", "b2", "finite"]),
]


def rejection(call, impl):
    """(exception type, message) of the call, or a failure that says what happened instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning on the way to the check is noise a user would see
        try:
            result = call(impl)
        except (ValueError, TypeError) as error:
            return type(error), str(error)
        except Exception as error:  # noqa: BLE001 - any other exception is the failure being reported
            pytest.fail(f"{impl.__name__} raised {type(error).__name__}: {error} (expected a ValueError or TypeError)")
    pytest.fail(f"{impl.__name__} accepted the bad input and returned {str(result)[:120]}")


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_gets_one_clear_line(impl, hand, case):
    name, call, error_type, words = case
    kind, message = rejection(call, impl)
    assert kind is error_type, f"{name}: {kind.__name__}({message!r}), expected a {error_type.__name__}"
    assert "\n" not in message, f"{name}: the message is not one line: {message!r}"
    missing = [word for word in words if word not in message]
    assert not missing, f"{name}: {message!r} does not say {missing}"
    assert "expected" in message, f"{name}: {message!r} does not say what was expected"
    assert rejection(call, hand) == (kind, message), f"{name}: hand says it differently"


@pytest.mark.parametrize("case", [c for c in CASES if c[0].startswith(("x ", "t "))],
                         ids=[c[0] for c in CASES if c[0].startswith(("x ", "t "))])
def test_gradients_names_its_own_arguments(impl, case):
    # gradients takes one sample x, not a dataset X: "X[0] has 2 values" points at an argument
    # the caller never passed.
    _, message = rejection(case[1], impl)
    assert message.startswith(("x ", "x[", "t ")), f"{message!r} should start with the argument's name, x or t"


# --- values a float32 request cannot hold ---------------------------------------------------------
# 1e39 is finite in float64 and infinity in float32. Converted silently, it turns a prediction
# into NaN (inf * 0) or inf, with a numpy "overflow encountered in cast" warning at best; asked
# for float32, every implementation must instead refuse it with the same line, naming it.

FLOAT32_CASES = [
    ("W1 beyond float32", predict_with(params=spoil_W1(0, 1, 1e39), dtype="float32"), ["W1[0][1]", "float32"]),
    ("b2 beyond float32", predict_with(params=with_params(b2=-1e39), dtype="float32"), ["b2", "float32"]),
    ("X beyond float32", predict_with(X=X_with(1, 0, 4e38), dtype="float32"), ["X[1][0]", "float32"]),
    ("T beyond float32", train_with(T=T_with(0, 1e39), dtype="float32"), ["T[0]", "float32"]),
]


@pytest.mark.parametrize("case", FLOAT32_CASES, ids=[case[0] for case in FLOAT32_CASES])
def test_float32_request_refuses_values_beyond_float32(impl, hand, case):
    name, call, words = case
    kind, message = rejection(call, impl)
    assert kind is ValueError, f"{name}: {kind.__name__}({message!r}), expected a ValueError"
    missing = [word for word in words if word not in message]
    assert not missing, f"{name}: {message!r} does not say {missing}"
    assert rejection(call, hand) == (kind, message), f"{name}: hand says it differently"


def test_float32_limit_itself_is_accepted(impl):
    # The largest float32 is a float32: the check above must not refuse it.
    params = with_params(b2=FLOAT32_MAX, W2=[0.0, 0.0])
    assert impl.predict(params, good()[1], dtype="float32") == [1.0] * 4


# --- what the boundary accepts: any real numbers, read as the same float64 values ---------------

def as_numpy(params, dtype):
    return {k: (dtype(v) if k == "b2" else np.array(v, dtype=dtype)) for k, v in params.items()}


def plain_floats(value):
    return [plain_floats(v) for v in value] if np.ndim(value) else float(value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_numpy_numbers_give_the_same_results_as_python_floats(impl, dtype):
    # The same numbers handed over as NumPy arrays and scalars instead of lists of floats. Each
    # is exactly a float64, so a float64 computation must not see any difference; an
    # implementation that keeps NumPy scalars lets NEP 50 promotion compute in their type
    # (float32 * float is float32) and hands NumPy scalars back where it promises floats.
    # Validation accepts these, so they must also go through without a warning.
    params, _, _ = good()
    params = {k: plain_floats(np.array(v, dtype=np.float32)) for k, v in params.items()}  # float32 holds these
    X = [[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [5.0, 5.0, 5.0], [1.0, 1.0, 0.0]]
    T = [0.0, 1.0, 1.0, 0.0]
    params_np = as_numpy(params, np.float64 if dtype is np.int64 else dtype)  # an int64 W1 is not a network
    X_np, T_np = np.array(X, dtype=dtype), np.array(T, dtype=dtype)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert impl.predict(params_np, X_np) == impl.predict(params, X)
        got = impl.gradients(params_np, X_np[1], T_np[1])
        assert got == impl.gradients(params, X[1], T[1])
        values = [got["b2"], *got["b1"], *got["W2"], *got["W1"][0]]
        assert all(type(v) is float for v in values), \
            f"gradients returned {type(values[0]).__name__}, the protocol promises plain floats"
        trained, losses = impl.train(params_np, X_np, T_np, lr=0.5, epochs=2)
        assert (trained, losses) == impl.train(params, X, T, lr=0.5, epochs=2)
        assert type(trained["b2"]) is float and type(trained["W1"][0][0]) is float, \
            f"train returned {type(trained['b2']).__name__}, the protocol promises plain floats"
        many = impl.train_many([params_np, params_np], X_np, np.array([T_np, 1 - T_np]), lr=0.5, epochs=2)
        assert many == impl.train_many([params, params], X, [T, [1 - t for t in T]], lr=0.5, epochs=2)
