"""Known bug: gradients accumulated across samples instead of reset (PyTorch without zero_grad):
each step applies the sum of every gradient so far. The first step of a run is still right."""
from tests.known_bugs import reference_copy

net = reference_copy()


def fit(params, X, T, lr, epochs):
    total = None
    losses = []
    for _ in range(epochs):
        for x, t in zip(X, T):
            g = net.backward(params, x, t)
            # BUG: total should start from zero at every step
            total = g if total is None else {
                "W1": [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(total["W1"], g["W1"])],
                "b1": [a + b for a, b in zip(total["b1"], g["b1"])],
                "W2": [a + b for a, b in zip(total["W2"], g["W2"])],
                "b2": total["b2"] + g["b2"],
            }
            params = {
                "W1": [[w - lr * dw for w, dw in zip(r, g_r)] for r, g_r in zip(params["W1"], total["W1"])],
                "b1": [b - lr * db for b, db in zip(params["b1"], total["b1"])],
                "W2": [w - lr * dw for w, dw in zip(params["W2"], total["W2"])],
                "b2": params["b2"] - lr * total["b2"],
            }
        losses.append(net.mean_loss(params, X, T))
    return params, losses


net.fit = fit
predict, gradients, train, compute_dtype = net.predict, net.gradients, net.train, net.compute_dtype
