"""The cross-check kit: hold any implementation of the protocol to the hand-written reference.

    python compare.py --check my_impl.py             conformance report; exit 1 if any check fails
    python compare.py --drift numpy torch            where two implementations drift apart
    python compare.py --golden write | verify        the float64 golden trace (see tools/golden.py)

An implementation is a key of impls.KEYS, a path to a .py file or a dotted module name: anything
with predict, gradients and train over plain-float params (impls/__init__.py). Every call into it
goes through `call`, so a missing function, a wrong shape, a NaN or an exception inside becomes a
failed check with its reason, never a traceback from the kit.

Tolerances are derived, not picked: a first-order running error bound (Higham, "Accuracy and
Stability of Numerical Algorithms", ch. 3) is evaluated on the reference's own values, so each
compared number gets its own bound, about n u for a length-n dot product, summed over the steps
of a training run. See ErrorBounds.
"""
import copy
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import math
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import impls
from shared import store
from shared.glyphs import TASKS, dataset
from shared.params import GROUPS, SEED, init_params
from tools.cli import Parser, plural

CHECKS = ("protocol", "forward", "gradients", "sgd-step", "train-short", "train-full", "no-mutation")
LR = 0.1
SHORT_EPOCHS = 2
FULL_EPOCHS = 1000
QUICK_EPOCHS = 20  # --quick: enough epochs for training drift to show, few enough for a test suite
# (hidden, seed): several widths and draws. H = 9 = n_in makes W1 square, so a transposed W1 has the
# right shape and only its values can catch it; H = 1, 2, 16 make it crash or mis-shape instead.
PARAM_SETS = ((9, 0), (9, 1), (1, 2), (2, 3), (16, 4))
# Gradients and single steps: every sample for the default network, the first few for the others;
# a wrong formula shows on any sample, and each call into JAX or PyTorch costs milliseconds.
SAMPLES_OTHER_SETS = 3
SHORT_SETS = ((9, 0), (9, 1), (2, 3))  # short runs: two draws at the default width, and a narrow net
N_IN = 9

UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24}
# The bound is first order and assumes textbook operation counts; a framework may evaluate sigmoid
# or its derivative by another formula with a few more roundings. 4 covers that without letting any
# catalogued bug through (tests/test_check.py checks both sides).
SAFETY = 4.0
# Relative error of one sigmoid evaluation in units of u: exp (1), add (1), divide (1), and 1 for
# a library exp that is not correctly rounded.
SIGMOID_ROUNDINGS = 4


class Broken(Exception):
    """The implementation under test misbehaved: str() is the one line that says how."""


# ---------------------------------------------------------------------------------------------
# Loading and calling an implementation


def load(spec):
    """'hand' | 'path/to/file.py' | 'dotted.module' -> (label, module). ValueError if it is none of them.

    Broken if the module exists but importing it raises: that is the module's failure, reported as
    the protocol check, not a usage error.
    """
    spec = str(spec)
    if spec in impls.KEYS:
        return spec, impls.get(spec)
    if spec.endswith(".py") or "/" in spec or "\\" in spec or Path(spec).is_file():
        path = Path(spec)
        if path.is_dir():
            raise ValueError(f"{spec} is a folder: give the .py file of your implementation inside it")
        if not path.is_file():
            raise ValueError(f"{spec}: no such file: give a .py file, a dotted module name, or one of "
                             f"{', '.join(impls.KEYS)}")
        if path.suffix != ".py":
            raise ValueError(f"{spec} is not a .py file: give a Python source file ending in .py, "
                             "or a dotted module name")
        name = f"nn_rosetta_checked_{path.stem}_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        # The module's own folder on the path, so it can import its siblings as when run directly.
        sys.path.insert(0, str(path.resolve().parent))
        try:
            module_spec.loader.exec_module(module)
        except (Exception, SystemExit) as error:  # sys.exit() at import is the module's failure too
            sys.modules.pop(name, None)
            raise Broken(f"importing {spec} raised {describe(error)}") from None
        finally:
            sys.path.remove(str(path.resolve().parent))
        return spec, module
    try:
        found = importlib.util.find_spec(spec) is not None
    except (ModuleNotFoundError, ValueError):  # a parent package that does not exist, or an empty name
        found = False
    except (Exception, SystemExit) as error:  # a parent package that exists and fails to import
        raise Broken(f"importing {spec} raised {describe(error)}") from None
    if not found:
        raise ValueError(f"{spec}: no such module or file: give a .py file, a dotted module name, or one of "
                         f"{', '.join(impls.KEYS)}")
    try:
        return spec, importlib.import_module(spec)
    except (Exception, SystemExit) as error:
        raise Broken(f"importing {spec} raised {describe(error)}") from None


def describe(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def takes_dtype(fn):
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "dtype" or p.kind is p.VAR_KEYWORD for p in parameters)


class Subject:
    """An implementation under test: every call is guarded and every argument checked for mutation."""

    def __init__(self, label, module, dtype="float64"):
        self.label, self.module, self.dtype = label, module, dtype
        self.missing = [name for name in ("predict", "gradients", "train")
                        if not callable(getattr(module, name, None))]
        self.mutated = set()

    def call(self, name, *args, **kwargs):
        fn = getattr(self.module, name, None)
        if not callable(fn):
            raise Broken(f"the module has no {name}()")
        if takes_dtype(fn):
            kwargs["dtype"] = self.dtype
        # The module gets copies: a module that modifies its arguments is caught, and the kit's own
        # values stay as they were for the next call.
        passed = copy.deepcopy(args)
        try:
            result = fn(*passed, **kwargs)
        except (Exception, SystemExit) as error:
            raise Broken(f"{name}() raised {describe(error)}") from None
        if _changed(args, passed):
            self.mutated.add(name)
        return result

    def compute_dtype(self):
        """What the implementation says it computes in, or None if it does not say (asked once)."""
        if not hasattr(self, "_compute_dtype"):
            fn = getattr(self.module, "compute_dtype", None)
            try:
                self._compute_dtype = str(fn(self.dtype)) if callable(fn) else None
            except (Exception, SystemExit) as error:  # a sys.exit() inside is the module's failure too
                self._compute_dtype = f"unknown (compute_dtype() raised {describe(error)})"
        return self._compute_dtype

    def unit_roundoff(self):
        return UNIT_ROUNDOFF.get(self.compute_dtype(), UNIT_ROUNDOFF[self.dtype])


def _changed(before, after):
    try:
        return json.dumps(before, sort_keys=True, default=repr) != json.dumps(after, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return False


def as_vector(value, length, what):
    """A returned list of floats -> float64 array (length,), or Broken naming what is wrong with it."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise Broken(f"{what} is not a list of numbers ({describe(error)})") from None
    if array.shape != (length,):
        raise Broken(f"{what} has shape {array.shape}: expected ({length},)")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise Broken(f"{what}[{bad[0]}] is {array[bad[0]]}: expected a finite number")
    return array


def as_groups(value, hidden, n_in, what):
    """Returned params (or gradients) -> {group: float64 array}, or Broken naming the first problem."""
    if not isinstance(value, dict):
        raise Broken(f"{what} is {type(value).__name__}: expected a dict with keys W1, b1, W2, b2")
    missing = [k for k in GROUPS if k not in value]
    if missing:
        raise Broken(f"{what} has no {', '.join(missing)}: expected keys W1, b1, W2, b2")
    shapes = {"W1": (hidden, n_in), "b1": (hidden,), "W2": (hidden,), "b2": ()}
    groups = {}
    for k, shape in shapes.items():
        try:
            array = np.asarray(value[k], dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise Broken(f"{what} {k} is not numbers ({describe(error)})") from None
        if k == "b2" and array.shape == (1,):
            array = array.reshape(())
        if array.shape != shape:
            raise Broken(f"{what} {k} has shape {array.shape}: expected {shape}")
        bad = np.argwhere(~np.isfinite(array))
        if bad.size:
            raise Broken(f"{what} {element(k, tuple(bad[0]))} is {array[tuple(bad[0])]}: expected a finite number")
        groups[k] = array
    return groups


def element(group, index):
    return group + "".join(f"[{i}]" for i in index)


def as_train_result(value, hidden, n_in, epochs):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise Broken(f"train() returned {type(value).__name__}: expected (params, losses)")
    params, losses = value
    return (as_groups(params, hidden, n_in, "train() params"),
            as_vector(losses, epochs, "train() losses"))


def plain(groups):
    """{group: array} -> protocol params (plain floats), to feed a trained result back in."""
    return {k: (float(v) if k == "b2" else v.tolist()) for k, v in groups.items()}


# ---------------------------------------------------------------------------------------------
# Error bounds: what rounding alone can make two correct implementations disagree by


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class ErrorBounds:
    """First-order bounds on the rounding error of the forward pass, the gradients and one SGD step.

    Every bound is a coefficient of the unit roundoff u: the error is at most coefficient * u for an
    implementation that rounds to u. Rules (Higham ch. 3): a length-n dot product plus a bias is off
    by at most (n + 1) u sum |terms|, plus u per input rounded to the working dtype; a product or
    difference adds its operands' errors scaled by the other operand plus u |result|; a function
    f adds |f'| times its argument's error. Evaluated vectorized over samples on the reference's
    values, so a large weight or a saturated unit gets the wider bound it needs.
    """

    def __init__(self, params, X, T):
        with np.errstate(all="ignore"):
            self._compute({k: np.asarray(params[k], dtype=np.float64) for k in GROUPS},
                          np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64))

    def _compute(self, net, X, T):
        W1, b1, W2, b2 = net["W1"], net["b1"], net["W2"], net["b2"]
        n_in, hidden = W1.shape[1], W1.shape[0]
        self.net = net
        # Forward: h = sigmoid(W1 x + b1), p = sigmoid(W2 . h + b2)
        h = sigmoid(X @ W1.T + b1)                                          # (S, H)
        # n_in + 1 roundings in the sum with its bias, 2 more for rounding W1 and x to the working dtype
        e_z1 = (n_in + 3) * (np.abs(X) @ np.abs(W1).T + np.abs(b1))
        e_h = h * (1 - h) * e_z1 + SIGMOID_ROUNDINGS * h
        p = sigmoid(h @ W2 + b2)                                            # (S,)
        e_z2 = (hidden + 3) * (np.abs(h) @ np.abs(W2) + np.abs(b2)) + e_h @ np.abs(W2)
        e_p = p * (1 - p) * e_z2 + SIGMOID_ROUNDINGS * p
        # Backward, each line the derivative of the forward step above it
        dL_dp = -2.0 * (T - p)
        e_dp = 2 * e_p + 2 * np.abs(dL_dp)
        dL_dz2 = dL_dp * p * (1 - p)
        e_dz2 = p * (1 - p) * e_dp + np.abs(dL_dp * (1 - 2 * p)) * e_p + 4 * np.abs(dL_dz2)
        dL_dW2 = dL_dz2[:, None] * h
        e_dW2 = h * e_dz2[:, None] + np.abs(dL_dz2)[:, None] * e_h + 2 * np.abs(dL_dW2)
        dL_dh = dL_dz2[:, None] * W2
        e_dh = np.abs(W2) * e_dz2[:, None] + 2 * np.abs(dL_dh)
        dL_dz1 = dL_dh * h * (1 - h)
        e_dz1 = h * (1 - h) * e_dh + np.abs(dL_dh * (1 - 2 * h)) * e_h + 4 * np.abs(dL_dz1)
        dL_dW1 = dL_dz1[:, :, None] * X[:, None, :]
        e_dW1 = e_dz1[:, :, None] * np.abs(X)[:, None, :] + 2 * np.abs(dL_dW1)
        self.p, self.forward = p, e_p
        self.loss = (T - p) ** 2
        self.e_loss = np.abs(dL_dp) * e_p + 2 * self.loss
        self.grads = {"W1": dL_dW1, "b1": dL_dz1, "W2": dL_dW2, "b2": dL_dz2}
        self.gradients = {"W1": e_dW1, "b1": e_dz1, "W2": e_dW2, "b2": e_dz2}

    def step(self, lr, sample):
        """Bound of theta - lr g for one sample: lr times g's error, plus rounding lr, lr g and the difference."""
        return {k: lr * self.gradients[k][sample] + 2 * np.abs(self.net[k]) + 3 * lr * np.abs(self.grads[k][sample])
                for k in GROUPS}

    def epoch(self, lr):
        """The step bounds of every sample, summed: one epoch's worth at these params."""
        return {k: lr * self.gradients[k].sum(0) + 2 * len(self.p) * np.abs(self.net[k])
                + 3 * lr * np.abs(self.grads[k]).sum(0) for k in GROUPS}

    def mean_loss(self, e_params):
        """Bound of the dataset's mean loss when the params carry errors e_params (u-coefficients).

        |dL/dtheta| e_theta is how far a parameter error moves each sample's loss; the mean of N
        losses adds (N + 1) u of their sum.
        """
        moved = sum((np.abs(self.grads[k]).reshape(len(self.p), -1) @ np.ravel(e_params[k]))
                    for k in GROUPS)
        return float(np.mean(moved + self.e_loss) + (len(self.p) + 1) * np.mean(self.loss))


def add_bounds(a, b):
    return {k: a[k] + b[k] for k in GROUPS}


def zero_bounds(params):
    return {k: np.zeros(np.shape(params[k])) for k in GROUPS}


@dataclass
class Profile:
    """How differences are judged: the derived bounds scaled by safety, or fixed rtol/atol per check."""
    name: str
    dtype: str
    safety: float = SAFETY
    unit_roundoff: float | None = None   # None: from what each implementation computes in
    fixed: dict = field(default_factory=dict)  # check name (or "*") -> (rtol, atol)

    def describe(self):
        if "*" in self.fixed:
            rtol, atol = self.fixed["*"]
            return f"{self.name} (fixed: |diff| <= {atol:g} + {rtol:g} |reference|)"
        u = f"u = {self.unit_roundoff:.3g}" if self.unit_roundoff else f"u = {UNIT_ROUNDOFF[self.dtype]:.3g}"
        extra = f"; fixed for {', '.join(self.fixed)}" if self.fixed else ""
        return f"{self.name} (derived bounds x {self.safety:g}, {u} + reference u = 2^-53{extra})"

    def tolerance(self, check, reference, coefficient, u_subject, u_reference=UNIT_ROUNDOFF["float64"]):
        """Elementwise tolerance: fixed rtol/atol if the profile sets one for this check, else derived.

        Both sides round, so the derived tolerance is the bound at the subject's u plus the bound
        at the reference's u (hand: float64).
        """
        fixed = self.fixed.get(check, self.fixed.get("*"))
        if fixed is not None:
            rtol, atol = fixed
            return atol + rtol * np.abs(reference)
        u = self.unit_roundoff or u_subject
        return self.safety * (u + u_reference) * np.asarray(coefficient, dtype=np.float64)


def load_profile(dtype, path=None, rtol=None, atol=None):
    if (rtol is None) != (atol is None):
        raise ValueError("--rtol and --atol go together: give both, e.g. --rtol 1e-6 --atol 1e-9")
    if path is not None and rtol is not None:
        raise ValueError("give either --profile FILE or --rtol/--atol, not both")
    if rtol is not None:
        if not (rtol >= 0 and atol >= 0 and math.isfinite(rtol) and math.isfinite(atol)):
            raise ValueError(f"--rtol {rtol} --atol {atol}: expected finite numbers >= 0")
        return Profile("user", dtype, fixed={"*": (rtol, atol)})
    if path is None:
        return Profile(dtype, dtype)
    if not Path(path).is_file():
        raise ValueError(f"--profile {path}: no such file: give a JSON file such as {{\"safety\": 8}}")
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"--profile {path} is not JSON ({error.msg} at line {error.lineno}): "
                         "see the README's tolerance-profile example") from None
    if not isinstance(data, dict):
        raise ValueError(f"--profile {path}: expected a JSON object like {{\"safety\": 8}}")
    unknown = set(data) - {"name", "safety", "unit_roundoff", "checks"}
    if unknown:
        raise ValueError(f"--profile {path} has unknown keys {sorted(unknown)}: "
                         "expected name, safety, unit_roundoff, checks")
    profile = Profile(str(data.get("name", Path(path).stem)), dtype)
    for key in ("safety", "unit_roundoff"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"--profile {path}: {key} is {value!r}: expected a number > 0")
            setattr(profile, key, float(value))
    for check, tol in data.get("checks", {}).items():
        if check not in CHECKS[1:-1] and check != "*":
            raise ValueError(f"--profile {path}: unknown check {check!r}: choose from {', '.join(CHECKS[1:-1])}")
        if not isinstance(tol, dict) or set(tol) != {"rtol", "atol"}:
            raise ValueError(f"--profile {path}: checks.{check} must be {{\"rtol\": R, \"atol\": A}}")
        profile.fixed[check] = (float(tol["rtol"]), float(tol["atol"]))
    return profile


# ---------------------------------------------------------------------------------------------
# The reference, computed once per process


_CACHE = {}


def cached(compute, *args):
    """compute(*args) once per process: the reference is deterministic, so its results are reused
    across checks and across the implementations checked in one run (the test suite)."""
    key = (compute.__name__, json.dumps(args))
    if key not in _CACHE:
        _CACHE[key] = compute(*args)
    return _CACHE[key]


def bounds_at(hidden, seed, task):
    X, T, _ = dataset(task)
    return ErrorBounds(init_params(N_IN, hidden, seed), X, T)


def reference_trajectory(params, X, T, lr, epochs):
    """The reference's params after each epoch, by chained one-epoch runs -> [(params, loss)].

    Each run starts from the last one's params and hand keeps no other state, so this is
    exactly hand.train's single run, recorded at every epoch.
    """
    train = impls.get("hand").train
    records = []
    for _ in range(epochs):
        params, losses = train(params, X, T, lr, 1)
        records.append((params, losses[0]))
    return records


def train_bound(params, X, T, lr, epochs):
    """u-coefficients for a training run: per-step bounds summed along the reference's trajectory.

    Rounding errors of every step are added up, so the bound grows linearly with the steps; it
    does not model the dynamics amplifying or damping an error. -> (params bound, [loss bound per epoch]).
    """
    e_params = zero_bounds(params)
    e_losses = []
    bounds = ErrorBounds(params, X, T)
    for params_after, _ in cached(reference_trajectory, params, X, T, lr, epochs):
        # One epoch's steps all bounded at the epoch's starting params: the params move little
        # within an epoch at lr 0.1, and the bound is a coefficient, not a tight value.
        e_params = add_bounds(e_params, bounds.epoch(lr))
        bounds = ErrorBounds(params_after, X, T)
        e_losses.append(bounds.mean_loss(e_params))
    return e_params, e_losses


# ---------------------------------------------------------------------------------------------
# The conformance checks


@dataclass
class Result:
    """One check: how many cases ran, the worst difference against its tolerance, what failed."""
    name: str
    status: str = "pass"            # "pass", "FAIL" or "not run"
    cases: int = 0
    diff: float | None = None       # at the element closest to (or furthest past) its tolerance
    tol: float | None = None
    where: str = ""
    ratio: float = -1.0
    problems: list = field(default_factory=list)
    identical: bool | None = None   # every compared number equal, bit for bit
    errors: int = 0                 # cases that could not run: listed first in problems

    def fail(self, problem, could_not_run=False):
        self.status = "FAIL"
        # A case that could not run says more about a module than one more differing number: first.
        if could_not_run:
            self.problems.insert(self.errors, problem)
            self.errors += 1
        else:
            self.problems.append(problem)

    def observe(self, case, labelled):
        """labelled: [(label, actual, reference, tolerance)] arrays; fails the case at its worst element."""
        self.cases += 1
        worst = None
        for label, actual, ref, tol in labelled:
            diff = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(ref, dtype=np.float64))
            tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), diff.shape)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(diff == 0, 0.0, diff / tol)
            index = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()
            name = label(*index) if callable(label) else element(label, index)
            candidate = (float(ratio[index]), name, float(diff[index]), float(tol[index]))
            if worst is None or candidate[0] > worst[0]:
                worst = candidate
        ratio, where, diff, tol = worst
        self.identical = self.identical is not False and ratio == 0
        if ratio > self.ratio:
            self.ratio, self.diff, self.tol, self.where = ratio, diff, tol, f"{where}, {case}"
        if ratio > 1:
            self.fail(f"{case}: {where} differs by {diff:.3g} > tolerance {tol:.3g}")

    def broken(self, case, error):
        self.cases += 1
        self.fail(f"{case}: {error}", could_not_run=True)


def groups_of(params):
    return {k: np.asarray(params[k], dtype=np.float64) for k in GROUPS}


def labelled_groups(actual, ref, tol):
    return [(k, actual[k], ref[k], tol[k]) for k in GROUPS]


def samples(hidden, seed, X):
    if (hidden, seed) == PARAM_SETS[0]:
        return range(len(X))
    return range(min(SAMPLES_OTHER_SETS, len(X)))


def check_protocol(subject):
    result = Result("protocol", cases=1)
    if subject.missing:
        result.fail(f"the module has no {', '.join(f'{n}()' for n in subject.missing)}: the protocol needs "
                    "predict(params, X), gradients(params, x, t) and train(params, X, T, lr, epochs)")
    dtype = subject.compute_dtype()
    found = [n for n in ("predict", "gradients", "train") if n not in subject.missing]
    result.where = (f"has {', '.join(found) or 'none of predict, gradients, train'}; "
                    + ("no compute_dtype()" if dtype is None else f"compute_dtype() -> {dtype}"))
    if dtype is not None and dtype not in UNIT_ROUNDOFF:
        result.fail(f"compute_dtype({subject.dtype!r}) returned {dtype!r}: expected 'float64' or 'float32'")
    return result


def needs(result, subject, *names):
    missing = [n for n in names if n in subject.missing]
    if missing:
        result.status = "not run"
        result.problems.append(f"the module has no {', '.join(n + '()' for n in missing)}")
        return False
    return True


def check_forward(subject, profile):
    result = Result("forward")
    if not needs(result, subject, "predict"):
        return result
    hand = impls.get("hand")
    for hidden, seed in PARAM_SETS:
        for task in TASKS:
            case = f"H={hidden} seed={seed} {task}"
            params = init_params(N_IN, hidden, seed)
            X, T, _ = dataset(task)
            bounds = cached(bounds_at, hidden, seed, task)
            ref = np.asarray(hand.predict(params, X))
            try:
                p = as_vector(subject.call("predict", params, X), len(X), "predict()")
            except Broken as error:
                result.broken(case, error)
                continue
            tol = profile.tolerance("forward", ref, bounds.forward, subject.unit_roundoff())
            result.observe(case, [(lambda s: f"p of sample {s}", p, ref, tol)])
    return result


def check_gradients(subject, profile):
    result = Result("gradients")
    if not needs(result, subject, "gradients"):
        return result
    hand = impls.get("hand")
    for hidden, seed in PARAM_SETS:
        for task in TASKS:
            params = init_params(N_IN, hidden, seed)
            X, T, _ = dataset(task)
            bounds = cached(bounds_at, hidden, seed, task)
            for s in samples(hidden, seed, X):
                x, t = X[s], T[s]
                case = f"H={hidden} seed={seed} {task} sample {s}"
                ref = groups_of(hand.gradients(params, x, t))
                try:
                    g = as_groups(subject.call("gradients", params, x, t), hidden, N_IN, "gradients()")
                except Broken as error:
                    result.broken(case, error)
                    continue
                tol = {k: profile.tolerance("gradients", ref[k], bounds.gradients[k][s], subject.unit_roundoff())
                       for k in GROUPS}
                result.observe(case, labelled_groups(g, ref, tol))
    return result


def check_sgd_step(subject, profile, lr):
    """One SGD step = train on one sample for one epoch: the update, apart from the gradient."""
    result = Result("sgd-step")
    if not needs(result, subject, "train"):
        return result
    hand = impls.get("hand")
    for hidden, seed in PARAM_SETS:
        for task in TASKS:
            params = init_params(N_IN, hidden, seed)
            X, T, _ = dataset(task)
            bounds = cached(bounds_at, hidden, seed, task)
            for s in samples(hidden, seed, X):
                x, t = X[s], T[s]
                case = f"H={hidden} seed={seed} {task} sample {s}"
                ref_params, ref_losses = hand.train(params, [x], [t], lr, 1)
                e_step = bounds.step(lr, s)
                e_loss = ErrorBounds(ref_params, [x], [t]).mean_loss(e_step)
                try:
                    got, losses = as_train_result(subject.call("train", params, [x], [t], lr=lr, epochs=1),
                                                  hidden, N_IN, 1)
                except Broken as error:
                    result.broken(case, error)
                    continue
                ref = groups_of(ref_params)
                u = subject.unit_roundoff()
                tol = {k: profile.tolerance("sgd-step", ref[k], e_step[k], u) for k in GROUPS}
                tol_loss = profile.tolerance("sgd-step", np.asarray(ref_losses), e_loss, u)
                result.observe(case, labelled_groups(got, ref, tol)
                               + [(lambda _: "loss after the step", losses, ref_losses, tol_loss)])
    return result


def check_train(subject, profile, name, runs, lr, epochs):
    result = Result(name)
    if not needs(result, subject, "train"):
        return result
    for hidden, seed, task in runs:
        case = f"H={hidden} seed={seed} {task} {epochs} epochs"
        params = init_params(N_IN, hidden, seed)
        X, T, _ = dataset(task)
        trajectory = cached(reference_trajectory, params, X, T, lr, epochs)
        ref_params, ref_losses = trajectory[-1][0], [loss for _, loss in trajectory]
        e_params, e_losses = cached(train_bound, params, X, T, lr, epochs)
        try:
            got, losses = as_train_result(subject.call("train", params, X, T, lr=lr, epochs=epochs),
                                          hidden, N_IN, epochs)
        except Broken as error:
            result.broken(case, error)
            continue
        ref = groups_of(ref_params)
        u = subject.unit_roundoff()
        tol = {k: profile.tolerance(name, ref[k], e_params[k], u) for k in GROUPS}
        tol_loss = profile.tolerance(name, np.asarray(ref_losses), e_losses, u)
        result.observe(case, labelled_groups(got, ref, tol)
                       + [(lambda e: f"loss after epoch {e + 1}", losses, ref_losses, tol_loss)])
    return result


def check_mutation(subject):
    result = Result("no-mutation", cases=1)
    if subject.mutated:
        result.fail(f"{', '.join(sorted(subject.mutated))}() modified the params or data passed in: "
                    "copy them first (the protocol leaves the caller's values untouched)")
    return result


def run_checks(subject, profile, epochs=FULL_EPOCHS, lr=LR):
    """Every check in CHECKS order -> [Result]. Never raises for anything the module does."""
    results = [check_protocol(subject)]
    results.append(check_forward(subject, profile))
    results.append(check_gradients(subject, profile))
    results.append(check_sgd_step(subject, profile, lr))
    short = [(hidden, seed, task) for hidden, seed in SHORT_SETS for task in TASKS]
    results.append(check_train(subject, profile, "train-short", short, lr, SHORT_EPOCHS))
    results.append(check_train(subject, profile, "train-full", [(9, 0, task) for task in TASKS], lr, epochs))
    results.append(check_mutation(subject))
    return results


# ---------------------------------------------------------------------------------------------
# The drift ledger: where two implementations part


def ulps(a, b, dtype="float64"):
    """How many representable dtype values lie between a and b (0 if equal; -0.0 and 0.0 are equal).

    The bit patterns of IEEE floats, read as sign-magnitude integers and mapped onto one ordered
    integer line, count the floats between two values.
    """
    int_type = {"float64": np.int64, "float32": np.int32}[dtype]
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)

    def ordered(x):
        i = x.view(int_type).astype(object)
        lowest = -(1 << (8 * x.itemsize - 1))
        return np.where(np.asarray(x.view(int_type)) < 0, lowest - i, i)

    distance = np.abs(ordered(a) - ordered(b))
    return np.asarray(distance, dtype=np.float64)  # object ints -> floats: exact up to 2^53


@dataclass
class LedgerRow:
    epoch: int
    step: int | None
    groups: dict          # group -> {"abs", "rel", "ulps", "ratio"}
    loss: dict            # {"a", "b", "abs", "rel", "ulps", "ratio"}

    @property
    def ratio(self):
        return max([g["ratio"] for g in self.groups.values()] + [self.loss["ratio"]])

    def worst_group(self):
        return max(self.groups, key=lambda k: self.groups[k]["ratio"])


def protocol_trajectory(subject, params, X, T, lr, epochs, per_step):
    """[(epoch, step, params, dataset loss)] through the protocol only, and the Broken that cut it short.

    Per epoch: chained one-epoch train calls. Per step: within epoch e, train on the first k
    samples for one epoch from the params after epoch e - 1, and the dataset loss from predict.
    """
    hidden = len(params["W1"])
    records = []
    try:
        for epoch in range(1, epochs + 1):
            if per_step:
                for k in range(1, len(X) + 1):
                    got, _ = as_train_result(subject.call("train", params, X[:k], T[:k], lr=lr, epochs=1),
                                             hidden, N_IN, 1)
                    p = as_vector(subject.call("predict", plain(got), X), len(X), "predict()")
                    records.append((epoch, k, got, float(np.mean((np.asarray(T) - p) ** 2))))
            else:
                got, losses = as_train_result(subject.call("train", params, X, T, lr=lr, epochs=1), hidden, N_IN, 1)
                records.append((epoch, None, got, float(losses[0])))
            params = plain(records[-1][2])
    except Broken as error:
        # A run that blows up to NaN still has the steps before it, where it may already have gone wrong.
        at = f"epoch {epoch}" + (f" step {k}" if per_step else "")
        return records, Broken(f"{subject.label} at {at}: {error}")
    return records, None


def ledger(a, b, profile, task="is-one", hidden=9, seed=SEED, lr=LR, epochs=SHORT_EPOCHS, per_step=False):
    """Per-epoch (or per-step) differences of a from b -> (rows, first row out of budget or None).

    The budget is ErrorBounds summed step by step along b's trajectory with both sides' u.
    Broken if either implementation stops producing the trajectory before it leaves the budget.
    """
    params = init_params(N_IN, hidden, seed)
    X, T, _ = dataset(task)
    records_a, error_a = protocol_trajectory(a, params, X, T, lr, epochs, per_step)
    records_b, error_b = protocol_trajectory(b, params, X, T, lr, epochs, per_step)
    u_a, u_b = a.unit_roundoff(), b.unit_roundoff()
    # ULPs counted in the coarser of the two dtypes: a float32 result is a float32 value, and float64
    # ulps would make one float32 rounding look like half a billion.
    dtype = "float32" if max(u_a, u_b) > UNIT_ROUNDOFF["float64"] else "float64"
    e_params = zero_bounds(params)
    start = params
    rows, first = [], None
    for (epoch, step, got_a, loss_a), (_, _, got_b, loss_b) in zip(records_a, records_b):
        bounds = ErrorBounds(start, X, T)
        e_params = add_bounds(e_params, bounds.step(lr, step - 1) if per_step else bounds.epoch(lr))
        e_loss = ErrorBounds(plain(got_b), X, T).mean_loss(e_params)
        groups = {}
        for k in GROUPS:
            tol = profile.tolerance("train-short", got_b[k], e_params[k], u_a, u_b)
            groups[k] = _differences(got_a[k], got_b[k], tol, dtype)
        loss = _differences(loss_a, loss_b, profile.tolerance("train-short", np.asarray(loss_b), e_loss, u_a, u_b),
                            dtype)
        loss.update(a=loss_a, b=loss_b)
        rows.append(LedgerRow(epoch, step, groups, loss))
        if first is None and rows[-1].ratio > 1:
            first = rows[-1]
        start = plain(got_b)
    if first is None and (error_a or error_b):
        raise error_a or error_b
    return rows, first


def _differences(a, b, tol, dtype):
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    tol = np.broadcast_to(np.atleast_1d(tol), a.shape)
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(b))
        ratio = np.where(diff == 0, 0.0, diff / tol)
    return {"abs": float(diff.max()), "rel": float(rel.max()), "ulps": float(ulps(a, b, dtype).max()),
            "ratio": float(ratio.max())}


# ---------------------------------------------------------------------------------------------
# The environment fingerprint


def fingerprint(subject=None):
    """What produced the numbers: interpreter, library versions, BLAS and threads, device, dtype."""
    info = {"python": f"{platform.python_version()} ({platform.system()} {platform.machine()})"}
    for package, label in (("numpy", "NumPy"), ("torch", "PyTorch"), ("jax", "JAX")):
        try:
            info[label] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[label] = "not installed"
    info["BLAS"] = blas()
    devices = []
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        device = torch.get_default_device() if hasattr(torch, "get_default_device") else "cpu"
        devices.append(f"torch {device}, {plural(torch.get_num_threads(), 'thread')}")
    if "jax" in sys.modules:
        try:
            devices.append(f"jax {', '.join(str(d) for d in sys.modules['jax'].devices())}")
        except Exception as error:  # a broken JAX backend is worth a note, not a crash
            devices.append(f"jax: {describe(error)}")
    info["device"] = "; ".join(devices) or "cpu (no torch or jax loaded)"
    if subject is not None:
        said = subject.compute_dtype()
        info["computes in"] = (f"{said} (compute_dtype('{subject.dtype}'))" if said is not None
                               else "unknown: the module has no compute_dtype()" + inferred_dtype(subject))
    return info


def inferred_dtype(subject):
    """What a module without compute_dtype() seems to compute in: the narrowest bound its predictions fit."""
    X, _, _ = dataset("is-one")
    params = init_params()
    try:
        p = as_vector(subject.call("predict", params, X), len(X), "predict()")
    except Broken:
        return ""
    diff = np.abs(p - np.asarray(impls.get("hand").predict(params, X)))
    coefficient = cached(bounds_at, N_IN, 0, "is-one").forward
    for dtype in ("float64", "float32"):
        if np.all(diff <= SAFETY * (UNIT_ROUNDOFF[dtype] + UNIT_ROUNDOFF["float64"]) * coefficient):
            return f"; its predictions fit {dtype}"
    return "; its predictions fit neither the float64 nor the float32 bound"


def blas():
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return "; ".join(f"{p['internal_api']} {p.get('version') or ''} ({plural(p['num_threads'], 'thread')})".replace(" (", " (", 1)
                             for p in pools)
    try:
        config = np.show_config(mode="dicts")
        name = config["Build Dependencies"]["blas"]["name"]
        return f"{name} (threads unknown: pip install threadpoolctl to see them)"
    except Exception:  # show_config's layout differs across NumPy versions; the BLAS line is optional
        return "unknown"


def format_fingerprint(info):
    return "\n".join([
        f"environment: Python {info['python']}; NumPy {info['NumPy']}, PyTorch {info['PyTorch']}, JAX {info['JAX']}",
        f"             BLAS {info['BLAS']}; device {info['device']}"
        + (f"; computes in {info['computes in']}" if "computes in" in info else ""),
    ])


# ---------------------------------------------------------------------------------------------
# Reports and the command line


def format_results(results):
    lines = [f"  {'check':<14} {'result':<7} {'cases':>5}  {'worst diff':>10}  {'tolerance':>10}  where"]
    for r in results:
        diff = "-" if r.diff is None else f"{r.diff:.2e}"
        tol = "-" if r.tol is None else f"{r.tol:.2e}"
        where = "bitwise identical in every case" if r.identical and r.status == "pass" else r.where
        lines.append(f"  {r.name:<14} {r.status:<7} {r.cases:>5}  {diff:>10}  {tol:>10}  {where}".rstrip())
        problems = grouped_errors(r.problems[:r.errors]) + r.problems[r.errors:]
        for problem in problems[:3]:
            lines.append(f"      {problem}")
        if len(problems) > 3:
            lines.append(f"      ... and {len(problems) - 3} more")
    return "\n".join(lines)


def grouped_errors(problems):
    """'case: error' lines with the same error folded into one: 46 copies of one exception say nothing more."""
    cases = {}
    for problem in problems:
        case, _, error = problem.partition(": ")
        cases.setdefault(error, []).append(case)
    return [f"{names[0]}: {error}" + (f" (and {len(names) - 1} more case{'s' * (len(names) > 2)})" if len(names) > 1 else "")
            for error, names in cases.items()]


def first_divergence(subject, profile, results, lr, epochs):
    """Where the subject first leaves the budget against hand: per step over the short run, then per epoch."""
    hand = Subject("hand", impls.get("hand"), "float64")
    failing = [r for r in results if r.status != "pass"]
    if not failing or {"predict", "train"} & set(subject.missing):
        return None
    task = "is-one"
    for per_step, n in ((True, SHORT_EPOCHS), (False, epochs)):
        try:
            rows, first = ledger(subject, hand, profile, task=task, lr=lr, epochs=n, per_step=per_step)
        except Broken as error:
            return f"first divergence: could not trace the run ({error})"
        if first is not None:
            return "first divergence: " + describe_row(first, task, len(dataset(task)[0]))
    return "first divergence: none in the is-one trajectory (per step over 2 epochs, per epoch over the full run)"


def describe_row(row, task, n_samples):
    group = row.worst_group() if max(g["ratio"] for g in row.groups.values()) >= row.loss["ratio"] else "loss"
    g = row.groups[group] if group != "loss" else row.loss
    at = (f"epoch {row.epoch} step {row.step} (sample {row.step - 1} of {task})" if row.step is not None
          else f"epoch {row.epoch} of {task}")
    what = f"parameter group {group}" if group != "loss" else "the loss"
    return (f"{at}, {what}: |diff| {g['abs']:.3g} ({g['ulps']:.3g} ulps) is {g['ratio']:.3g} x its budget")


def check_main(args):
    profile = load_profile(args.dtype, args.profile, args.rtol, args.atol)
    epochs = QUICK_EPOCHS if args.quick else args.epochs
    try:
        label, module = load(args.check)
    except Broken as error:
        print(f"nn-rosetta conformance check: {args.check} against the hand-written reference")
        print(format_fingerprint(fingerprint()))
        results = [Result("protocol", "FAIL", 1, problems=[str(error)])]
        results += [Result(name, "not run", problems=["the module could not be imported"]) for name in CHECKS[1:]]
        print(format_results(results))
        print("result: FAIL (the module could not be imported)")
        return 1
    subject = Subject(label, module, args.dtype)
    print(f"nn-rosetta conformance check: {label} against the hand-written reference")
    print(f"profile {profile.describe()}; full run {epochs} epochs"
          + (" (--quick)" if args.quick else ""))
    # The header first, flushed: a full run of a slow implementation takes a minute before the table.
    print(format_fingerprint(fingerprint(subject)), flush=True)
    results = run_checks(subject, profile, epochs, args.lr)
    print(format_results(results))
    divergence = first_divergence(subject, profile, results, args.lr, epochs)
    if divergence:
        print(divergence)
    failed = [r.name for r in results if r.status != "pass"]
    if failed:
        print(f"result: FAIL: {len(failed)} of {len(results)} checks failed or could not run "
              f"(first: {failed[0]})")
        return 1
    print(f"result: pass: all {len(results)} checks")
    return 0


LEDGER_EPOCHS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def drift_main(args):
    profile = load_profile(args.dtype, args.profile, args.rtol, args.atol)
    specs = list(args.drift) + (["hand"] if len(args.drift) == 1 else [])
    if len(specs) != 2:
        raise ValueError(f"--drift takes one or two implementations, got {len(args.drift)}: e.g. --drift numpy torch")
    subjects = []
    for spec in specs:
        try:
            subjects.append(Subject(*load(spec), args.dtype))
        except Broken as error:
            print(f"drift ledger: {error}")
            return 1
    a, b = subjects
    epochs = args.epochs if args.epochs is not None else (SHORT_EPOCHS if args.per_step else FULL_EPOCHS)
    if epochs < 1:
        raise ValueError(f"--epochs {epochs}: expected a whole number >= 1")
    try:
        rows, first = ledger(a, b, profile, args.task, args.hidden, args.seed, args.lr, epochs, args.per_step)
    except Broken as error:
        print(f"drift ledger: {a.label} against {b.label}: could not trace the run: {error}")
        return 1
    n = len(dataset(args.task)[0])
    print(f"drift ledger: {a.label} against {b.label}, {args.task} task, H={args.hidden} seed={args.seed}, "
          f"lr {args.lr}, {epochs} epoch{'s' * (epochs != 1)}{', per step' if args.per_step else ''}")
    print(f"profile {profile.describe()}")
    print(format_fingerprint(fingerprint()))
    print(f"computes in: {a.label} {a.compute_dtype() or 'unknown'}, {b.label} {b.compute_dtype() or 'unknown'}")
    shown = rows if args.rows == "all" or args.per_step and len(rows) <= 3 * n else [
        r for r in rows if r.epoch in LEDGER_EPOCHS or r is rows[-1] or r is first
        or (args.per_step and r.epoch == 1 and r.step <= 3)]
    header = (f"  {'epoch':>5} {'step':>4}  {'group':<5} {'params |diff|':>13} {'rel':>9} {'ulps':>9}"
              f"  {'loss |diff|':>11} {'ulps':>9}  {'diff/budget':>11}")
    print(header)
    for row in shown:
        group = row.worst_group()
        g = row.groups[group]
        mark = "  <- first out of budget" if row is first else ""
        print(f"  {row.epoch:>5} {row.step if row.step is not None else '-':>4}  {group:<5} {g['abs']:>13.3g} "
              f"{g['rel']:>9.3g} {g['ulps']:>9.3g}  {row.loss['abs']:>11.3g} {row.loss['ulps']:>9.3g}"
              f"  {row.ratio:>11.3g}{mark}")
    if len(shown) < len(rows):
        print(f"  ({len(shown)} of {len(rows)} rows; --rows all prints every one, --json FILE writes them)")
    peak = {k: max(r.groups[k]["abs"] for r in rows) for k in GROUPS}
    print("largest |diff| per group over the run: " + ", ".join(f"{k} {v:.3g}" for k, v in peak.items())
          + f", loss {max(r.loss['abs'] for r in rows):.3g}")
    if args.json:
        write_json(args.json, {"a": a.label, "b": b.label, "task": args.task, "hidden": args.hidden,
                               "seed": args.seed, "lr": args.lr, "epochs": epochs, "per_step": args.per_step,
                               "profile": profile.describe(), "environment": fingerprint(),
                               "rows": [row.__dict__ for row in rows]})
        print(f"wrote {args.json}")
    if first is None:
        print("result: within budget at every " + ("step" if args.per_step else "epoch"))
        return 0
    print("result: first out of budget at " + describe_row(first, args.task, n))
    return 1


def write_text(path, text):
    """Write whole or not at all (store.write_atomic): never a half-written file."""
    store.write_atomic(path, text)


def write_json(path, data):
    write_text(path, json.dumps(finite(data), indent=1, allow_nan=False) + "\n")


def finite(value):
    """Strict JSON has no inf or NaN: they become the strings "inf", "-inf", "nan"."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def parser():
    p = Parser(prog="compare.py", description="The cross-check kit: --check, --drift, --golden.",
               help_command="compare.py --check hand --help")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="IMPL",
                      help="conformance check of IMPL (a .py file, a dotted module, or hand/numpy/torch/jax)")
    mode.add_argument("--drift", nargs="+", metavar="IMPL",
                      help="drift ledger of IMPL A against IMPL B (default hand)")
    mode.add_argument("--golden", nargs="+", metavar="ACTION",
                      help="'write [FILE]' regenerates the golden trace, 'verify [FILE]' checks --impl against it")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="dtype asked of the implementation; picks the tolerance profile (default float64)")
    p.add_argument("--profile", metavar="FILE", help="JSON tolerance profile (see the README)")
    p.add_argument("--rtol", type=float, help="fixed tolerance for every check: |diff| <= atol + rtol |reference|")
    p.add_argument("--atol", type=float)
    p.add_argument("--lr", type=float, default=LR, help="learning rate (default 0.1)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"--check: epochs of the full run (default {FULL_EPOCHS}); --drift: epochs traced")
    p.add_argument("--quick", action="store_true", help=f"--check: full run of {QUICK_EPOCHS} epochs")
    p.add_argument("--per-step", action="store_true", help="--drift: one row per SGD step, not per epoch")
    p.add_argument("--task", choices=TASKS, default="is-one", help="--drift: task (default is-one)")
    p.add_argument("--hidden", type=int, default=9, help="--drift: hidden units H (default 9)")
    p.add_argument("--seed", type=int, default=SEED, help=f"--drift: seed of the initial params (default {SEED}, the shared one)")
    p.add_argument("--rows", choices=("some", "all"), default="some", help="--drift: rows to print")
    p.add_argument("--json", metavar="FILE", help="--drift: write every row to FILE")
    p.add_argument("--impl", default="hand", help="--golden verify: implementation to verify (default hand)")
    return p


def main(argv):
    args = parser().parse_args(argv)
    if args.lr <= 0 or not math.isfinite(args.lr):
        raise ValueError(f"--lr {args.lr}: expected a positive number such as 0.1")
    if args.hidden < 1:
        raise ValueError(f"--hidden {args.hidden}: expected a whole number >= 1")
    if args.check is not None:
        if args.epochs is None:
            args.epochs = FULL_EPOCHS
        if args.epochs < 1:
            raise ValueError(f"--epochs {args.epochs}: expected a whole number >= 1")
        return check_main(args)
    if args.drift is not None:
        if args.json:  # checked before the run, so a bad path fails now and not after it
            store.check_file_path(args.json, "--json")
        return drift_main(args)
    from tools import golden
    return golden.main(args)
