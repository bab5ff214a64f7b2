"""Known bug: an update applied before all the gradients of the step were computed: W2 moves first,
and the hidden layer's gradient then flows back through the new W2 instead of the one the forward
pass used. gradients() is still right; only a training step shows it."""
from impls.nn_hand import forward
from tests.known_bugs import reference_copy


def sgd_step(net, x, t, lr):
    h, p = forward(net, x)
    dL_dz2 = -2.0 * (t - p) * p * (1.0 - p)
    W2 = [w - lr * dL_dz2 * h_j for w, h_j in zip(net["W2"], h)]
    b2 = net["b2"] - lr * dL_dz2
    dL_dz1 = [dL_dz2 * w * h_j * (1.0 - h_j) for w, h_j in zip(W2, h)]  # BUG: W2 already updated
    return {
        "W1": [[w - lr * d * x_i for w, x_i in zip(W1_j, x)] for W1_j, d in zip(net["W1"], dL_dz1)],
        "b1": [b - lr * d for b, d in zip(net["b1"], dL_dz1)],
        "W2": W2,
        "b2": b2,
    }


net = reference_copy()
net.sgd_step = sgd_step
predict, gradients, train, compute_dtype = net.predict, net.gradients, net.train, net.compute_dtype
