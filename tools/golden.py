"""The golden trace: the reference's short run, step by step, in a JSON file any language can read.

    python compare.py --golden write                 regenerate shared/golden_trace.json from impls/nn_hand.py
    python compare.py --golden verify                check hand against the file
    python compare.py --golden verify --impl my.py   check any implementation of the protocol against it

JSON, not pickle: every float is written with repr, which round-trips a float64 exactly, so the
file holds the reference's values bit for bit. FIELDS below is also written into the file.
"""
import json
import os
from pathlib import Path

import numpy as np

import impls
from shared import store
from shared.glyphs import dataset
from shared.params import GROUPS, SEED, init_params
from tools import check

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent.parent / "shared" / "golden_trace.json"
# The default short run: small enough to read and to keep the file near 150 kB, long enough that
# the second epoch starts from trained params.
RUN = {"task": "is-one", "n_in": 9, "hidden": 9, "seed": SEED, "lr": 0.1, "epochs": 2, "dtype": "float64"}

FIELDS = {
    "format_version": "integer; incremented whenever a field changes meaning",
    "description": "what this file is",
    "generated_by": "the command that regenerates it",
    "fields": "this table: what every field means",
    "network": "the network and training rule the numbers come from",
    "run": "task, n_in, hidden (H), seed of shared/params.py init_params, lr, epochs, dtype",
    "X": "the inputs, one list of n_in floats per sample, in dataset (training) order",
    "T": "the targets, one float per sample",
    "initial_params": "params before the first step: W1 (H lists of n_in floats, W1[j][i] weights input i "
                      "into hidden unit j), b1 (H floats), W2 (H floats), b2 (float)",
    "steps": "one record per SGD step, in order: epoch (from 1), step (from 1 within the epoch), sample "
             "(index into X and T), loss = (t - p)^2 of that sample at the params before the step, "
             "gradients = d loss / d params at the params before the step, params = params after the step "
             "(params - lr * gradients)",
    "epoch_losses": "mean of (t - p)^2 over all samples, at the params after each epoch (what train returns)",
}


def trace():
    """The golden trace as a dict, computed with the hand-written reference's own functions."""
    hand = impls.get("hand")
    X, T, _ = dataset(RUN["task"])
    params = init_params(RUN["n_in"], RUN["hidden"], RUN["seed"])
    net = hand.to_native(params)
    steps, epoch_losses = [], []
    for epoch in range(1, RUN["epochs"] + 1):
        for s, (x, t) in enumerate(zip(X, T)):
            # The same calls, in the same order, as hand.fit: the trace is train's run, recorded.
            steps.append({"epoch": epoch, "step": s + 1, "sample": s, "loss": hand.loss(net, x, t),
                          "gradients": hand.to_plain(hand.backward(net, x, t))})
            net = hand.sgd_step(net, x, t, RUN["lr"])
            steps[-1]["params"] = hand.to_plain(net)
        epoch_losses.append(hand.mean_loss(net, X, T))
    return {
        "format_version": FORMAT_VERSION,
        "description": "nn-rosetta golden trace: the hand-written reference (impls/nn_hand.py) trained "
                       "by per-sample SGD, every step's loss, gradients and params in float64",
        "generated_by": "python compare.py --golden write",
        "fields": FIELDS,
        "network": {"layers": "n_in -> H sigmoid -> 1 sigmoid", "forward": "h = sigmoid(W1 x + b1), "
                    "p = sigmoid(W2 . h + b2)", "loss": "(t - p)^2 per sample",
                    "training": "per-sample SGD in dataset order, params -= lr * gradients"},
        "run": dict(RUN),
        "X": X,
        "T": T,
        "initial_params": params,
        "steps": steps,
        "epoch_losses": epoch_losses,
    }


def dumps(data):
    """JSON with one step per line: readable, diffable, and repr-exact floats (json uses float.__repr__)."""
    lines = ["{"]
    items = list(data.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if key == "steps":
            body = ",\n".join("  " + json.dumps(step) for step in value)
            lines.append(f' "steps": [\n{body}\n ]{comma}')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{comma}")
    return "\n".join(lines + ["}"]) + "\n"


def read(path=PATH):
    """The trace at path, or ValueError naming what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file: give the trace that python compare.py --golden write made")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON ({error.msg} at line {error.lineno}): "
                         "regenerate it with python compare.py --golden write") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        version = data.get("format_version") if isinstance(data, dict) else None
        raise ValueError(f"{path} has format_version {version!r}: this kit reads {FORMAT_VERSION}")
    missing = [k for k in FIELDS if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: regenerate it with python compare.py --golden write")
    return data


def verify(subject, data, profile):
    """Hold subject to every step of the trace, then to the whole run -> [check.Result]."""
    run = data["run"]
    X, T, lr, hidden, n_in = data["X"], data["T"], run["lr"], run["hidden"], run["n_in"]
    loss_r, grad_r, step_r = (check.Result("step-loss"), check.Result("step-gradients"), check.Result("step-params"))
    u = subject.unit_roundoff()
    before = data["initial_params"]
    e_run = check.zero_bounds(before)
    for record in data["steps"]:
        s = record["sample"]
        x, t = X[s], T[s]
        case = f"epoch {record['epoch']} step {record['step']} (sample {s})"
        bounds = check.ErrorBounds(before, [x], [t])
        step_bound = bounds.step(lr, 0)
        e_run = check.add_bounds(e_run, step_bound)
        try:
            p = check.as_vector(subject.call("predict", before, [x]), 1, "predict()")
            loss_r.observe(case, [("loss", (t - p[0]) ** 2, record["loss"],
                                   profile.tolerance("forward", record["loss"], bounds.e_loss[0], u))])
        except check.Broken as error:
            loss_r.broken(case, error)
        try:
            g = check.as_groups(subject.call("gradients", before, x, t), hidden, n_in, "gradients()")
            ref = check.groups_of(record["gradients"])
            grad_r.observe(case, check.labelled_groups(g, ref, {k: profile.tolerance(
                "gradients", ref[k], bounds.gradients[k][0], u) for k in GROUPS}))
        except check.Broken as error:
            grad_r.broken(case, error)
        try:
            got, _ = check.as_train_result(subject.call("train", before, [x], [t], lr=lr, epochs=1), hidden, n_in, 1)
            ref = check.groups_of(record["params"])
            step_r.observe(case, check.labelled_groups(got, ref, {k: profile.tolerance(
                "sgd-step", ref[k], step_bound[k], u) for k in GROUPS}))
        except check.Broken as error:
            step_r.broken(case, error)
        before = record["params"]
    run_r = check.Result("whole-run")
    case = f"train {run['epochs']} epochs"
    try:
        got, losses = check.as_train_result(
            subject.call("train", data["initial_params"], X, T, lr=lr, epochs=run["epochs"]), hidden, n_in, run["epochs"])
        ref = check.groups_of(data["steps"][-1]["params"])
        e_losses = check.ErrorBounds(data["steps"][-1]["params"], X, T).mean_loss(e_run)
        run_r.observe(case, check.labelled_groups(got, ref, {k: profile.tolerance(
            "train-short", ref[k], e_run[k], u) for k in GROUPS})
            + [(lambda e: f"loss after epoch {e + 1}", losses, data["epoch_losses"],
                profile.tolerance("train-short", np.asarray(data["epoch_losses"]), e_losses, u))])
    except check.Broken as error:
        run_r.broken(case, error)
    return [loss_r, grad_r, step_r, run_r]


def main(args):
    action, *rest = args.golden
    if action not in ("write", "verify") or len(rest) > 1:
        raise ValueError(f"--golden {' '.join(args.golden)}: expected 'write [FILE]' or 'verify [FILE]'")
    path = Path(rest[0]) if rest else PATH
    if not rest:
        path = Path(os.path.relpath(PATH)) if not os.path.relpath(PATH).startswith("..") else PATH
    if action == "write":
        store.check_file_path(path, "--golden write")
        data = trace()
        text = dumps(data)
        check.write_text(path, text)
        print(f"wrote {path}: {len(data['steps'])} steps, {len(text.encode()) / 1000:.0f} kB, "
              f"format_version {FORMAT_VERSION}")
        return 0
    data = read(path)
    profile = check.load_profile(args.dtype, args.profile, args.rtol, args.atol)
    try:
        subject = check.Subject(*check.load(args.impl), args.dtype)
    except check.Broken as error:
        print(f"golden trace: {error}")
        return 1
    run = data["run"]
    results = verify(subject, data, profile)
    print(f"golden trace {path} (format {data['format_version']}, {run['task']} task, H={run['hidden']} "
          f"seed={run['seed']}, lr {run['lr']}, {run['epochs']} epochs, {len(data['steps'])} steps) "
          f"against {subject.label}")
    print(f"profile {profile.describe()}")
    print(check.format_fingerprint(check.fingerprint(subject)))
    print(check.format_results(results))
    failed = [r for r in results if r.status != "pass"]
    if failed:
        first = min((r.problems[0] for r in failed[:3] if r.problems),
                    key=lambda p: [int(w) for w in p.split("(")[0].split() if w.isdigit()] or [10 ** 9])
        print(f"result: FAIL: first wrong at {first}")
        return 1
    print("result: pass: every step and the whole run match the trace")
    return 0
