"""Fixtures shared by the suite: every implementation by name, skipped with a reason when missing."""
import os
import shutil

import pytest

import impls

OTHERS = ("numpy", "torch", "jax")  # the implementations held to the hand-written one


def load(key):
    """The implementation module, or a skip that names the missing framework and its extra."""
    try:
        return impls.get(key)
    except impls.MissingFramework as missing:
        pytest.skip(str(missing))


def cxx_compiler():
    """The C++ compiler torch.compile would build with (CXX, else g++, c++ or clang++), or None."""
    return next(filter(None, map(shutil.which, filter(None, (os.environ.get("CXX"), "g++", "c++", "clang++")))), None)


@pytest.fixture(params=impls.KEYS)
def impl(request):
    """Each of the four implementations in turn; the test id names it."""
    return load(request.param)


@pytest.fixture(params=OTHERS)
def other(request):
    """numpy, torch and jax in turn: the ones compared with hand."""
    return load(request.param)


@pytest.fixture
def hand():
    return impls.get("hand")
