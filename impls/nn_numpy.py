"""The 9-hidden-1 network in NumPy: the hand-written maths vectorized, backprop by hand in matrix form.

    h = sigmoid(W1 x + b1)        W1: (H, n_in), b1: (H,)
    p = sigmoid(W2 . h + b2)      W2: (H,),      b2: scalar
    L = (t - p)^2                 per sample; training is per-sample SGD in dataset order

Every array may carry a leading axis K of stacked, independent networks (W1: (K, H, n_in)):
train_many uses it to train the ten one-vs-rest digit networks in one pass over the data.
"""
import numpy as np

from shared import validate


def to_native(params, dtype="float64"):
    return {k: np.array(v, dtype=dtype) for k, v in params.items()}


def to_plain(net):
    return {k: v.tolist() for k, v in net.items()}


def sigmoid(z):
    # 1 / (1 + exp(-z)) overflows (with a warning) for z << 0; exp(-|z|) never does.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def forward(net, x):
    """x: one sample (n_in,) or a batch (N, n_in) -> (h, p)."""
    W1, b1, W2, b2 = net["W1"], net["b1"], net["W2"], net["b2"]
    # .mT transposes the last two axes, so stacked networks (K, H, n_in) work too. A pre-activation
    # may overflow to +-inf: sigmoid(+-inf) is exactly the limit, so that overflow is no warning.
    with np.errstate(over="ignore"):
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
    return np.stack([mean_loss({k: v[i] for k, v in net.items()}, X, T[:, i]) for i in range(T.shape[1])])


def backward(net, x, t):
    """dL/dtheta for one sample, by the chain rule in matrix form: each step names the forward step it differentiates."""
    h, p = forward(net, x)
    # L = (t - p)^2                            ->  dL/dp = -2 (t - p)
    dL_dp = -2.0 * (t - p)
    # p = sigmoid(z2), sigmoid' = p (1 - p)    ->  dL/dz2
    dL_dz2 = dL_dp * p * (1.0 - p)
    # z2 = W2 . h + b2                         ->  dL/dW2 = dL/dz2 h, dL/db2 = dL/dz2, dL/dh = dL/dz2 W2
    dL_dW2 = dL_dz2[..., None] * h
    dL_db2 = dL_dz2
    dL_dh = dL_dz2[..., None] * net["W2"]
    # h = sigmoid(z1)                          ->  dL/dz1 = dL/dh h (1 - h)
    dL_dz1 = dL_dh * h * (1.0 - h)
    # z1 = W1 x + b1                           ->  dL/dW1 = outer(dL/dz1, x), dL/db1 = dL/dz1
    dL_dW1 = dL_dz1[..., None] * x
    dL_db1 = dL_dz1
    return {"W1": dL_dW1, "b1": dL_db1, "W2": dL_dW2, "b2": dL_db2}


def sgd_step(net, x, t, lr):
    """theta <- theta - lr dL/dtheta, every gradient computed before any parameter moves."""
    g = backward(net, x, t)
    return {k: net[k] - lr * g[k] for k in net}


def predict(params, X, dtype="float64"):
    validate.check_predict(params, X, dtype)
    net = to_native(params, dtype)
    return forward(net, np.array(X, dtype=dtype))[1].tolist()


def gradients(params, x, t, dtype="float64"):
    validate.check_gradients(params, x, t, dtype)
    net = to_native(params, dtype)
    return to_plain(backward(net, np.array(x, dtype=dtype), np.array(t, dtype=dtype)))


def fit(net, X, T, lr, epochs):
    """T: (N,) for one network, (N, K) for K stacked networks; losses[e] has one value per network."""
    losses = []
    for _ in range(epochs):
        for x, t in zip(X, T):
            net = sgd_step(net, x, t, lr)
        losses.append(mean_loss(net, X, T).tolist())
    return net, losses


def train(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
    """Per-sample SGD in dataset order -> (trained params, losses[e] = mean (t - p)^2 after epoch e)."""
    validate.check_train(params, X, T, lr, epochs, dtype)
    net, losses = fit(to_native(params, dtype), np.array(X, dtype=dtype), np.array(T, dtype=dtype), lr, epochs)
    return to_plain(net), losses


def train_many(networks, X, targets, lr=0.1, epochs=1000, dtype="float64"):
    """Independent networks on the same X, network k on targets[k] (one-vs-rest) -> [(params, losses)].

    Fast path: the networks are stacked on a leading axis and trained in one pass, so each
    step costs one set of NumPy calls for all of them instead of one set each.
    """
    validate.check_train_many(networks, X, targets, lr, epochs, dtype)
    stacked = to_native({k: [params[k] for params in networks] for k in networks[0]}, dtype)
    T = np.array(targets, dtype=dtype).T  # (N, K): row s holds every network's target for sample s
    net, losses = fit(stacked, np.array(X, dtype=dtype), T, lr, epochs)
    plain = to_plain(net)
    return [({k: v[i] for k, v in plain.items()}, [epoch[i] for epoch in losses])
            for i in range(len(networks))]


def compute_dtype(dtype="float64"):
    return str(np.zeros(1, dtype=dtype).dtype)
