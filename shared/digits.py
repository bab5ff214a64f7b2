"""Handwritten digits for the one-vs-rest experiment: the bundled 8x8 set, its fixed split, USPS files.

    X, labels = load_bundled()            1,797 images of 64 pixels in [0, 1], labels 0..9
    train, test = split(len(X))           fixed index lists from the shared seed, never overlapping
    X, labels = load_usps("usps")         a LIBSVM-format USPS file the user already has (256 pixels)

Nothing is fetched from the network: the 8x8 digits are the CSV file that scikit-learn ships
inside its package (sklearn/datasets/data/digits.csv.gz, 65 integers a line: 64 pixels 0..16
row by row, then the label), read directly so that sklearn itself is never imported.
"""
import bz2
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


def split(n, seed=SEED, test_fraction=TEST_FRACTION):
    """Indices 0..n-1 -> (train, test): a seeded draw of round(n * test_fraction) test images.

    Both lists keep the file's order, so training is per-sample SGD in the order the images
    come (the original trained on its file's first images in order); the draw only decides
    membership, and no index is in both.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"cannot split {n!r} images: expected at least 2, one to train on and one to test")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction is {test_fraction!r}: expected a number between 0 and 1")
    n_test = min(max(1, round(n * test_fraction)), n - 1)
    held_out = set(random.Random(seed).sample(range(n), n_test))
    train = [i for i in range(n) if i not in held_out]
    test = [i for i in range(n) if i in held_out]
    return train, test


def one_vs_rest(labels, classes=CLASSES):
    """targets[k][s] = 1.0 if image s shows digit k else 0.0: network k answers "is this my digit?"."""
    return [[1.0 if label == k else 0.0 for label in labels] for k in range(classes)]


# USPS in LIBSVM format: "<label> <index>:<value> ..." one image a line, indices 1..256 (1-based,
# row by row), values in [-1, 1] (-1 is the white background), absent indices meaning 0.
# Labels come in three conventions, and a file alone cannot always tell which:
#   "0-9"      the digit itself;
#   "1-10"     digit + 1, for tools whose classes start at 1: LIBSVM's "usps" / "usps.t" as we
#              understand them (not checked against the real file here: no download), OpenML's usps;
#   "10-is-0"  1..9 as they are and 10 for the digit 0 (SVHN's convention).
# With labels="auto": a 0 and no 10 -> "0-9"; a 10 and no 0 -> "1-10", the common USPS files';
# neither or both -> an error asking for the rule. A wrong rule shows as a shifted confusion matrix.
LABEL_RULES = ("auto", "0-9", "1-10", "10-is-0")


def _bad(path, line_no, problem):
    return ValueError(f"{path} line {line_no}: {problem} — expected LIBSVM lines "
                      f"'<label> <index>:<value> ...' with indices 1..{USPS_SIDE ** 2}")


def parse_libsvm(lines, path="<lines>", n_features=USPS_SIDE ** 2):
    """LIBSVM text lines -> (rows of n_features raw values, integer labels); blank and # lines skipped."""
    rows, labels = [], []
    for line_no, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        label_text, *pairs = text.split()
        try:
            label = float(label_text)
        except ValueError:
            raise _bad(path, line_no, f"label {label_text!r} is not a number") from None
        if not math.isfinite(label) or label != int(label):
            raise _bad(path, line_no, f"label {label_text!r} is not a whole number")
        row = [0.0] * n_features
        previous = 0
        for pair in pairs:
            index_text, colon, value_text = pair.partition(":")
            if not colon:
                raise _bad(path, line_no, f"{pair!r} is not index:value")
            try:
                index, value = int(index_text), float(value_text)
            except ValueError:
                raise _bad(path, line_no, f"{pair!r} is not an integer index and a number") from None
            if not 1 <= index <= n_features:
                raise _bad(path, line_no, f"index {index} is out of range (indices are 1-based)")
            if index <= previous:
                raise _bad(path, line_no, f"index {index} follows {previous}: indices must increase")
            if not math.isfinite(value):
                raise _bad(path, line_no, f"value {value_text!r} at index {index} is not finite")
            row[index - 1] = value
            previous = index
        rows.append(row)
        labels.append(int(label))
    if not rows:
        raise ValueError(f"{path} holds no images: expected LIBSVM lines '<label> <index>:<value> ...'")
    return rows, labels


def digits_from_labels(labels, rule="auto", path="<lines>"):
    """File labels -> digits 0..9 by the rule above."""
    if rule not in LABEL_RULES:
        raise ValueError(f"label rule is {rule!r}: expected one of {', '.join(LABEL_RULES)}")
    found = set(labels)
    if rule == "auto":
        if 0 in found and 10 not in found:
            rule = "0-9"
        elif 10 in found and 0 not in found:
            rule = "1-10"
        else:
            which = "both 0 and 10" if 0 in found else "neither 0 nor 10"
            raise ValueError(f"{path}: labels hold {which}, so whether they are digits 0..9 or "
                             f"digit + 1 (1..10) is ambiguous: say which with --usps-labels 0-9, 1-10 or 10-is-0")
    low = 0 if rule == "0-9" else 1
    outside = sorted(found - set(range(low, low + CLASSES)))
    if outside:
        raise ValueError(f"{path}: labels {outside[:5]} are outside {rule}: expected {low}..{low + CLASSES - 1}")
    if rule == "10-is-0":
        return [label % CLASSES for label in labels]
    return [label - low for label in labels]


def pixels_to_unit(rows, path="<lines>"):
    """Raw values -> [0, 1]: [-1, 1] files (any value below 0) map by (v + 1) / 2, [0, 1] files stay."""
    low = min(min(row) for row in rows)
    high = max(max(row) for row in rows)
    if low < -1 or high > 1:
        raise ValueError(f"{path}: pixel values run from {low} to {high}: expected [-1, 1] or [0, 1]")
    if low < 0:
        return [[(v + 1.0) / 2.0 for v in row] for row in rows]
    return [list(row) for row in rows]


def load_usps(path, labels="auto"):
    """A USPS file in LIBSVM format -> (X: lists of 256 floats in [0, 1], labels: digits 0..9)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise OSError(f"USPS file {path} not found: give the path of a LIBSVM-format USPS file you "
                      f"have (such as LIBSVM's 'usps'); nothing is downloaded")
    if os.path.isdir(path):
        raise OSError(f"USPS file {path} is a folder: expected a LIBSVM-format file")
    # LIBSVM's page serves usps.bz2; read compressed copies as they are.
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(os.path.splitext(path)[1], open)
    try:
        with opener(path, "rt", encoding="ascii") as file:
            rows, file_labels = parse_libsvm(file, path)
    except (UnicodeDecodeError, EOFError, OSError) as error:
        # A binary or truncated file (gzip and bz2 raise OSError or EOFError for a bad stream).
        raise ValueError(f"{path} cannot be read as LIBSVM text ({type(error).__name__}: {error}): "
                         f"expected lines '<label> <index>:<value> ...', plain, .gz or .bz2") from None
    return pixels_to_unit(rows, path), digits_from_labels(file_labels, labels, path)
