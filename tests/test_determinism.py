"""The same settings give the same numbers: run after run, with one thread or two, and without
touching the precision of anyone else's JAX code.

Bit for bit means repr() equal: repr round-trips a float exactly and tells -0.0 from 0.0.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import impls
from shared import glyphs
from shared.params import flatten, init_networks, init_params

ROOT = pathlib.Path(__file__).resolve().parents[1]
DTYPES = ("float64", "float32")
EPOCHS = 5  # enough SGD steps (90) for a difference in rounding to show and grow; cheap
# One thread against two may split a reduction (a dot product's sum) differently, which moves the
# last bit of a float64 (1e-16 relative) or a float32 (6e-8); five epochs of SGD on a smooth loss
# carry that along without blowing it up. So: 1e-12 in float64, 1e-5 in float32. On this
# machine all of them measure bit-identical; the tolerance is what a wider machine is allowed.
THREADS_RTOL = {"float64": 1e-12, "float32": 1e-5}


def run_all(impl, dtype, many=True):
    """Every protocol call on the is-one glyphs, as one repr string (train_many left out if not many)."""
    X, T, _ = glyphs.dataset("is-one")
    params = init_params()
    runs = [impl.predict(params, X, dtype),
            impl.gradients(params, X[3], T[3], dtype),
            impl.train(params, X, T, lr=0.5, epochs=EPOCHS, dtype=dtype)]
    if many:
        runs.append(impl.train_many(init_networks(2), X, [T, [1.0 - t for t in T]], lr=0.5, epochs=EPOCHS,
                                    dtype=dtype))
    return repr(runs)


def framework(key):
    """The implementation, or a skip naming the missing framework and its extra."""
    try:
        return impls.get(key)
    except impls.MissingFramework as missing:
        pytest.skip(str(missing))


def numbers(text):
    """The floats in a repr, in order, to compare within a tolerance."""
    flat = text.replace("(", " ").replace(")", " ").replace("[", " ").replace("]", " ").replace("{", " ")
    out = []
    for token in flat.replace("}", " ").replace(",", " ").replace(":", " ").split():
        try:
            out.append(float(token))
        except ValueError:
            continue  # a dict key such as 'W1'
    return out


def assert_close_runs(one, two, dtype, what):
    a, b = numbers(one), numbers(two)
    assert len(a) == len(b), f"{what}: the runs have different shapes"
    worst = max(range(len(a)), key=lambda i: abs(a[i] - b[i]) - THREADS_RTOL[dtype] * abs(b[i]))
    assert abs(a[worst] - b[worst]) <= THREADS_RTOL[dtype] * abs(b[worst]), \
        f"{what}: {a[worst]!r} with one thread, {b[worst]!r} with two"


# --- run after run ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_same_settings_same_bits_run_after_run(impl, dtype):
    # The second JAX run reuses the first's compiled program; a difference there would show too.
    first = run_all(impl, dtype)
    assert run_all(impl, dtype) == first


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_paths_beside_train_give_the_same_bits_run_after_run(dtype):
    from conftest import cxx_compiler  # here, not at the top: the JAX script below imports this file outside pytest
    impl = framework("torch")
    X, T, _ = glyphs.dataset("is-one")
    paths = [impl.train_fast]
    # The compiled path in float64, the dtype the bench runs it in (its program is shared with test_core's).
    if dtype == "float64" and cxx_compiler() is not None:
        paths.append(impl.train_compiled)
    for train in paths:
        first = repr(train(init_params(), X, T, lr=0.5, epochs=EPOCHS, dtype=dtype))
        assert repr(train(init_params(), X, T, lr=0.5, epochs=EPOCHS, dtype=dtype)) == first, train.__name__


def test_repr_comparison_can_see_one_bit():
    # What the test above relies on: a one-ulp change and a sign of zero both change the repr.
    assert repr([0.1]) != repr([float(np.nextafter(0.1, 1.0))]) and repr(0.0) != repr(-0.0)
    assert numbers(repr(({"W1": [[1.5, -2e-300]], "b2": 3.0}, [0.25]))) == [1.5, -2e-300, 3.0, 0.25]


# --- one thread against two -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_results_do_not_depend_on_blas_threads(dtype):
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="pip install threadpoolctl to set BLAS threads")
    impl = framework("numpy")
    with threadpoolctl.threadpool_limits(limits=1):
        one = run_all(impl, dtype)
    with threadpoolctl.threadpool_limits(limits=2):
        two = run_all(impl, dtype)
    assert_close_runs(one, two, dtype, "numpy")


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_results_do_not_depend_on_threads(dtype):
    impl = framework("torch")
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run_all(impl, dtype)
        torch.set_num_threads(2)
        two = run_all(impl, dtype)
    finally:
        torch.set_num_threads(before)
    assert_close_runs(one, two, dtype, "torch")


# XLA reads its thread settings once, when its CPU backend starts, so each setting gets a fresh
# Python. The same script also watches the process-wide 64-bit flag around import and use.
JAX_SCRIPT = """
import json, jax
flags = [jax.config.jax_enable_x64]
import impls
from shared.params import init_params
from tests.test_determinism import run_all
impl = impls.get("jax")
flags.append(jax.config.jax_enable_x64)
runs = {dtype: run_all(impl, dtype, many=False) for dtype in ("float64", "float32")}
flags.append(jax.config.jax_enable_x64)
flags.append(str(jax.numpy.zeros(1).dtype))
with impl.precision("float64"):  # did fit's loops compile whole (nn_jax.SMALL_LOOPS), or op by op?
    X = impl.array([[0.0] * 9] * 18, "float64")
    compiled = impl.fit.lower(impl.to_native(init_params(9, 9), "float64"), X, X[:, 0], 0.1, epochs=3).compile()
whole = "xla_cpu_small_call" in compiled.as_text()
print(json.dumps({"runs": runs, "flags": flags, "loops_compiled_whole": whole}))
"""
XLA_THREADS = {
    1: "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    2: "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2",
    # One thread, and XLA's own limit for compiling a loop whole (1 kB) instead of nn_jax's: the
    # caller's setting is kept, and the loops run op by op.
    "op by op": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 "
                "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1024",
}


@pytest.fixture(scope="module")
def jax_runs():
    """{threads: the script's output} for one and two XLA threads, the two Pythons run side by side."""
    framework("jax")
    started = {}
    for threads, flags in XLA_THREADS.items():
        env = {**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": str(ROOT), "JAX_ENABLE_X64": "0",
               "JAX_PLATFORMS": "cpu"}
        started[threads] = subprocess.Popen([sys.executable, "-c", JAX_SCRIPT], cwd=ROOT, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = {}
    for threads, process in started.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"XLA with {threads} thread(s) failed:\n{err[-2000:]}"
        outputs[threads] = json.loads(out.strip().splitlines()[-1])
    return outputs


@pytest.mark.parametrize("dtype", DTYPES)
def test_jax_results_do_not_depend_on_xla_threads(jax_runs, dtype):
    # train_many is left out of these fresh Pythons to keep them cheap: it runs the same compiled
    # fit under vmap, and the same-process test above covers its run-to-run bits.
    assert_close_runs(jax_runs[1]["runs"][dtype], jax_runs[2]["runs"][dtype], dtype, "jax")


def test_jax_loops_compiled_whole_agree_with_op_by_op(jax_runs):
    # nn_jax.SMALL_LOOPS changes how XLA runs the training loops, for speed: float64 keeps every
    # bit; float32 code generated for a whole loop may round a last bit differently.
    assert jax_runs[1]["loops_compiled_whole"] and not jax_runs["op by op"]["loops_compiled_whole"]
    assert jax_runs[1]["runs"]["float64"] == jax_runs["op by op"]["runs"]["float64"]
    assert_close_runs(jax_runs[1]["runs"]["float32"], jax_runs["op by op"]["runs"]["float32"], "float32", "jax")


def test_importing_and_using_jax_impl_leaves_64_bit_mode_off(jax_runs):
    # before import, after import, after predict/gradients/train/train_many in both dtypes,
    # and the dtype a fresh array of unrelated code gets.
    assert jax_runs[1]["flags"] == [False, False, False, "float32"]


# --- JAX's precision, inside this process --------------------------------------------------------
# jax_enable_x64 is one flag for the whole process. nn_jax switches it only inside its own calls
# (the jax.enable_x64 context), whichever way the caller has set it.

FLOAT64_RTOL = 1e-12  # float64 JAX against float64 hand: a few roundings of values of order 1
FLOAT32_RTOL = 1e-5  # float32 JAX against float64 hand: float32 rounds at 6e-8, a few steps deep


@pytest.fixture(params=[False, True], ids=["x64-off", "x64-on"])
def jax_with_x64(request):
    """(nn_jax, jax) with the process-wide flag set as some unrelated code chose, restored after."""
    impl = framework("jax")
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", request.param)
    try:
        yield impl, jax, request.param
    finally:
        jax.config.update("jax_enable_x64", before)


def jax_calls(impl, dtype):
    X, T, _ = glyphs.dataset("digit-value")
    params = init_params(hidden=3)
    return {
        "predict": lambda: impl.predict(params, X, dtype),
        "gradients": lambda: impl.gradients(params, X[1], T[1], dtype),
        "train": lambda: impl.train(params, X, T, lr=0.5, epochs=2, dtype=dtype),
        "train_many": lambda: impl.train_many(init_networks(2, hidden=3), X, [T, T], lr=0.5, epochs=2, dtype=dtype),
        "compute_dtype": lambda: impl.compute_dtype(dtype),
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_jax_impl_leaves_the_callers_precision_alone(jax_with_x64, dtype):
    impl, jax, x64 = jax_with_x64
    default = "float64" if x64 else "float32"
    for name, call in jax_calls(impl, dtype).items():
        call()
        assert jax.config.jax_enable_x64 is x64, f"{name}(dtype={dtype}) left jax_enable_x64 = {not x64}"
        fresh = (jax.numpy.zeros(1).dtype, jax.numpy.asarray(0.5).dtype, (jax.numpy.ones(2) / 3).dtype)
        assert all(str(d) == default for d in fresh), f"after {name}(dtype={dtype}) unrelated arrays are {fresh}"


def is_float32(value):
    return float(np.float32(value)) == value


def values_of(result):
    """Every float in a result, params in the protocol's order W1, b1, W2, b2 whatever the dict's order."""
    if isinstance(result, dict):
        return flatten(result)
    if isinstance(result, (list, tuple)):
        return [v for item in result for v in values_of(item)]
    return [result]


@pytest.mark.parametrize("dtype", DTYPES)
def test_jax_computes_in_the_dtype_asked_for(jax_with_x64, hand, dtype):
    # float32 asked: every number that comes back is a float32, and it is not hand's float64 answer.
    # float64 asked: it is hand's answer to 1e-12, which float32 (7 digits) could not reach.
    impl, _, _ = jax_with_x64
    assert impl.compute_dtype(dtype) == dtype
    for name, call in jax_calls(impl, dtype).items():
        if name == "compute_dtype":
            continue
        got = values_of(call())
        want = values_of(jax_calls(hand, "float64")[name]())
        assert len(got) == len(want)
        if dtype == "float32":
            assert all(is_float32(v) for v in got), f"{name}: float32 asked, a float64 came back"
            assert got != want, f"{name}: float32 asked, yet the float64 answer came back"
            rtol = FLOAT32_RTOL
        else:
            assert not all(is_float32(v) for v in got), f"{name}: float64 asked, only float32 values came back"
            rtol = FLOAT64_RTOL
        for g, w in zip(got, want):
            assert abs(g - w) <= rtol * abs(w) + rtol * 1e-3, f"{name} ({dtype}): {g!r}, hand says {w!r}"
