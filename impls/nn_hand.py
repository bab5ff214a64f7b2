"""The 9-hidden-1 network by hand: pure Python, loops, every gradient derived with the chain rule.

    h = sigmoid(W1 x + b1)        W1: (H, n_in), b1: (H,)
    p = sigmoid(W2 . h + b2)      W2: (H,),      b2: scalar
    L = (t - p)^2                 per sample; training is per-sample SGD in dataset order

This is the reference the other three are held to. It computes in float64 (Python's float) only.
"""
import math

from shared import validate
from shared.params import copy_params


def to_native(params, dtype="float64"):
    # Python floats are this file's native type: float() also turns a NumPy float32 into a double,
    # where leaving it would make every product with it float32. New lists leave the caller's alone.
    return {k: validate.plain(v) for k, v in params.items()}


def to_plain(net):
    return copy_params(net)


def sigmoid(z):
    # exp of a large positive number overflows (math.exp raises); exp(-|z|) never does.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def forward(net, x):
    """One sample x (n_in floats) -> (h, p)."""
    W1, b1, W2, b2 = net["W1"], net["b1"], net["W2"], net["b2"]
    h = [sigmoid(sum(w * x_i for w, x_i in zip(W1_j, x)) + b1_j) for W1_j, b1_j in zip(W1, b1)]
    p = sigmoid(sum(w * h_j for w, h_j in zip(W2, h)) + b2)
    return h, p


def loss(net, x, t):
    _, p = forward(net, x)
    return (t - p) ** 2


def mean_loss(net, X, T):
    return sum(loss(net, x, t) for x, t in zip(X, T)) / len(X)


def backward(net, x, t):
    """dL/dtheta for one sample, by the chain rule: each step names the forward step it differentiates."""
    h, p = forward(net, x)
    # L = (t - p)^2                            ->  dL/dp = -2 (t - p)
    dL_dp = -2.0 * (t - p)
    # p = sigmoid(z2), sigmoid' = p (1 - p)    ->  dL/dz2
    dL_dz2 = dL_dp * p * (1.0 - p)
    # z2 = sum_j W2[j] h[j] + b2               ->  dL/dW2[j] = dL/dz2 h[j], dL/db2 = dL/dz2, dL/dh[j] = dL/dz2 W2[j]
    dL_dW2 = [dL_dz2 * h_j for h_j in h]
    dL_db2 = dL_dz2
    dL_dh = [dL_dz2 * w for w in net["W2"]]
    # h[j] = sigmoid(z1[j])                    ->  dL/dz1[j] = dL/dh[j] h[j] (1 - h[j])
    dL_dz1 = [dL_dh_j * h_j * (1.0 - h_j) for dL_dh_j, h_j in zip(dL_dh, h)]
    # z1[j] = sum_i W1[j][i] x[i] + b1[j]      ->  dL/dW1[j][i] = dL/dz1[j] x[i], dL/db1[j] = dL/dz1[j]
    dL_dW1 = [[dL_dz1_j * x_i for x_i in x] for dL_dz1_j in dL_dz1]
    dL_db1 = list(dL_dz1)
    return {"W1": dL_dW1, "b1": dL_db1, "W2": dL_dW2, "b2": dL_db2}


def sgd_step(net, x, t, lr):
    """theta <- theta - lr dL/dtheta, every gradient computed before any parameter moves."""
    g = backward(net, x, t)
    return {
        "W1": [[w - lr * dw for w, dw in zip(W1_j, g_j)] for W1_j, g_j in zip(net["W1"], g["W1"])],
        "b1": [b - lr * db for b, db in zip(net["b1"], g["b1"])],
        "W2": [w - lr * dw for w, dw in zip(net["W2"], g["W2"])],
        "b2": net["b2"] - lr * g["b2"],
    }


def predict(params, X, dtype="float64"):
    validate.check_predict(params, X, dtype)
    net = to_native(params, dtype)
    return [forward(net, x)[1] for x in validate.plain(X)]


def gradients(params, x, t, dtype="float64"):
    validate.check_gradients(params, x, t, dtype)
    return to_plain(backward(to_native(params, dtype), validate.plain(x), float(t)))


def fit(net, X, T, lr, epochs):
    losses = []
    for _ in range(epochs):
        for x, t in zip(X, T):
            net = sgd_step(net, x, t, lr)
        losses.append(mean_loss(net, X, T))
    return net, losses


def train(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
    """Per-sample SGD in dataset order -> (trained params, losses[e] = mean (t - p)^2 after epoch e)."""
    validate.check_train(params, X, T, lr, epochs, dtype)
    net, losses = fit(to_native(params, dtype), validate.plain(X), validate.plain(T), lr, epochs)
    return to_plain(net), losses


def train_many(networks, X, targets, lr=0.1, epochs=1000, dtype="float64"):
    """Independent networks on the same X, network k on targets[k] (one-vs-rest) -> [(params, losses)]."""
    validate.check_train_many(networks, X, targets, lr, epochs, dtype)
    X = validate.plain(X)
    results = []
    for params, T in zip(networks, targets):
        net, losses = fit(to_native(params, dtype), X, validate.plain(T), lr, epochs)
        results.append((to_plain(net), losses))
    return results


def compute_dtype(dtype="float64"):
    # Python floats are IEEE doubles: float32 is not available by hand, so float64 is what runs.
    return "float64"
