"""One validation at the protocol boundary, shared by all four implementations.

Every implementation calls these before converting anything, so bad input is rejected the
same way, with the same one-line message, whichever framework it was handed to. Each message
says what is wrong and what was expected. ValueError for a bad value, TypeError for a value
of the wrong kind; the CLI turns either into that line and exit code 2.
"""
import math
import numbers

DTYPES = ("float64", "float32")
PARAM_KEYS = ("W1", "b1", "W2", "b2")


FLOAT32_MAX = 3.4028234663852886e38  # the largest finite float32


def _finite(value):
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for any float: math.isfinite converts it first
        return False


def _number(value, what, dtype="float64"):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} is {type(value).__name__} {value!r:.40}: expected a real number")
    if not _finite(value):
        raise ValueError(f"{what} is {value!r:.40}: expected a finite number (no NaN or infinity)")
    if dtype == "float32" and abs(value) > FLOAT32_MAX:
        raise ValueError(f"{what} is {value!r:.40}: expected a number float32 can hold (|value| <= 3.4e38),"
                         f" or dtype float64")


def _sequence(value, what):
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise TypeError(f"{what} is {type(value).__name__}: expected a list")
    return list(value)


def _vector(value, length, what, why="", dtype="float64"):
    values = _sequence(value, what)
    if len(values) != length:
        raise ValueError(f"{what} has {len(values)} values: expected {length}{why}")
    for i, v in enumerate(values):
        _number(v, f"{what}[{i}]", dtype)


def check_params(params, name="params", dtype="float64"):
    """Params dict -> (hidden, n_in), or a one-line error naming the key and shape that do not fit."""
    if not isinstance(params, dict):
        raise TypeError(f"{name} is {type(params).__name__}: expected a dict with keys W1, b1, W2, b2")
    missing = [k for k in PARAM_KEYS if k not in params]
    extra = [k for k in params if k not in PARAM_KEYS]
    if missing or extra:
        problem = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                          extra and f"unexpected {', '.join(map(str, extra))}"]))
        raise ValueError(f"{name} has the wrong keys ({problem}): expected exactly W1, b1, W2, b2")
    W1 = _sequence(params["W1"], f"{name} W1")
    if not W1:
        raise ValueError(f"{name} W1 has no rows: expected H >= 1 rows (one per hidden unit)")
    rows = [_sequence(row, f"{name} W1[{j}]") for j, row in enumerate(W1)]
    n_in = len(rows[0])
    if n_in < 1:
        raise ValueError(f"{name} W1 rows are empty: expected n_in >= 1 weights per hidden unit")
    hidden = len(rows)
    for j, row in enumerate(rows):
        if len(row) != n_in:
            raise ValueError(f"{name} W1 is ragged: row {j} has {len(row)} weights: expected {n_in}, as row 0 has")
        for i, w in enumerate(row):
            _number(w, f"{name} W1[{j}][{i}]", dtype)
    why = f" (W1 has {hidden} rows, so H = {hidden})"
    _vector(params["b1"], hidden, f"{name} b1", why, dtype)
    _vector(params["W2"], hidden, f"{name} W2", why, dtype)
    _number(params["b2"], f"{name} b2", dtype)
    return hidden, n_in


def check_inputs(X, n_in, dtype="float64"):
    """X must be a non-empty list of rows of n_in finite numbers; returns the number of rows."""
    rows = _sequence(X, "X")
    if not rows:
        raise ValueError("X is empty: expected at least one sample")
    for s, row in enumerate(rows):
        # The common case, a list of n_in Python floats, passes in one sweep (NaN and infinity
        # survive a sum); anything else takes the loop below, which names what is wrong.
        if (dtype == "float64" and type(row) is list and len(row) == n_in
                and all(type(v) is float for v in row) and _finite(sum(row))):
            continue
        row = _sequence(row, f"X[{s}]")
        if len(row) != n_in:
            raise ValueError(f"X[{s}] has {len(row)} values: expected {n_in}, one per input of W1")
        for i, v in enumerate(row):
            _number(v, f"X[{s}][{i}]", dtype)
    return len(rows)


def check_targets(T, n, name="T", dtype="float64"):
    targets = _sequence(T, name)
    if len(targets) != n:
        raise ValueError(f"{name} has {len(targets)} targets but X has {n} samples: expected one target per sample")
    for s, t in enumerate(targets):
        _number(t, f"{name}[{s}]", dtype)


def check_lr(lr, dtype="float64"):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not _finite(lr) or lr <= 0:
        raise ValueError(f"learning rate is {lr!r:.40}: expected a positive finite number such as 0.1")
    if dtype == "float32" and lr > FLOAT32_MAX:
        raise ValueError(f"learning rate is {lr!r:.40}: expected a number float32 can hold (<= 3.4e38), or dtype float64")


def check_epochs(epochs):
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs is {epochs!r}: expected a whole number >= 0")


def check_dtype(dtype):
    if dtype not in DTYPES:
        raise ValueError(f"dtype is {dtype!r}: expected one of {', '.join(DTYPES)}")


def check_predict(params, X, dtype="float64"):
    check_dtype(dtype)
    _, n_in = check_params(params, dtype=dtype)
    check_inputs(X, n_in, dtype)


def check_gradients(params, x, t, dtype="float64"):
    check_dtype(dtype)
    _, n_in = check_params(params, dtype=dtype)
    _vector(x, n_in, "x", ", one per input of W1", dtype)
    _number(t, "t", dtype)


def check_train(params, X, T, lr, epochs, dtype="float64"):
    check_dtype(dtype)
    _, n_in = check_params(params, dtype=dtype)
    check_targets(T, check_inputs(X, n_in, dtype), dtype=dtype)
    check_lr(lr, dtype)
    check_epochs(epochs)


def check_train_many(networks, X, targets, lr, epochs, dtype="float64"):
    """Several networks trained on one X, each with its own targets (one-vs-rest)."""
    networks = _sequence(networks, "networks")
    if not networks:
        raise ValueError("networks is empty: expected at least one params dict")
    if len(_sequence(targets, "targets")) != len(networks):
        raise ValueError(f"{len(targets)} target lists for {len(networks)} networks: expected one each")
    check_dtype(dtype)
    shapes = {check_params(params, f"networks[{k}]", dtype) for k, params in enumerate(networks)}
    if len(shapes) != 1:
        raise ValueError(f"networks have different shapes {sorted(shapes)}: expected one (H, n_in) for all")
    check_lr(lr, dtype)
    check_epochs(epochs)
    n = check_inputs(X, shapes.pop()[1], dtype)
    for k, T in enumerate(targets):
        check_targets(T, n, f"targets[{k}]", dtype)


def plain(value):
    """A checked value as Python floats in lists: NumPy scalars and arrays become what the protocol promises."""
    if isinstance(value, numbers.Real):
        return float(value)
    return [plain(v) for v in value]
