"""The four implementations of the 9-hidden-1 network, behind one public protocol.

    impl = impls.get("numpy")
    impl.predict(params, X)        -> list of floats, one per sample
    impl.gradients(params, x, t)   -> params-shaped dict of d(t - p)^2 / d(theta) for one sample
    impl.train(params, X, T, lr=0.1, epochs=1000)  -> (trained params, per-epoch mean losses)

Params are plain Python floats at the boundary (see shared/params.py); each implementation
converts inside and never modifies the caller's params.
"""
import importlib

KEYS = ("hand", "numpy", "torch", "jax")

# The package a key needs, and the extra of this project that installs it.
FRAMEWORKS = {"numpy": "numpy", "torch": "torch", "jax": "jax"}


class MissingFramework(ImportError):
    """An implementation whose framework is not installed; str() is the one line to show a user."""


def get(key):
    """The module for key in KEYS; MissingFramework if its framework is not installed."""
    if key not in KEYS:
        raise ValueError(f"unknown implementation {key!r}: choose from {', '.join(KEYS)}")
    try:
        return importlib.import_module(f"impls.nn_{key}")
    except ImportError as error:
        framework = FRAMEWORKS.get(key)
        if framework is None or (error.name or "").split(".")[0] in ("impls", "shared"):
            raise  # a fault of this project, not a missing framework: show it whole
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == framework:
            raise MissingFramework(f"{key}: not installed — pip install '.[{framework}]'") from None
        # Installed but broken, or missing something it needs: still one line, still the fix.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MissingFramework(f"{key}: cannot be imported ({reason}) — pip install '.[{framework}]'") from None


def available():
    """The keys whose framework imports here, in KEYS order."""
    found = []
    for key in KEYS:
        try:
            get(key)
        except MissingFramework:
            continue
        found.append(key)
    return found
