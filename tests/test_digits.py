"""The handwritten-digit experiment: its data, its USPS loader, agreement of the four, and its CLI."""
import bz2
import gzip
import json

import pytest

import compare
import impls
from shared import digits, store
from shared.params import SEED, init_networks
from tools import digits as experiment

# Two float64 runs of the same SGD differ by summation order only: the tolerance
# tests/test_core.py holds whole runs to (relative, absolute below 1).
AGREE_TOL = 1e-9
# Agreement runs on a subset small enough for the suite: the first SUBSET bundled images, split
# as the experiment splits them, EPOCHS epochs.
SUBSET = 120
EPOCHS = 2
TARGET_ACCURACY = 0.90  # issue 5: at least 0.90 held out with a single hidden unit per network


@pytest.fixture(scope="module")
def bundled():
    try:
        return digits.load_bundled()
    except OSError as missing:
        pytest.skip(str(missing))


# --- the bundled digits and their split ----------------------------------------------------------

def test_bundled_digits_are_the_1797_images_scaled_to_unit(bundled):
    X, labels = bundled
    assert len(X) == len(labels) == 1797
    assert {len(x) for x in X} == {64}
    assert min(min(x) for x in X) == 0.0 and max(max(x) for x in X) == 1.0
    assert sorted(set(labels)) == list(range(10))
    # The first image, a 0, as scikit-learn's digits.csv.gz holds its first row: 0 0 5 13 9 1 0 0 ...
    assert X[0][:8] == [0.0, 0.0, 5 / 16, 13 / 16, 9 / 16, 1 / 16, 0.0, 0.0]
    assert labels[:10] == list(range(10))


def test_bundled_digits_match_scikit_learns_own_loader(bundled):
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    X, labels = bundled
    assert X == (reference.data / 16).tolist()
    assert labels == reference.target.tolist()


def test_split_holds_out_one_in_three_and_never_overlaps():
    train, test = digits.split(1797, seed=1)
    assert (len(train), len(test)) == (1198, 599)
    assert not set(train) & set(test)
    assert sorted(train + test) == list(range(1797))
    assert train == sorted(train) and test == sorted(test)  # file order kept for per-sample SGD


def test_split_is_fixed_by_the_seed():
    assert digits.split(1797, seed=1) == digits.split(1797, seed=1)
    assert digits.split(1797, seed=1) != digits.split(1797, seed=2)


def test_split_refuses_too_few_images():
    with pytest.raises(ValueError, match="at least 2"):
        digits.split(1)


def test_one_vs_rest_targets():
    targets = digits.one_vs_rest([2, 0, 2])
    assert len(targets) == 10
    assert targets[2] == [1.0, 0.0, 1.0]
    assert targets[0] == [0.0, 1.0, 0.0]
    assert targets[7] == [0.0, 0.0, 0.0]


# --- USPS in LIBSVM format -----------------------------------------------------------------------

def write(path, text, opener=open):
    with opener(path, "wt") as file:
        file.write(text)
    return path


def test_libsvm_indices_are_one_based_and_pixels_map_from_minus_one_one(tmp_path):
    path = write(tmp_path / "usps", "1 1:-1 3:0.5 256:1\n10 2:-0.5\n")
    X, labels = digits.load_usps(path)
    assert labels == [0, 9]  # the common files label digit d as d + 1
    assert len(X[0]) == 256
    # (v + 1) / 2; an absent index is 0, mid-grey 0.5 on the [-1, 1] scale
    assert X[0][:4] == [0.0, 0.5, 0.75, 0.5]
    assert X[0][255] == 1.0
    assert X[1][:3] == [0.5, 0.25, 0.5]


def test_libsvm_labels_0_to_9_are_taken_as_they_are(tmp_path):
    path = write(tmp_path / "usps", "0 1:0.25\n9 1:1\n# a comment line\n\n3 256:0.5\n")
    X, labels = digits.load_usps(path)
    assert labels == [0, 9, 3]
    assert X[0][0] == 0.25 and X[2][255] == 0.5  # no negative value: a [0, 1] file stays as it is


def test_libsvm_label_rule_can_be_stated_when_the_file_cannot_tell(tmp_path):
    path = write(tmp_path / "usps", "1 1:1\n2 1:1\n")
    with pytest.raises(ValueError, match=r"neither 0 nor 10.*--usps-labels 0-9, 1-10 or 10-is-0"):
        digits.load_usps(path)
    assert digits.load_usps(path, labels="1-10")[1] == [0, 1]
    assert digits.load_usps(path, labels="0-9")[1] == [1, 2]


def test_libsvm_labels_where_10_means_0(tmp_path):
    path = write(tmp_path / "usps", "10 1:1\n1 1:1\n9 1:1\n")
    assert digits.load_usps(path, labels="10-is-0")[1] == [0, 1, 9]
    assert digits.load_usps(path)[1] == [9, 0, 8]  # auto reads a 10 without a 0 as digit + 1


def test_libsvm_labels_with_both_0_and_10_are_refused(tmp_path):
    path = write(tmp_path / "usps", "0 1:1\n10 1:1\n")
    with pytest.raises(ValueError, match="both 0 and 10"):
        digits.load_usps(path)


def test_libsvm_label_outside_the_rule_is_refused(tmp_path):
    path = write(tmp_path / "usps", "0 1:1\n11 1:1\n")
    with pytest.raises(ValueError, match=r"labels \[11\] are outside 0-9"):
        digits.load_usps(path)


@pytest.mark.parametrize("line, problem", [
    ("1 0:0.5", "index 0 is out of range (indices are 1-based)"),
    ("1 257:0.5", "index 257 is out of range"),
    ("x 1:0.5", "label 'x' is not a number"),
    ("1.5 1:0.5", "label '1.5' is not a whole number"),
    ("1 1-0.5", "'1-0.5' is not index:value"),
    ("1 a:0.5", "'a:0.5' is not an integer index and a number"),
    ("1 3:0.1 2:0.2", "index 2 follows 3: indices must increase"),
    ("1 1:nan", "value 'nan' at index 1 is not finite"),
])
def test_malformed_libsvm_lines_name_the_file_line_and_problem(tmp_path, line, problem):
    path = write(tmp_path / "usps", "1 1:0.5\n" + line + "\n")
    with pytest.raises(ValueError) as error:
        digits.load_usps(path)
    assert f"usps line 2: {problem}" in str(error.value)


def test_libsvm_values_outside_minus_one_one_are_refused(tmp_path):
    path = write(tmp_path / "usps", "0 1:255\n10 1:0\n")
    with pytest.raises(ValueError, match=r"pixel values run from 0.0 to 255.0: expected \[-1, 1\] or \[0, 1\]"):
        digits.load_usps(path, labels="0-9")


def test_an_empty_usps_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no images"):
        digits.load_usps(write(tmp_path / "usps", "\n# nothing\n"))


def test_a_missing_usps_file_says_nothing_is_downloaded(tmp_path):
    with pytest.raises(OSError, match=r"usps not found: .*nothing is downloaded"):
        digits.load_usps(tmp_path / "usps")


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_usps_files_are_read_as_they_are(tmp_path, suffix, opener):
    path = write(tmp_path / f"usps{suffix}", "1 1:-1\n10 1:1\n", opener)
    assert digits.load_usps(path)[1] == [0, 9]


def test_a_binary_file_is_refused_with_one_line(tmp_path):
    path = tmp_path / "usps.bz2"
    path.write_bytes(b"\x00\xff not bzip2")
    with pytest.raises(ValueError, match="cannot be read as LIBSVM text"):
        digits.load_usps(path)


# --- the experiment's parts ------------------------------------------------------------------------

def test_classify_picks_the_network_whose_output_is_closest_to_one(hand):
    # Three networks on one input: outputs sigmoid(b2) with b2 = -1, 2, 0.5 -> network 1 is largest.
    networks = [{"W1": [[0.0]], "b1": [0.0], "W2": [0.0], "b2": b2} for b2 in (-1.0, 2.0, 0.5)]
    assert experiment.classify(hand, networks, [[0.3]]) == [1]


def test_confusion_counts_true_rows_against_predicted_columns():
    matrix = experiment.confusion([1, 1, 0], [1, 0, 0], classes=2)
    assert matrix == [[1, 1], [0, 1]]


def test_rounded_weights_are_integers_and_their_json_size_is_compact():
    networks = [{"W1": [[1.4, -2.6]], "b1": [0.2], "W2": [-0.7], "b2": 3.51}]
    assert experiment.rounded(networks) == [{"W1": [[1, -3]], "b1": [0], "W2": [-1], "b2": 4}]
    text = '[{"W1":[[1,-3]],"b1":[0],"W2":[-1],"b2":4}]'
    assert experiment.weights_json_size(experiment.rounded(networks)) == len(text)


# --- the four implementations agree ----------------------------------------------------------------

@pytest.fixture(scope="module")
def subset(bundled):
    X, labels = bundled
    X, labels = X[:SUBSET], labels[:SUBSET]
    train, test = digits.split(len(X))
    return {"X_train": [X[i] for i in train], "train_labels": [labels[i] for i in train],
            "X_test": [X[i] for i in test], "test_labels": [labels[i] for i in test], "n_in": 64}


@pytest.fixture(scope="module", params=[1, 2], ids=["H1", "H2"])
def by_hand(request, subset):
    hidden = request.param
    networks, _ = experiment.train(impls.get("hand"), subset, hidden, 0.1, EPOCHS, 1, "float64")
    return hidden, networks, experiment.classify(impls.get("hand"), networks, subset["X_test"])


def test_trained_networks_and_predictions_agree_with_hand(other, subset, by_hand):
    hidden, hand_networks, hand_predicted = by_hand
    networks, _ = experiment.train(other, subset, hidden, 0.1, EPOCHS, 1, "float64")
    assert experiment.max_difference(networks, hand_networks) <= AGREE_TOL
    # Training moved them: agreement is not two copies of the shared start.
    assert experiment.max_difference(networks, init_networks(10, 64, hidden, 1)) > 1e-3
    assert experiment.classify(other, networks, subset["X_test"]) == hand_predicted


def test_max_difference_sees_a_single_changed_weight():
    networks = init_networks(10, 64, 1, 1)
    changed = json.loads(json.dumps(networks))
    changed[7]["W1"][0][33] += 1e-6
    assert experiment.max_difference(changed, networks) == pytest.approx(1e-6, rel=1e-3)


def test_the_default_settings_reach_the_target_accuracy_with_one_hidden_unit(bundled):
    # The target, 0.90 held out with H = 1 (the original's ~90% on USPS); numpy because it
    # agrees with hand (above) and trains the full set in seconds. Default epochs, lr and seed.
    pytest.importorskip("numpy", reason="the target run uses the numpy implementation: pip install numpy")
    numpy_impl = impls.get("numpy")
    X, labels = bundled
    train, test = digits.split(len(X))
    data = {"X_train": [X[i] for i in train], "train_labels": [labels[i] for i in train], "n_in": 64}
    networks, _ = experiment.train(numpy_impl, data, experiment.HIDDEN, experiment.LR, experiment.EPOCHS,
                                   SEED, "float64")
    predicted = experiment.classify(numpy_impl, networks, [X[i] for i in test])
    assert experiment.accuracy(predicted, [labels[i] for i in test]) >= TARGET_ACCURACY


def test_agreement_verdict_catches_a_drifted_parameter_or_a_changed_prediction():
    row = {"dtype": "float64", "max_param_diff": 1e-12, "same_predictions": 599, "test_n": 599}
    assert experiment.agrees(row, "float64")
    assert not experiment.agrees(dict(row, max_param_diff=1e-6), "float64")
    assert not experiment.agrees(dict(row, same_predictions=598), "float64")
    # float32 beside a float64 reference: its rounding is expected, its predictions are still held.
    assert experiment.agrees(dict(row, dtype="float32", max_param_diff=1e-5), "float64")
    assert not experiment.agrees(dict(row, dtype="float32", same_predictions=598), "float64")
    # float32 beside a float32 reference of another framework: the same, whoever is the reference.
    assert experiment.agrees(dict(row, dtype="float32", max_param_diff=5e-7), "float32")
    assert not experiment.agrees(dict(row, dtype="float32", same_predictions=598), "float32")


# --- the command line ---------------------------------------------------------------------------------

def run(capsys, *argv):
    try:
        code = compare.main(["--task", "digits", *argv])
    except SystemExit as stop:  # argparse's own errors leave through tools.cli.Parser's exit(2)
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def test_one_command_trains_scores_and_writes_its_files(capsys, tmp_path, bundled):
    code, out, err = run(capsys, "--impls", "hand,numpy", "--subset", "90", "--epochs", "1", "--out", str(tmp_path))
    assert code == 0, err
    assert "Agreement: all agree with hand" in out
    assert "Confusion matrix" in out and "Integer-rounded weights: test accuracy" in out
    assert (tmp_path / "misclassified.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = store.load(tmp_path / "networks.json", task="digits", count=10, n_in=64, hidden=1)
    assert saved.settings["epochs"] == 1
    assert all(isinstance(w, int) for w in store.load(tmp_path / "rounded.json").networks[0]["W1"][0])

    # The saved networks, loaded back, score exactly what they scored when trained.
    code, again, err = run(capsys, "--impls", "numpy", "--subset", "90", "--load", str(tmp_path / "networks.json"),
                           "--no-files", "--format", "json")
    assert code == 0, err
    first = json.loads(run(capsys, "--impls", "numpy", "--subset", "90", "--epochs", "1", "--no-files",
                           "--format", "json")[1])
    assert json.loads(again)["implementations"][0]["accuracy"] == first["implementations"][0]["accuracy"]


def test_usps_file_runs_end_to_end(capsys, tmp_path):
    lines = [f"{1 + s % 10} " + " ".join(f"{i}:{((s * 7 + i) % 5) / 2 - 1:g}" for i in range(1, 257))
             for s in range(30)]
    path = write(tmp_path / "usps", "\n".join(lines) + "\n")
    code, out, err = run(capsys, "--usps", str(path), "--impls", "numpy", "--epochs", "1", "--no-files", "--widths", "1,2")
    assert code == 0, err
    assert "ten networks 256 -> 1 -> 1" in out
    assert "20 training / 10 test images" in out
    assert "Accuracy as the hidden layer grows" in out


@pytest.mark.parametrize("argv, message", [
    (["--usps", "no/such/usps"], "USPS file no/such/usps not found"),
    (["--hidden", "0"], "--hidden is 0: expected a whole number >= 1"),
    (["--lr", "-1"], "--lr is -1.0: expected a positive number"),
    (["--impls", "fortran"], "unknown implementation 'fortran'"),
    (["--widths", "1,x"], "--widths is '1,x'"),
    (["--usps-test", "usps.t"], "--usps-test needs --usps FILE"),
    (["--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["--epochs", "0"], "--epochs is 0: expected a whole number >= 1"),
    (["--predict", "x"], "(python compare.py --task digits --help lists the options)"),
    (["--save", "."], "--save . is a folder: expected a file name"),
    (["--out", "README.md"], "--out README.md is a file: expected a folder"),
    (["--out", "README.md/sub"], "goes through"),
])
def test_cli_mistakes_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_loading_networks_of_the_wrong_shape_is_one_line_not_random_weights(capsys, tmp_path, bundled):
    path = tmp_path / "glyph.json"
    store.save(path, init_networks(10, 9, 9, 1), task="digits", seed=1)
    code, out, err = run(capsys, "--load", str(path), "--impls", "numpy", "--no-files")
    assert code == 2 and out == ""
    assert "holds n_in = 9: expected 64" in err and err.count("\n") == 1


def test_loaded_networks_are_scored_only_on_the_data_they_were_trained_with(capsys, tmp_path, bundled):
    path = tmp_path / "nets.json"
    code, _, _ = run(capsys, "--subset", "150", "--epochs", "1", "--impls", "numpy", "--no-files", "--save", str(path))
    assert code == 0
    # The full set's split, or another seed's, would put some of these networks' training images in the test half.
    for other in (["--seed", "1"], ["--subset", "150", "--seed", "2"], ["--subset", "120"]):
        code, out, err = run(capsys, "--load", str(path), "--impls", "numpy", "--no-files", *other)
        assert code == 2 and out == "" and err.count("\n") == 1, other
        assert "was trained on" in err and "--subset, --seed and --usps" in err
    code, out, err = run(capsys, "--load", str(path), "--impls", "numpy", "--no-files", "--subset", "150")
    assert code == 0 and "not trained here" in out


def test_loading_with_another_hidden_width_is_refused(capsys, tmp_path, bundled):
    path = tmp_path / "nets.json"
    run(capsys, "--subset", "150", "--epochs", "1", "--impls", "numpy", "--no-files", "--save", str(path))
    code, out, err = run(capsys, "--load", str(path), "--subset", "150", "--hidden", "4", "--impls", "numpy", "--no-files")
    assert code == 2 and out == ""
    assert "--hidden 4, but" in err and "H = 1" in err and err.count("\n") == 1
