"""Handwritten digits for the one-vs-rest experiment: the bundled 8x8 set, its fixed split, USPS files.

    X, labels = load_bundled()            1,797 images of 64 pixels in [0, 1], labels 0..9
    train, test = split(len(X))           fixed index lists from the shared seed, never overlapping
    X, labels = load_usps("usps")         a LIBSVM-format USPS file the user already has (256 pixels)

Nothing is fetched from the network: the 8x8 digits are the CSV file that scikit-learn ships
inside its package (sklearn/datasets/data/digits.csv.gz, 65 integers a line: 64 pixels 0..16
row by row, then the label), read directly so that sklearn itself is never imported.
"""
import csv
import gzip
import importlib.util
import math
import os
import random

from shared.params import SEED

CLASSES = 10
BUNDLED_SIDE = 8   # the bundled images are 8 x 8
BUNDLED_MAX = 16   # their pixels are counts 0..16 (4x4 blocks of a 32x32 bitmap), so /16 gives [0, 1]
USPS_SIDE = 16     # USPS images are 16 x 16

# One image in three is held out: 599 test images and 1,198 training images for the bundled set.
TEST_FRACTION = 1 / 3

INSTALL = "pip install '.[digits]' (scikit-learn ships the 8x8 digits inside its package)"


def bundled_path():
    """Where scikit-learn keeps its copy of the digits, found without importing sklearn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise OSError(f"the bundled digits need scikit-learn, which is not installed: {INSTALL}")
    root = list(spec.submodule_search_locations)[0]
    return os.path.join(root, "datasets", "data", "digits.csv.gz")


def load_bundled():
    """The 1,797 scikit-learn digits -> (X: lists of 64 floats in [0, 1], labels: ints 0..9)."""
    path = bundled_path()
    if not os.path.exists(path):
        raise OSError(f"scikit-learn is installed but has no {path}: reinstall it, {INSTALL}")
    X, labels = [], []
    with gzip.open(path, "rt", newline="") as file:
        for row in csv.reader(file):
            if not row:
                continue
            values = [int(float(v)) for v in row]
            X.append([v / BUNDLED_MAX for v in values[:-1]])
            labels.append(values[-1])
    return X, labels
