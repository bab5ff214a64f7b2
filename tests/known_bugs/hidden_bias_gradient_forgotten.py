"""Known bug: the bias gradient of the hidden layer forgotten: dL/db1 left at its initial zeros,
so b1 never trains."""
from impls.nn_hand import forward
from tests.known_bugs import reference_copy


def backward(net, x, t):
    h, p = forward(net, x)
    dL_dp = -2.0 * (t - p)
    dL_dz2 = dL_dp * p * (1.0 - p)
    dL_dW2 = [dL_dz2 * h_j for h_j in h]
    dL_dh = [dL_dz2 * w for w in net["W2"]]
    dL_dz1 = [dL_dh_j * h_j * (1.0 - h_j) for dL_dh_j, h_j in zip(dL_dh, h)]
    dL_dW1 = [[dL_dz1_j * x_i for x_i in x] for dL_dz1_j in dL_dz1]
    dL_db1 = [0.0] * len(h)  # BUG: dL/db1 = dL/dz1
    return {"W1": dL_dW1, "b1": dL_db1, "W2": dL_dW2, "b2": dL_dz2}


net = reference_copy()
net.backward = backward
predict, gradients, train, compute_dtype = net.predict, net.gradients, net.train, net.compute_dtype
