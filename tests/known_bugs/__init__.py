"""Known bugs: the typical mistakes in exactly this network, each a module that follows the protocol.

Each is the hand-written reference (impls/nn_hand.py) with one function rewritten and the wrong
line marked BUG, so the bug is the only difference. CATALOGUE names the first conformance check
(tools/check.py CHECKS order) that must catch it; tests/test_check.py holds the kit to that.

    python compare.py --check tests/known_bugs/mse_factor_dropped.py
"""
import importlib.util
import itertools

import impls

CATALOGUE = {
    "mse_factor_dropped": "gradients",
    "sigmoid_derivative_of_preactivation": "gradients",
    "w1_transposed": "forward",
    "update_before_all_gradients": "sgd-step",
    "gradients_accumulated": "train-short",
    "lr_applied_twice": "sgd-step",
    "lr_wrong_sign": "sgd-step",
    "hidden_bias_gradient_forgotten": "gradients",
}

_copies = itertools.count()


def reference_copy():
    """A private copy of impls/nn_hand.py: its functions call each other through the copy's own
    globals, so replacing one (copy.backward = ...) changes what predict, gradients and train use,
    and leaves the real reference untouched."""
    path = impls.get("hand").__file__
    spec = importlib.util.spec_from_file_location(f"_nn_hand_copy_{next(_copies)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
