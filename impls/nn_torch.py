"""The 9-hidden-1 network in PyTorch: tensors that autograd tracks, loss.backward(), torch.optim.SGD.

    h = sigmoid(W1 x + b1)        W1: (H, n_in), b1: (H,)
    p = sigmoid(W2 . h + b2)      W2: (H,),      b2: scalar
    L = (t - p)^2                 per sample; training is per-sample SGD in dataset order

Every tensor may carry a leading axis K of stacked, independent networks (W1: (K, H, n_in)):
train_many uses it to train the ten one-vs-rest digit networks in one pass over the data.
"""
import contextlib
import functools

import torch
from torch.fx.experimental.proxy_tensor import make_fx

from shared import validate

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def to_native(params, dtype="float64"):
    # Leaf tensors with requires_grad: loss.backward() fills each one's .grad.
    return {k: torch.tensor(validate.plain(v), dtype=DTYPES[dtype], requires_grad=True) for k, v in params.items()}


def to_plain(net):
    return {k: v.detach().tolist() for k, v in net.items()}


def sigmoid(z):
    # torch.sigmoid is stable for any z: no overflow at z = -1000.
    return torch.sigmoid(z)


def forward(net, x):
    """x: one sample (n_in,) or a batch (N, n_in) -> (h, p)."""
    W1, b1, W2, b2 = net["W1"], net["b1"], net["W2"], net["b2"]
    # .mT transposes the last two axes, so stacked networks (K, H, n_in) work too.
    h = sigmoid(x @ W1.mT + b1)
    # (h * W2).sum(-1) rather than h @ W2: it also pairs each stacked network with its own W2.
    p = sigmoid((h * W2).sum(-1) + b2)
    return h, p


def loss(net, x, t):
    _, p = forward(net, x)
    return (t - p) ** 2


def mean_loss(net, X, T):
    """Mean (t - p)^2 over the dataset; one value per network when they are stacked (T: (N, K))."""
    if T.ndim == 1:
        return loss(net, X, T).mean()
    return torch.stack([mean_loss({k: v[i] for k, v in net.items()}, X, T[:, i]) for i in range(T.shape[1])])


def backward(net, x, t):
    """dL/dtheta for one sample by autograd: backward() walks back through what forward() recorded."""
    for w in net.values():
        w.grad = None  # .backward() adds to .grad; start each sample from nothing
    # .sum(): stacked networks give one loss each; each network's gradient sees only its own.
    loss(net, x, t).sum().backward()
    return {k: w.grad for k, w in net.items()}


def sgd_step(net, x, t, optimizer):
    """theta <- theta - lr dL/dtheta, every gradient computed before any parameter moves."""
    # backward() has already cleared and refilled every .grad, the job optimizer.zero_grad() usually does.
    backward(net, x, t)
    optimizer.step()  # PyTorch updates the tensors in place; hand, NumPy and JAX return new ones
    return net


def predict(params, X, dtype="float64"):
    validate.check_predict(params, X, dtype)
    net = to_native(params, dtype)
    with torch.no_grad():
        return forward(net, torch.tensor(validate.plain(X), dtype=DTYPES[dtype]))[1].tolist()


def gradients(params, x, t, dtype="float64"):
    validate.check_gradients(params, x, t, dtype)
    net = to_native(params, dtype)
    return to_plain(backward(net, torch.tensor(validate.plain(x), dtype=DTYPES[dtype]), torch.tensor(t, dtype=DTYPES[dtype])))


def fit(net, X, T, lr, epochs):
    """T: (N,) for one network, (N, K) for K stacked networks; losses[e] has one value per network."""
    optimizer = torch.optim.SGD(net.values(), lr=lr)
    losses = []
    for _ in range(epochs):
        for x, t in zip(X, T):
            sgd_step(net, x, t, optimizer)
        with torch.no_grad():
            losses.append(mean_loss(net, X, T).tolist())
    return net, losses


def train(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
    """Per-sample SGD in dataset order -> (trained params, losses[e] = mean (t - p)^2 after epoch e)."""
    validate.check_train(params, X, T, lr, epochs, dtype)
    net, losses = fit(to_native(params, dtype), torch.tensor(validate.plain(X), dtype=DTYPES[dtype]),
                      torch.tensor(validate.plain(T), dtype=DTYPES[dtype]), lr, epochs)
    return to_plain(net), losses


def train_many(networks, X, targets, lr=0.1, epochs=1000, dtype="float64"):
    """Independent networks on the same X, network k on targets[k] (one-vs-rest) -> [(params, losses)].

    Fast path: the networks are stacked on a leading axis and trained in one pass, so each
    step costs one forward and one backward for all of them instead of one each.
    """
    validate.check_train_many(networks, X, targets, lr, epochs, dtype)
    return fit_stacked(fit, networks, X, targets, lr, epochs, dtype)


def fit_stacked(fit, networks, X, targets, lr, epochs, dtype):
    """The networks stacked on a leading axis, trained together by fit, and unstacked."""
    stacked = to_native({k: [params[k] for params in networks] for k in networks[0]}, dtype)
    T = torch.tensor(validate.plain(targets), dtype=DTYPES[dtype]).T  # (N, K): row s holds every network's target for sample s
    net, losses = fit(stacked, torch.tensor(validate.plain(X), dtype=DTYPES[dtype]), T, lr, epochs)
    plain = to_plain(net)
    return [({k: v[i] for k, v in plain.items()}, [epoch[i] for epoch in losses])
            for i in range(len(networks))]


def compute_dtype(dtype="float64"):
    return str(torch.zeros(1, dtype=DTYPES[dtype]).dtype).removeprefix("torch.")


# --- Fast path ---------------------------------------------------------------------------------
# The same per-sample SGD with less machinery around each step; `python compare.py --bench`
# measures what it buys. A step here costs PyTorch's fixed overheads, not arithmetic: each of its
# ~35 operations is dispatched on its own (~2 us each), autograd records the forward pass and
# walks it back, and optim.SGD adds its own bookkeeping. So the step is derived once and replayed:
# that removes the recording, the walk and the optimizer, not the dispatch.


def sgd_step_functional(net, x, t, lr):
    """sgd_step as a pure function of tensors: torch.func.grad has autograd derive dL/dtheta, as
    backward() does, and the update builds new tensors, as JAX's sgd_step does."""
    dL_dtheta = torch.func.grad(lambda net: loss(net, x, t).sum())(net)
    # Written out, not torch.add(w, g, alpha=-lr): TorchInductor folds that add into the outer
    # product's mm and drops alpha (pytorch/pytorch#196577), so compiled, W1 moved by +g at H = 1.
    return {k: w - lr * dL_dtheta[k] for k, w in net.items()}


def sgd_step_traced(net, x, t, lr):
    """One whole SGD step (forward, backward, update) traced once into a graph of plain tensor ops.

    make_fx records the ops that sgd_step_functional runs, for these shapes and this lr. Replaying
    the graph for each sample skips what eager autograd repeats every step: recording the graph and
    walking it back (about 1.3x this file's train, 1.5x the textbook loop, on the glyphs here). It is
    what torch.compile captures before it generates code.
    """
    return make_fx(functools.partial(sgd_step_functional, lr=lr))(net, x, t)


@contextlib.contextmanager
def one_thread():
    """PyTorch on one thread, the caller's thread count put back afterwards: tensors this small gain
    nothing from a pool, and on a busy machine every product waits for the pool's other thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit_fast(net, X, T, lr, epochs):
    """fit with sgd_step_traced, on one thread and under inference_mode (no autograd bookkeeping on
    any tensor: the gradient is already part of the traced graph)."""
    net = {k: w.detach() for k, w in net.items()}
    samples = list(zip(X.unbind(), T.unbind()))
    step = sgd_step_traced(net, *samples[0], lr)
    losses = []
    with one_thread(), torch.inference_mode():
        for _ in range(epochs):
            for x, t in samples:
                net = step(net, x, t)  # a new dict of new tensors, as JAX's sgd_step returns
            losses.append(mean_loss(net, X, T).tolist())
    return net, losses


def train_fast(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
    """train through fit_fast: the same protocol and the same results to rounding, in less time."""
    validate.check_train(params, X, T, lr, epochs, dtype)
    return fit_single(fit_fast, params, X, T, lr, epochs, dtype)


def fit_single(fit, params, X, T, lr, epochs, dtype):
    """train's conversions around another fit: params and data to tensors, the result back to floats."""
    net, losses = fit(to_native(params, dtype), torch.tensor(validate.plain(X), dtype=DTYPES[dtype]),
                      torch.tensor(validate.plain(T), dtype=DTYPES[dtype]), lr, epochs)
    return to_plain(net), losses


def train_many_fast(networks, X, targets, lr=0.1, epochs=1000, dtype="float64"):
    """train_many through fit_fast: the networks stacked, their steps traced once and replayed."""
    validate.check_train_many(networks, X, targets, lr, epochs, dtype)
    return fit_stacked(fit_fast, networks, X, targets, lr, epochs, dtype)


# --- Compiled path -----------------------------------------------------------------------------
# torch.compile goes past the fast path: it captures a run of SGD steps, each derived by autograd as
# above, and generates C++ for them (TorchInductor), so a step costs a few us and no Python. The
# price is compiling, once per shape and dtype: about 25 s the first time on a 2-core machine, a
# few seconds once Inductor's on-disk cache holds the result. So it sits beside the fast path, for runs
# long enough to pay that back (python compare.py --bench), and it needs a C++ compiler.

# SGD steps per compiled call: a glyph epoch whole. On the digits (cold cache, 2 cores) 9 compiled in
# 13 s and trained in 180 ms, 18 in 12 s and 150 ms, 36 in 32 s and 167 ms: longer compiles slower, no faster.
CHUNK = 18
# Dynamo compiles sgd_steps anew for each shape and dtype and keeps at most 8 versions of one
# function; past that a fullgraph compile raises. A test suite or a sweep over widths needs more, so
# the limit is raised, only while fit_compiled runs: other torch.compile users keep PyTorch's.
RECOMPILE_LIMIT = 64


def sgd_steps(net, X, T, lr):
    """len(X) SGD steps in dataset order: torch.compile unrolls the loop into one program."""
    for x, t in zip(X.unbind(), T.unbind()):
        net = sgd_step_functional(net, x, t, lr)
    return net


def fit_compiled(net, X, T, lr, epochs):
    """fit_fast with an epoch's steps in compiled chunks of CHUNK samples. The samples that do not
    fill a last chunk go through sgd_step_traced, so any dataset size needs one compiled program."""
    net = {k: w.detach() for k, w in net.items()}
    size = min(CHUNK, len(X))
    whole = len(X) - len(X) % size
    chunks = list(zip(X[:whole].split(size), T[:whole].split(size)))
    tail = list(zip(X[whole:].unbind(), T[whole:].unbind()))
    steps = torch.compile(sgd_steps, fullgraph=True, dynamic=False)
    step = sgd_step_traced(net, X[0], T[0], lr)
    lr_input = torch.tensor(lr, dtype=X.dtype)  # an input, not a constant: a new lr reuses the compiled program
    losses = []
    with one_thread(), torch.inference_mode(), torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
        for _ in range(epochs):
            for X_chunk, T_chunk in chunks:
                net = steps(net, X_chunk, T_chunk, lr_input)
            for x, t in tail:
                net = step(net, x, t)
            losses.append(mean_loss(net, X, T).tolist())
    return net, losses


def train_compiled(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
    """train through fit_compiled: the same protocol and results to rounding; worth its compile time on long runs."""
    validate.check_train(params, X, T, lr, epochs, dtype)
    return fit_single(fit_compiled, params, X, T, lr, epochs, dtype)


def train_many_compiled(networks, X, targets, lr=0.1, epochs=1000, dtype="float64"):
    """train_many through fit_compiled: the ten digit networks stacked, their steps compiled."""
    validate.check_train_many(networks, X, targets, lr, epochs, dtype)
    return fit_stacked(fit_compiled, networks, X, targets, lr, epochs, dtype)
