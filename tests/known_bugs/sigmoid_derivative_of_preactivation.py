"""Known bug: the sigmoid derivative taken on the wrong value: a (1 - a) is sigmoid' written in terms
of the activation a = sigmoid(z), but here it is fed the pre-activation z of the hidden layer."""
from impls.nn_hand import forward
from tests.known_bugs import reference_copy


def backward(net, x, t):
    h, p = forward(net, x)
    z1 = [sum(w * x_i for w, x_i in zip(W1_j, x)) + b1_j for W1_j, b1_j in zip(net["W1"], net["b1"])]
    dL_dp = -2.0 * (t - p)
    dL_dz2 = dL_dp * p * (1.0 - p)
    dL_dW2 = [dL_dz2 * h_j for h_j in h]
    dL_dh = [dL_dz2 * w for w in net["W2"]]
    dL_dz1 = [dL_dh_j * z1_j * (1.0 - z1_j) for dL_dh_j, z1_j in zip(dL_dh, z1)]  # BUG: h_j (1 - h_j)
    dL_dW1 = [[dL_dz1_j * x_i for x_i in x] for dL_dz1_j in dL_dz1]
    return {"W1": dL_dW1, "b1": list(dL_dz1), "W2": dL_dW2, "b2": dL_dz2}


net = reference_copy()
net.backward = backward
predict, gradients, train, compute_dtype = net.predict, net.gradients, net.train, net.compute_dtype
