"""The 9-hidden-1 network in JAX: pure functions, jax.grad, jax.jit, training as two nested lax.scans.

    h = sigmoid(W1 x + b1)        W1: (H, n_in), b1: (H,)
    p = sigmoid(W2 . h + b2)      W2: (H,),      b2: scalar
    L = (t - p)^2                 per sample; training is per-sample SGD in dataset order

Parameters are a pytree (a dict of arrays) that every function takes and returns anew: JAX
arrays are immutable, so an SGD step builds new parameters where PyTorch updates in place.
train_many trains the ten one-vs-rest digit networks at once with jax.vmap over fit.
"""
import functools
import os

# XLA on the CPU runs a loop body one operation at a time (a dispatch each) unless the loop's data
# is small, when it compiles the whole loop into one native function. Its default limit, 1 kB, is
# below this network's float64 data (X alone is 1.3 kB); raising it trains to the same bits about
# 3x faster. The flag is a compile setting for the process, read when JAX first uses the CPU, so it
# is set here, before that. It changes speed, not float64 results (float32 may differ in a last
# bit); a caller's own xla_backend_extra_options is kept.
SMALL_LOOPS = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1000000000"
if "xla_backend_extra_options" not in os.environ.get("XLA_FLAGS", ""):
    # First: XLA stops reading flags at a word it does not know, and a caller's flags may hold one.
    os.environ["XLA_FLAGS"] = f"{SMALL_LOOPS} {os.environ.get('XLA_FLAGS', '')}".strip()

import jax
import jax.numpy as jnp
import numpy as np

from shared import validate


def precision(dtype):
    # JAX computes in float32 unless 64-bit mode is on, and the jax_enable_x64 flag is process-wide.
    # The jax.enable_x64 context switches it only while this file computes, so float64 is really
    # float64 here and any other JAX code in the process keeps the precision it chose.
    return jax.enable_x64(dtype == "float64")


def array(value, dtype):
    # jnp.asarray walks nested Python lists one element at a time (over a second for the digit
    # data); NumPy builds the array in one C loop and JAX takes it over whole.
    return jnp.asarray(np.asarray(value, dtype=dtype))


def to_native(params, dtype="float64"):
    return {k: array(v, dtype) for k, v in params.items()}


def to_plain(net):
    return {k: v.tolist() for k, v in net.items()}


def sigmoid(z):
    # jax.nn.sigmoid is stable for any z: no overflow at z = -1000.
    return jax.nn.sigmoid(z)


@jax.jit  # compiled as backward is, so predict and gradients round the forward pass alike
def forward(net, x):
    """One sample x (n_in,) -> (h, p). Written for one sample, as the maths is: jax.vmap makes
    the batched version where one is needed (mean_loss, predict), where NumPy and PyTorch
    write the batch axis into the formula. XLA also runs these matrix-vector products faster
    than the batched form inside the training loop (about 25% here)."""
    W1, b1, W2, b2 = net["W1"], net["b1"], net["W2"], net["b2"]
    h = sigmoid(W1 @ x + b1)
    p = sigmoid(W2 @ h + b2)
    return h, p


def loss(net, x, t):
    _, p = forward(net, x)
    return (t - p) ** 2


def mean_loss(net, X, T):
    # in_axes: the same net for every sample, one row of X and one entry of T at a time.
    return jax.vmap(loss, in_axes=(None, 0, 0))(net, X, T).mean()


@jax.jit  # called on its own by gradients(); inside fit's jit it is simply inlined
def backward(net, x, t):
    """dL/dtheta for one sample: jax.grad turns loss into the function that returns its gradient."""
    return jax.grad(loss)(net, x, t)


def sgd_step(net, x, t, lr):
    """theta <- theta - lr dL/dtheta, every gradient computed before any parameter moves."""
    g = backward(net, x, t)
    return jax.tree.map(lambda w, dw: w - lr * dw, net, g)


def predict(params, X, dtype="float64"):
    validate.check_predict(params, X, dtype)
    with precision(dtype):
        net = to_native(params, dtype)
        _, p = jax.vmap(forward, in_axes=(None, 0))(net, array(X, dtype))
        return p.tolist()


def gradients(params, x, t, dtype="float64"):
    validate.check_gradients(params, x, t, dtype)
    with precision(dtype):
        net = to_native(params, dtype)
        return to_plain(backward(net, array(x, dtype), array(t, dtype)))


@functools.partial(jax.jit, static_argnames="epochs")
def fit(net, X, T, lr, epochs):
    """jit compiles the whole run once; the inner scan is one epoch of SGD steps, the outer one all epochs."""
    def sample_step(net, xt):
        x, t = xt
        return sgd_step(net, x, t, lr), None

    def epoch_step(net, _):
        # unroll=2: two SGD steps per loop iteration halve XLA's per-iteration cost (measured ~15%)
        net, _ = jax.lax.scan(sample_step, net, (X, T), unroll=2)
        return net, mean_loss(net, X, T)

    return jax.lax.scan(epoch_step, net, length=epochs)


def train(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
    """Per-sample SGD in dataset order -> (trained params, losses[e] = mean (t - p)^2 after epoch e)."""
    validate.check_train(params, X, T, lr, epochs, dtype)
    with precision(dtype):
        net, losses = fit(to_native(params, dtype), array(X, dtype), array(T, dtype), lr, epochs)
        return to_plain(net), losses.tolist()


def train_many(networks, X, targets, lr=0.1, epochs=1000, dtype="float64"):
    """Independent networks on the same X, network k on targets[k] (one-vs-rest) -> [(params, losses)].

    jax.vmap maps fit over a leading axis of stacked networks and their targets: one compiled
    program trains them all, each exactly as train would.
    """
    validate.check_train_many(networks, X, targets, lr, epochs, dtype)
    with precision(dtype):
        stacked = to_native({k: [params[k] for params in networks] for k in networks[0]}, dtype)
        fit_all = jax.vmap(functools.partial(fit, epochs=epochs), in_axes=(0, None, 0, None))
        net, losses = fit_all(stacked, array(X, dtype), array(targets, dtype), lr)
        plain = to_plain(net)
        return [({k: v[i] for k, v in plain.items()}, losses[i].tolist()) for i in range(len(networks))]


def compute_dtype(dtype="float64"):
    # What JAX really computes in under this file's precision switch, read off an array, not assumed.
    with precision(dtype):
        return str(jnp.zeros(1, dtype=dtype).dtype)
