"""Known bug: W1 used transposed: W1[i][j] read as the weight from input j into hidden unit i.

With H = n_in = 9 the shapes fit and only the values are wrong; with any other H the indices run
off the end of a row or of the matrix (IndexError)."""
from impls.nn_hand import sigmoid
from tests.known_bugs import reference_copy


def forward(net, x):
    W1, b1, W2, b2 = net["W1"], net["b1"], net["W2"], net["b2"]
    # BUG: W1 is (H, n_in); the sum should run along row j, W1[j][i]
    h = [sigmoid(sum(W1[i][j] * x[i] for i in range(len(x))) + b1[j]) for j in range(len(b1))]
    p = sigmoid(sum(w * h_j for w, h_j in zip(W2, h)) + b2)
    return h, p


net = reference_copy()
net.forward = forward
predict, gradients, train, compute_dtype = net.predict, net.gradients, net.train, net.compute_dtype
