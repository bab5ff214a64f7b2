"""Known bug: the learning rate applied with the wrong sign: gradient ascent, theta + lr g."""
from tests.known_bugs import reference_copy

net = reference_copy()


def sgd_step(params, x, t, lr):
    g = net.backward(params, x, t)
    return {  # BUG: + where the step goes downhill with -
        "W1": [[w + lr * dw for w, dw in zip(r, g_r)] for r, g_r in zip(params["W1"], g["W1"])],
        "b1": [b + lr * db for b, db in zip(params["b1"], g["b1"])],
        "W2": [w + lr * dw for w, dw in zip(params["W2"], g["W2"])],
        "b2": params["b2"] + lr * g["b2"],
    }


net.sgd_step = sgd_step
predict, gradients, train, compute_dtype = net.predict, net.gradients, net.train, net.compute_dtype
