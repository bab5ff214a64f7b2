"""python compare.py --task digits: the handwritten-digit experiment, one network per digit.

    python compare.py --task digits                      train and score in every installed implementation
    python compare.py --task digits --impls numpy,jax    only these
    python compare.py --task digits --widths             also: accuracy as H grows (1, 2, 4, 8, 16)
    python compare.py --task digits --usps usps --usps-test usps.t   USPS files you already have
    python compare.py --task digits --load out/digits/networks.json  score saved networks, no training

Ten networks n_in -> H -> 1 (H = 1 by default, as the original), network k trained one-vs-rest
("is this my digit?": target 1 for digit k, else 0) by per-sample SGD from the same shared initial
parameters in every implementation; the class of an image is the network whose output is
closest to 1, the arg-max of the ten outputs. The data are scikit-learn's bundled 8x8 digits,
split by shared/digits.py (one in three held out, seeded), so no image is scored that was trained on.

Prints test accuracy and training time per implementation and whether each agrees with the
reference (hand, or the first implementation run), the confusion matrix, the accuracy with every
weight rounded to an integer and the size of those weights as JSON. Writes into --out (default
out/digits): networks.json (the trained networks), rounded.json (the same rounded) and
misclassified.png (the test images it got wrong, titled predicted/true).
"""
import argparse
import json
import math
import os
import time

import impls
from shared import digits, store
from shared.params import SEED, init_networks
from tools.cli import Parser

TASK = "digits"
HIDDEN = 1  # the original's single hidden unit per network
LR = 0.1    # the original's learning rate
# The original made 60,000 SGD steps per network (its first 6,000 USPS images, 10 epochs); the
# bundled set trains on 1,198 images, so 50 epochs is the same number of steps. And the number of
# epochs decides the result. Measured (numpy, H = 1, lr 0.1, the shared seed 1): test accuracy
# 0.452 at 10 epochs, 0.616 at 20, 0.763 at 30, 0.925 at 40, 0.922 at 50, 0.918 at 60; over seeds
# 0..8 (each its own start and split), 8 of 9 reach 0.90 at 50 epochs (median 0.922), 3 of 9 at 30.
EPOCHS = 50
WIDTHS = (1, 2, 4, 8, 16)
OUT = os.path.join("out", "digits")
FORMATS = ("text", "markdown", "json")
# Two float64 runs of the same SGD differ by summation order only: the tolerance the tests and the
# bench hold whole runs to (relative, absolute below 1).
AGREE_TOL = 1e-9
# The picture shows at most this many misclassified images: enough to see the kinds of mistake.
PICTURE_MAX = 60


def parse(argv):
    parser = Parser(prog="compare.py --task digits", usage="%(prog)s [options]", description=__doc__.split("\n\n")[1],
                    epilog="Errors are one line on stderr and exit code 2.",
                    formatter_class=argparse.RawDescriptionHelpFormatter)  # keeps the examples one a line
    parser.add_argument("--task", required=True, choices=["digits"], help="this mode")
    parser.add_argument("--impls", default=None,
                        help=f"comma-separated, from {','.join(impls.KEYS)} (default: every installed one)")
    parser.add_argument("--hidden", type=int, default=None, help=f"hidden units per network (default {HIDDEN})")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"epochs (default {EPOCHS})")
    parser.add_argument("--lr", type=float, default=LR, help=f"learning rate (default {LR})")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"seed of the initial parameters and of the split (default {SEED})")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--subset", type=int, default=None, metavar="N",
                        help="use only the first N images (before the split): a quick look")
    parser.add_argument("--usps", default=None, metavar="FILE",
                        help="a USPS file in LIBSVM format that you have, instead of the bundled digits")
    parser.add_argument("--usps-test", default=None, metavar="FILE",
                        help="its test file (such as usps.t); without it FILE is split like the bundled set")
    parser.add_argument("--usps-labels", default="auto", choices=digits.LABEL_RULES,
                        help="how the file labels digits: 0-9, 1-10 (digit + 1: LIBSVM's usps), 10-is-0, "
                             "or auto (a 0 -> 0-9, a 10 -> 1-10; default)")
    parser.add_argument("--widths", nargs="?", const=",".join(map(str, WIDTHS)), default=None, metavar="H,H,...",
                        help=f"also train H = {','.join(map(str, WIDTHS))} (or the list given) with one implementation")
    parser.add_argument("--widths-impl", default=None,
                        help="the implementation for --widths (default numpy, else the first of --impls)")
    parser.add_argument("--save", default=None, metavar="FILE", help="also save the trained networks to FILE (JSON)")
    parser.add_argument("--load", default=None, metavar="FILE",
                        help="score networks saved by --save instead of training")
    parser.add_argument("--out", default=OUT, metavar="DIR", help=f"folder for the files it writes (default {OUT})")
    parser.add_argument("--no-files", action="store_true", help="write nothing (no --out files)")
    parser.add_argument("--format", default="text", choices=FORMATS, help="text tables, markdown tables or one JSON object")
    args = parser.parse_args(argv)
    hidden_given, args.hidden = args.hidden is not None, HIDDEN if args.hidden is None else args.hidden
    for name in ("hidden", "epochs", "subset"):
        value = getattr(args, name)
        if value is not None and value < 1:  # epochs 0 would score the untrained start as if trained
            raise ValueError(f"--{name} is {value}: expected a whole number >= 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr is {args.lr}: expected a positive number such as {LR}")
    if args.usps_test and not args.usps:
        raise ValueError("--usps-test needs --usps FILE, the training file it goes with")
    args.hidden_given = hidden_given
    args.impls = choose_impls(args.impls)
    args.widths = parse_widths(args.widths) if args.widths else []
    # Checked before the training, so a bad path fails in a second and not after minutes.
    if not args.no_files:
        store.check_folder_path(args.out, "--out")
    if args.save:
        store.check_file_path(args.save, "--save")
    return args


def choose_impls(text):
    """The implementations to run; a named one that is missing is an error, a default one is skipped."""
    if text is None:
        keys = impls.available()
    else:
        keys = [k.strip() for k in text.split(",") if k.strip()]
        for key in keys:
            impls.get(key)  # unknown -> ValueError, not installed -> MissingFramework: one line either way
    if not keys:
        raise ValueError("no implementation to run: --impls names none")
    return list(dict.fromkeys(keys))


def parse_widths(text):
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise ValueError(f"--widths is {text!r}: expected whole numbers separated by commas, such as 1,2,4,8,16") from None
    if not widths or min(widths) < 1:
        raise ValueError(f"--widths is {text!r}: expected hidden-unit counts >= 1")
    return widths


# --- data ---------------------------------------------------------------------------------------

def load_data(args):
    """-> dict with X_train, train_labels, X_test, test_labels, side and a one-line description."""
    if args.usps:
        X, labels = digits.load_usps(args.usps, args.usps_labels)
        name, side = f"USPS ({args.usps})", digits.USPS_SIDE
    else:
        X, labels = digits.load_bundled()
        name, side = "scikit-learn's bundled 8x8 digits", digits.BUNDLED_SIDE
    if args.subset:
        X, labels = X[:args.subset], labels[:args.subset]
    if args.usps_test:
        X_test, test_labels = digits.load_usps(args.usps_test, args.usps_labels)
        if args.subset:
            X_test, test_labels = X_test[:args.subset], test_labels[:args.subset]
        how = f"test images from {args.usps_test}"
        X_train, train_labels = X, labels
    else:
        train, test = digits.split(len(X), args.seed)
        X_train, train_labels = [X[i] for i in train], [labels[i] for i in train]
        X_test, test_labels = [X[i] for i in test], [labels[i] for i in test]
        how = f"seeded split, seed {args.seed}, one in three held out"
    return {"X_train": X_train, "train_labels": train_labels, "X_test": X_test, "test_labels": test_labels,
            "side": side, "n_in": side * side,
            "about": f"{name}: {len(X_train):,} training / {len(X_test):,} test images ({how})"}


# --- the experiment -----------------------------------------------------------------------------

def classify(impl, networks, X, dtype="float64"):
    """Each image's class: the network whose output is closest to 1, i.e. the largest of the ten."""
    outputs = [impl.predict(params, X, dtype) for params in networks]
    return [max(range(len(networks)), key=lambda k: outputs[k][s]) for s in range(len(X))]


def accuracy(predicted, labels):
    return sum(p == t for p, t in zip(predicted, labels)) / len(labels)


def confusion(predicted, labels, classes=digits.CLASSES):
    """matrix[t][p]: test images of digit t classified as p."""
    matrix = [[0] * classes for _ in range(classes)]
    for p, t in zip(predicted, labels):
        matrix[t][p] += 1
    return matrix


def rounded(networks):
    """Every weight and bias rounded to the nearest integer (Python ints: they print without .0)."""
    return [{"W1": [[round(w) for w in row] for row in params["W1"]], "b1": [round(b) for b in params["b1"]],
             "W2": [round(w) for w in params["W2"]], "b2": round(params["b2"])} for params in networks]


def weights_json_size(networks):
    """Bytes of the networks' weights alone as compact JSON, the measure of the original's "1 KB"."""
    return len(json.dumps(networks, separators=(",", ":")).encode())


def max_difference(networks, reference):
    """Largest |a - b| / max(1, |b|) over every parameter of every network."""
    worst = 0.0
    for params, ref in zip(networks, reference):
        for group in ("W1", "b1", "W2", "b2"):
            a, b = params[group], ref[group]
            if group == "W1":
                a, b = [w for row in a for w in row], [w for row in b for w in row]
            elif group == "b2":
                a, b = [a], [b]
            worst = max([worst] + [abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b)])
    return worst


def train(impl, data, hidden, lr, epochs, seed, dtype):
    """Ten one-vs-rest networks from the shared initial parameters -> (networks, seconds)."""
    networks = init_networks(digits.CLASSES, data["n_in"], hidden, seed)
    targets = digits.one_vs_rest(data["train_labels"])
    # A fast path kept beside train_many (nn_torch.train_many_fast) trains the same, in less time;
    # compare.py's tables choose train_fast the same way.
    train_many = getattr(impl, "train_many_fast", impl.train_many)
    start = time.perf_counter()
    result = train_many(networks, data["X_train"], targets, lr, epochs, dtype)
    seconds = time.perf_counter() - start
    return [params for params, _ in result], seconds


def run_impls(args, data, loaded=None):
    """Train (or, with loaded networks, only score) in each implementation -> rows and the reference's networks."""
    rows, reference, reference_predicted = [], None, None
    for key in args.impls:
        impl = impls.get(key)
        if loaded is None:
            networks, seconds = train(impl, data, args.hidden, args.lr, args.epochs, args.seed, args.dtype)
        else:
            networks, seconds = loaded, None
        predicted = classify(impl, networks, data["X_test"], args.dtype)
        row = {"impl": key, "dtype": impl.compute_dtype(args.dtype), "accuracy": accuracy(predicted, data["test_labels"]),
               "train_s": seconds, "max_param_diff": None, "same_predictions": None}
        if reference is None:
            reference, reference_predicted = {"impl": key, "networks": networks, "predicted": predicted}, predicted
        else:
            row["max_param_diff"] = max_difference(networks, reference["networks"])
            row["same_predictions"] = sum(a == b for a, b in zip(predicted, reference_predicted))
        rows.append(row)
    return rows, reference


def widths_table(args, data):
    key = args.widths_impl or ("numpy" if "numpy" in impls.available() else args.impls[0])
    impl = impls.get(key)
    rows = []
    for hidden in args.widths:
        networks, seconds = train(impl, data, hidden, args.lr, args.epochs, args.seed, args.dtype)
        rows.append({"hidden": hidden, "parameters": digits.CLASSES * (hidden * data["n_in"] + 2 * hidden + 1),
                     "accuracy": accuracy(classify(impl, networks, data["X_test"], args.dtype), data["test_labels"]),
                     "rounded_accuracy": accuracy(classify(impl, rounded(networks), data["X_test"], args.dtype),
                                                  data["test_labels"]),
                     "rounded_json_bytes": weights_json_size(rounded(networks)), "train_s": seconds})
    return key, rows


# --- files --------------------------------------------------------------------------------------

def write_picture(path, X_test, predicted, labels, side):
    """A grid of the misclassified test images, each titled predicted/true; -> how many it shows."""
    wrong = [s for s, (p, t) in enumerate(zip(predicted, labels)) if p != t]
    shown = wrong[:PICTURE_MAX]
    import matplotlib
    matplotlib.use("Agg")  # files only: no display is needed or opened
    import matplotlib.pyplot as plt
    columns = 10
    rows = max(1, math.ceil(len(shown) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3 + 0.6), squeeze=False)
    for cell, ax in enumerate(axes.flat):
        ax.axis("off")
        if cell < len(shown):
            s = shown[cell]
            image = [X_test[s][r * side:(r + 1) * side] for r in range(side)]
            ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{predicted[s]}/{labels[s]}", fontsize=10, color="firebrick")
    more = f" (first {len(shown)} of {len(wrong)})" if len(wrong) > len(shown) else ""
    figure.suptitle(f"Misclassified test digits{more}: title = predicted/true", fontsize=11)
    figure.tight_layout()
    from tools import plots  # matplotlib's helpers, loaded only when a picture is drawn
    plots.save_png(figure, path, dpi=100)
    return len(shown), len(wrong)


# --- output -------------------------------------------------------------------------------------

def table(headers, rows, fmt):
    """Rows of strings -> an aligned text table or a markdown table."""
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    def line(cells):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def seconds_text(seconds):
    return "—" if seconds is None else f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def impl_table(rows, reference_key, fmt):
    headers = ["impl", "computes", "test accuracy", "train time", f"max param diff vs {reference_key}",
               f"same predictions as {reference_key}"]
    body = []
    for row in rows:
        diff = "reference" if row["max_param_diff"] is None else f"{row['max_param_diff']:.1e}"
        same = "reference" if row["same_predictions"] is None else f"{row['same_predictions']}/{row['test_n']}"
        body.append([row["impl"], row["dtype"], f"{row['accuracy']:.3f}", seconds_text(row["train_s"]), diff, same])
    return table(headers, body, fmt)


def confusion_table(matrix, fmt):
    headers = ["true \\ predicted"] + [str(k) for k in range(len(matrix))] + ["accuracy"]
    body = [[str(t)] + [str(n) if n else "." for n in counts] + [f"{counts[t] / max(1, sum(counts)):.2f}"]
            for t, counts in enumerate(matrix)]
    return table(headers, body, fmt)


def widths_text(key, rows, epochs, fmt):
    headers = ["H", "parameters (ten networks)", "test accuracy", "rounded accuracy", "rounded JSON",
               f"train time ({key}, {epochs} epochs)"]
    body = [[str(r["hidden"]), f"{r['parameters']:,}", f"{r['accuracy']:.3f}", f"{r['rounded_accuracy']:.3f}",
             f"{r['rounded_json_bytes']:,} B", seconds_text(r["train_s"])] for r in rows]
    return table(headers, body, fmt)


def agrees(row, reference_dtype, tol=AGREE_TOL):
    """Identical predictions, and parameters within tol when both computed in the same dtype.

    A float32 run differs from any other run (float64, or float32 in another order of operations)
    by float32 rounding grown over the whole run, far above tol; for it only the predictions are
    held, and the difference is shown beside them.
    """
    if row["max_param_diff"] is None:
        return True
    both_float64 = row["dtype"] == reference_dtype == "float64"
    close = not both_float64 or row["max_param_diff"] <= tol
    return close and row["same_predictions"] == row["test_n"]


def check_loaded_fits(args, data, saved):
    """Saved networks are scored only on the data they were trained with: another split or subset
    would put some of their training images among the test images and inflate the accuracy."""
    hidden = len(saved.networks[0]["W1"])
    if args.hidden_given and args.hidden != hidden:
        raise ValueError(f"--hidden {args.hidden}, but {args.load} holds networks with H = {hidden}: "
                         f"leave --hidden out when loading")
    trained_on = saved.settings.get("data")
    if trained_on is not None and trained_on != data["about"]:
        raise ValueError(f"{args.load} was trained on {trained_on}; this run would score it on {data['about']}, "
                         f"whose test images may include ones it trained on: give the --subset, --seed and --usps "
                         f"it was saved with")


def main(argv):
    args = parse(argv)
    data = load_data(args)
    loaded = None
    if args.load:
        saved = store.load(args.load, task=TASK, count=digits.CLASSES, n_in=data["n_in"])
        loaded = saved.networks
        check_loaded_fits(args, data, saved)
        args.hidden = len(loaded[0]["W1"])
        trained = ", ".join(f"{k} {saved.settings[k]}" for k in ("trained_by", "lr", "epochs") if k in saved.settings)
        how = f"networks loaded from {args.load} (seed {saved.seed}{', ' + trained if trained else ''}), not trained here"
    else:
        how = (f"per-sample SGD, lr {args.lr}, {args.epochs} epochs, {args.dtype}, "
               f"shared initial parameters (seed {args.seed})")
    rows, reference = run_impls(args, data, loaded)
    for row in rows:
        row["test_n"] = len(data["test_labels"])
    matrix = confusion(reference["predicted"], data["test_labels"])
    rounded_networks = rounded(reference["networks"])
    rounded_predicted = classify(impls.get(reference["impl"]), rounded_networks, data["X_test"], args.dtype)
    result = {
        "data": data["about"],
        "network": f"ten networks {data['n_in']} -> {args.hidden} -> 1, one per digit; class = arg-max of the ten outputs",
        "training": how,
        "implementations": rows,
        "agree": all(agrees(row, rows[0]["dtype"]) for row in rows),
        "reference": reference["impl"],
        "confusion": matrix,
        "rounded_accuracy": accuracy(rounded_predicted, data["test_labels"]),
        "rounded_json_bytes": weights_json_size(rounded_networks),
        "files": {},
    }
    if not args.no_files:
        settings = {"lr": args.lr, "epochs": args.epochs, "hidden": args.hidden, "trained_by": reference["impl"],
                    "data": data["about"]}
        if loaded is None:
            result["files"]["networks"] = store.save(os.path.join(args.out, "networks.json"), reference["networks"],
                                                     TASK, args.seed, args.dtype, settings)
        result["files"]["rounded"] = store.save(os.path.join(args.out, "rounded.json"), rounded_networks, TASK,
                                                args.seed, args.dtype, dict(settings, rounded=True))
        picture = os.path.join(args.out, "misclassified.png")
        shown, wrong = write_picture(picture, data["X_test"], reference["predicted"], data["test_labels"], data["side"])
        result["files"]["picture"] = picture
        result["misclassified"] = {"shown": shown, "wrong": wrong}
    if args.save:
        result["files"]["saved"] = store.save(args.save, reference["networks"], TASK, args.seed, args.dtype,
                                              {"lr": args.lr, "epochs": args.epochs, "hidden": args.hidden,
                                               "trained_by": reference["impl"], "data": data["about"]})
    if args.widths:
        result["widths_impl"], result["widths"] = widths_table(args, data)
    print(report(result, args))
    return 0


def report(result, args):
    if args.format == "json":
        return json.dumps(result, indent=1)
    fmt, out = args.format, []
    heading = (lambda text: f"### {text}") if fmt == "markdown" else (lambda text: text)
    out += [f"Data: {result['data']}", f"Network: {result['network']}", f"Training: {result['training']}", ""]
    out += [heading("Test accuracy and training time per implementation"), "",
            impl_table(result["implementations"], result["reference"], fmt), ""]
    rows, reference = result["implementations"], result["reference"]
    other_dtype = [r["impl"] for r in rows if r["dtype"] != rows[0]["dtype"]]
    if not result["agree"]:
        wrong = [r["impl"] for r in rows if not agrees(r, rows[0]["dtype"])]
        verdict = f"DISAGREEMENT: {', '.join(wrong)} differ from {reference} beyond {AGREE_TOL:g} or in predictions"
    elif other_dtype:
        verdict = (f"identical predictions to {reference}; {', '.join(other_dtype)} compute in {next(r['dtype'] for r in rows if r['impl'] == other_dtype[0])}, "
                   f"so their parameters are held to the predictions only (difference shown above)")
    else:
        verdict = f"all agree with {reference} (parameters within {AGREE_TOL:g}, identical predictions)"
    out += [f"Agreement: {verdict}", ""]
    out += [heading(f"Confusion matrix ({result['reference']}; rows: true digit, columns: predicted)"), "",
            confusion_table(result["confusion"], fmt), ""]
    out += [f"Integer-rounded weights: test accuracy {result['rounded_accuracy']:.3f}; the ten networks' rounded "
            f"weights as compact JSON: {result['rounded_json_bytes']:,} bytes"]
    files = result["files"]
    if "picture" in files:
        m = result["misclassified"]
        out += [f"Misclassified: {m['wrong']} test images; {files['picture']} shows {m['shown']}, titled predicted/true"]
    written = [files[k] for k in ("networks", "rounded", "saved") if k in files]
    if written:
        out += ["Networks saved as JSON: " + ", ".join(written)]
    if result.get("widths"):
        out += ["", heading("Accuracy as the hidden layer grows"), "",
                widths_text(result["widths_impl"], result["widths"], args.epochs, fmt)]
    return "\n".join(out)
