"""compare.py's default mode: one network in every installed framework, side by side.

    python compare.py                          every table, default task, as text
    python compare.py --impls numpy,torch --epochs 200 --dtype float32
    python compare.py --format markdown        pastes into a README or an issue
    python compare.py --format json            for machines (shape below)
    python compare.py --out results --plot     every table as CSV, the report, and losses.png
    python compare.py --predict 010/010/010    every trained network's answer on your glyph

Every selected implementation starts from the same initial parameters (shared.params) and is
trained on the same task. hand always runs: it is the reference every difference is taken from.
The tables, in order:

    implementations  framework version, the dtype asked for and the dtype really computed in, status
    predictions      one row per glyph: the glyph, its target, each prediction, largest |diff| from hand
    gradients        at the initial parameters, over every sample: max abs and rel diff per group
    losses           the mean loss after a handful of epochs (first, some between, last)
    training         final loss, largest loss diff over all epochs, largest |param diff| per group
    cost             import, first-call overhead, training, per SGD step; each also as a ratio to hand
    concepts         which function implements each concept in each file, and its line count
    predict          (with --predict) each trained network's p for the glyph and what it reads as

How it runs. Each implementation runs in a worker process of its own (--jobs at a time,
default one per core), so its import is timed in a fresh interpreter, and the frameworks'
imports and training overlap instead of adding up. --jobs 0 runs them in this process instead
(what the tests use; an implementation imported before the run then has no import time). In a worker:
import; the first call (train for 1 epoch, or for the full run when the file compiles something,
since a compiled program is keyed on its arguments); gradients at the initial parameters; the
timed training; predictions. A failure in one stage is recorded in that implementation's row
and the others run on. first_call_s is the first call's time minus what the same work takes
warm, i.e. the one-time cost of setting up and compiling.

--format json prints one object (NaN and infinity are written as null):

    {"config": {"task", "hidden", "lr", "epochs", "seed", "dtype", "impls", "jobs", "predict"},
     "notes":  [one line per implementation that is missing, failed or diverged],
     "tables": {name: [one object per row, keyed by column name], ...},   names as listed above
     "curves": {impl: [mean loss after each epoch]},
     "wall_s": seconds for the whole run,
     "load_avg": the 1-minute load average when the run started (null where the OS has none)}

Column names are the same in every format; *_s are seconds, *_us microseconds, *_x a ratio to
hand, *diff an absolute difference from hand (max_rel_diff: |diff| / |hand| where hand != 0).
"""
import ast
import concurrent.futures
import importlib.util
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import impls
from shared import glyphs, validate
from shared import store
from shared.store import write_atomic
from shared.params import GROUPS, HIDDEN, SEED, group_values, init_params
from tools import cli

# pandas (0.6 s) and matplotlib (0.7 s) are imported where they are used: a worker process
# imports this module too, and must time its framework's import, not ours.

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("text", "markdown", "csv", "json")
# Longest first, so the short ones fill the gaps when fewer workers than implementations run.
START_ORDER = ("torch", "jax", "hand", "numpy")
# A 1-minute load average at or above this, before the run starts, means other work is running.
BUSY_LOAD = 1.0


# ---------------------------------------------------------------------------- the options

def parse(argv):
    """argv -> options, every value checked before anything runs (one-line errors)."""
    parser = cli.Parser(prog="compare.py", description=(
        "One tiny network in every installed framework, side by side. Other modes, each with its own "
        "--help: --task digits, --check, --drift, --golden, --bench."))
    add = parser.add_argument
    add("--task", default=glyphs.DEFAULT_TASK, help="is-one (default) or digit-value; digits has its own mode")
    add("--hidden", type=int, default=HIDDEN, help=f"hidden units H (default {HIDDEN})")
    add("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    add("--epochs", type=int, default=1000, help="epochs of per-sample SGD (default 1000)")
    add("--seed", type=int, default=SEED, help=f"seed of the shared initial parameters (default {SEED})")
    add("--impls", default=",".join(impls.KEYS),
        help=f"a comma-separated subset of {','.join(impls.KEYS)}; hand always runs, it is the reference")
    add("--dtype", default="float64", help="float64 (default) or float32; hand computes in float64 always")
    add("--format", default="text", choices=FORMATS, help="text (default), markdown, csv or json")
    add("--out", metavar="DIR", help="also write the report, every table as CSV and the plot into DIR")
    add("--plot", action="store_true", help="losses.png (in --out, else out/): loss curves, and |diff| from hand per epoch")
    add("--predict", metavar="GLYPH", help="a 3x3 glyph such as 010/010/010 for every trained network")
    add("--jobs", type=int, help="worker processes at a time (default: one per core; 0: all in this process)")
    options = parser.parse_args(argv)
    for package in ("numpy", "pandas"):
        # Checked before any training, without importing either (that is timed later).
        if importlib.util.find_spec(package) is None:
            raise impls.MissingFramework(f"{package}: not installed — pip install . (the tables need it)")

    if options.task not in glyphs.TASKS:
        raise ValueError(f"unknown task {options.task!r}: choose one of {', '.join(glyphs.TASKS)}, digits")
    if options.hidden < 1:
        raise ValueError(f"hidden is {options.hidden}: expected a whole number >= 1 (hidden units)")
    validate.check_dtype(options.dtype)
    validate.check_lr(options.lr, options.dtype)
    if options.epochs < 1:  # the library takes 0 (no training); a table of no training shows nothing
        raise ValueError(f"epochs is {options.epochs}: expected a whole number >= 1")
    validate.check_dtype(options.dtype)
    options.keys = selected_keys(options.impls)
    if options.predict is not None:
        options.glyph = glyphs.parse_glyph(options.predict)
        options.predict = glyphs.glyph_text(options.glyph)
    if options.jobs is None:
        options.jobs = min(len(options.keys), cpu_count())
    elif options.jobs < 0:
        raise ValueError(f"jobs is {options.jobs}: expected 0 (run in this process) or more worker processes")
    if options.out is not None or options.plot:  # checked before the run, so a bad path fails now
        store.check_folder_path(options.out or "out", "--out")
    return options


def selected_keys(text):
    keys = [key.strip() for key in text.split(",") if key.strip()]
    for key in keys:
        if key not in impls.KEYS:
            # impls.get's message, without importing a framework just to reject a name.
            raise ValueError(f"unknown implementation {key!r}: choose from {', '.join(impls.KEYS)}")
    return [key for key in impls.KEYS if key in keys or key == "hand"]


def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------- running one implementation

def run_impl(key, request):
    """Run one implementation through every stage -> a JSON-able dict of what it produced.

    request: task, hidden, seed, lr, epochs, dtype, warmup_epochs, glyph (9 floats or None).
    An exception in a stage is recorded in "errors" and the stages that do not need it still run.
    """
    result = {"key": key, "status": "ok", "errors": [], "warmup_epochs": request["warmup_epochs"]}
    X, T, _ = glyphs.dataset(request["task"])
    params = init_params(len(X[0]), request["hidden"], request["seed"])
    lr, epochs, dtype = request["lr"], request["epochs"], request["dtype"]

    result["already_imported"] = f"impls.nn_{key}" in sys.modules
    start = time.perf_counter()
    try:
        impl = impls.get(key)
    except impls.MissingFramework as missing:
        return {"key": key, "status": "missing", "message": str(missing)}
    except Exception as error:  # a broken install must not stop the other implementations
        return {"key": key, "status": "failed", "errors": [f"import: {type(error).__name__}: {error}"]}
    result["import_s"] = time.perf_counter() - start
    framework = impls.FRAMEWORKS.get(key)
    result["version"] = (f"{framework} {getattr(sys.modules.get(framework), '__version__', '?')}" if framework
                         else f"python {platform.python_version()}")

    def attempt(stage, work):
        try:
            return work()
        except Exception as error:  # recorded in this implementation's row; the others run on
            result["errors"].append(f"{stage}: {type(error).__name__}: {error}")
            return None

    with warnings.catch_warnings():
        # Overflow warnings from a diverging run are reported as divergence, in the tables.
        warnings.simplefilter("ignore")
        result["compute_dtype"] = attempt("compute_dtype", lambda: impl.compute_dtype(dtype))
        # A file's fast path, where it keeps one beside the readable train (nn_torch.train_fast),
        # is what it costs at its best; the test suite holds both to hand.
        train = getattr(impl, "train_fast", impl.train)
        result["trained_with"] = train.__name__
        start = time.perf_counter()
        if attempt("first call", lambda: train(params, X, T, lr, request["warmup_epochs"], dtype)) is not None:
            result["warmup_s"] = time.perf_counter() - start
        result["gradients"] = attempt("gradients", lambda: [impl.gradients(params, x, t, dtype) for x, t in zip(X, T)])
        start = time.perf_counter()
        trained = attempt("train", lambda: train(params, X, T, lr, epochs, dtype))
        if trained is not None:
            result["train_s"] = time.perf_counter() - start
            result["params"], result["losses"] = trained[0], [float(v) for v in trained[1]]
        # Diverged parameters (NaN, infinity) are rejected by predict's validation: the divergence
        # is the news, so do not report it as a failure to predict.
        if trained is not None and finite(flat([trained[0]])):
            result["predictions"] = attempt("predict", lambda: impl.predict(trained[0], X, dtype))
            if request.get("glyph") is not None:
                answer = attempt("predict glyph", lambda: impl.predict(trained[0], [request["glyph"]], dtype))
                result["glyph_p"] = answer[0] if answer else None
    if result["errors"]:
        result["status"] = "failed"
    return result


def worker_main():
    """A worker process: the request as JSON on stdin, the result as JSON on stdout."""
    # Frameworks may print to stdout: keep the real stdout for the result, send the rest to stderr.
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    request = json.load(sys.stdin)
    result = run_impl(request["key"], request)
    # CPU seconds of the whole worker, startup and import included: unlike wall time, not
    # inflated by other processes on a busy machine. Not in any table; --format json leaves it out.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["worker_cpu_s"] = usage.ru_utime + usage.ru_stime
    json.dump(result, result_out)  # NaN travels as the NaN token: both ends are Python
    result_out.close()
    return 0


WORKER = ("import sys; sys.path.insert(0, {root!r}); "
          "from tools.tables import worker_main; sys.exit(worker_main())")


def run_worker(key, request, threads=None):
    """run_impl in a fresh process; a crashed worker becomes a failed result, not an exception here.

    threads: the worker's share of the cores. Workers running side by side would otherwise each
    start a thread pool as large as the machine (PyTorch does) and fight over the cores: on 2
    cores that made PyTorch's training 2.5 times slower. joblib limits its workers the same way.
    A limit the user set in OMP_NUM_THREADS is kept.
    """
    command = [sys.executable, "-c", WORKER.format(root=str(ROOT))]
    env = dict(os.environ)
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(threads))
    done = subprocess.run(command, input=json.dumps({**request, "key": key}), capture_output=True, text=True,
                          env=env)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"key": key, "status": "failed", "errors": [f"worker exited with code {done.returncode}: {last}"]}


# ---------------------------------------------------------------------------- running them all

def run_all(options, concepts, progress=None):
    """Every selected implementation -> the run: config, dataset and one result per implementation."""
    X, T, labels = glyphs.dataset(options.task)
    config = {"task": options.task, "hidden": options.hidden, "lr": options.lr, "epochs": options.epochs,
              "seed": options.seed, "dtype": options.dtype}
    # A compiled training loop is keyed on its arguments (epochs is static to JAX's jit): warm it
    # up with the very call that is timed, so that the timed call is the warm one. A file that
    # compiles something else (nn_torch's compiled path, not what this run trains with) warms up
    # with one epoch like the rest.
    requests = {key: {**config, "glyph": getattr(options, "glyph", None),
                      "warmup_epochs": options.epochs if compiles_fit(concepts[key]) else 1}
                for key in options.keys}
    order = sorted(options.keys, key=START_ORDER.index)
    progress = progress or (lambda done, running, queued=(): None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # before we add to it
    start = time.perf_counter()
    results = {}
    if options.jobs == 0:
        for key in order:
            progress(list(results), [key])
            results[key] = run_impl(key, requests[key])
        import pandas  # noqa: F401  (imported here so that its time is never inside a measurement)
    else:
        with concurrent.futures.ThreadPoolExecutor(options.jobs) as pool:
            threads = max(1, cpu_count() // options.jobs)
            futures = {pool.submit(run_worker, key, requests[key], threads): key for key in order}
            pending, pandas_loaded = set(futures), False
            while pending:
                finished, pending = concurrent.futures.wait(pending, timeout=0.2)
                for future in finished:
                    results[futures[future]] = future.result()
                running = [key for key in order if any(futures[f] == key and f.running() for f in pending)]
                queued = [futures[f] for f in pending if futures[f] not in running]
                progress(list(results), running, queued)
                if not pandas_loaded and len(pending) < options.jobs:
                    # A core is free: import pandas now rather than after the last worker.
                    import pandas  # noqa: F401
                    pandas_loaded = True
    hand = impls.get("hand")
    initial_loss = hand.mean_loss(init_params(len(X[0]), options.hidden, options.seed), X, T)
    return {"config": {**config, "impls": options.keys, "jobs": options.jobs, "predict": options.predict},
            "X": X, "T": T, "labels": labels, "initial_loss": initial_loss,
            "results": {key: results[key] for key in options.keys},
            "wall_s": time.perf_counter() - start, "load_avg": load}


def progress_bar(stream=sys.stderr):
    """A one-line progress bar on stream, or nothing when stream is not a terminal."""
    if not stream.isatty():
        return None
    start = time.perf_counter()

    def show(done, running, queued=()):
        total = len(done) + len(running) + len(queued)
        bar = "#" * len(done) + ">" * len(running) + "-" * len(queued)
        what = f"running {', '.join(running)}" if running else "done" if not queued else "starting"
        stream.write(f"\r\033[K[{bar}] {len(done)}/{total} {what}  {time.perf_counter() - start:.1f} s")
        if not running and not queued:
            stream.write("\r\033[K")
        stream.flush()
    return show


# ---------------------------------------------------------------------------- reading the code

CONCEPTS = (("parameters", ("to_native",)), ("forward", ("forward",)), ("loss", ("loss", "mean_loss")),
            ("gradient", ("backward",)), ("update", ("sgd_step",)), ("training loop", ("fit",)))
# What compiles a function, by its full dotted name: the files are searched for these, so a
# compile added to any implementation shows up here without this module changing.
COMPILERS = {"jax.jit", "jax.pmap", "torch.compile", "torch.jit.script", "torch.jit.trace",
             "numba.jit", "numba.njit", "tensorflow.function"}


def compiles_fit(code):
    return any(target == "fit" for target, _, _ in code["compiled"])


def read_code(path):
    """impls/nn_x.py -> {"functions": {name: (first line, line count)}, "compiled": [(target, compiler, lines)]}."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    aliases = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for name in node.names:
                aliases[name.asname or name.name.split(".")[0]] = name.name if name.asname else name.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for name in node.names:
                aliases[name.asname or name.name] = f"{node.module}.{name.name}"

    def dotted(node):
        if isinstance(node, ast.Name):
            return aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            inner = dotted(node.value)
            return inner and f"{inner}.{node.attr}"
        return None

    def compilers_in(node):
        return [name for sub in ast.walk(node) if (name := dotted(sub)) in COMPILERS]

    functions, compiled, in_decorators = {}, [], set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            functions[node.name] = (first, node.end_lineno - first + 1)
            for decorator in node.decorator_list:
                in_decorators.update(id(sub) for sub in ast.walk(decorator))
                for name in compilers_in(decorator):
                    compiled.append((node.name, name, decorator.end_lineno - decorator.lineno + 1))
    # Compiling by a call (fit = torch.compile(fit), jax.jit(step) inside a function): the target
    # is the call's first argument when it is a name.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in in_decorators:
            for name in compilers_in(node.func):
                first = node.args[0] if node.args else None
                target = first.id if isinstance(first, ast.Name) else "an expression"
                compiled.append((target, name, node.end_lineno - node.lineno + 1))
    return {"functions": functions, "compiled": compiled}


def read_concepts(keys):
    return {key: read_code(ROOT / "impls" / f"nn_{key}.py") for key in keys}


# ---------------------------------------------------------------------------- the tables (pure: run -> DataFrame)

@dataclass
class Table:
    name: str
    title: str
    frame: object  # a pandas DataFrame
    notes: list = field(default_factory=list)


def finite(values):
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def divergence(result, initial_loss):
    """(epoch, words) if training diverged, else (None, None); epoch None when it cannot be told.

    Diverged: a loss that is not finite (the first such epoch), parameters that are not finite,
    or a final loss above the loss before training (sigmoids saturated by a huge lr keep every
    number finite: the loss jumps to a plateau instead, and the epoch is the first one above).
    """
    losses = result.get("losses") or []
    bad = next((e for e, v in enumerate(losses, 1) if not math.isfinite(v)), None)
    if bad is not None:
        return bad, f"diverged in epoch {bad}: the loss is {losses[bad - 1]}"
    if result.get("params") is not None and not finite(flat([result["params"]])):
        return None, "diverged: parameters not finite after training (the loss stayed finite)"
    if losses and losses[-1] > initial_loss:
        rose = next(e for e, v in enumerate(losses, 1) if v > initial_loss)
        return rose, (f"diverged in epoch {rose}: the loss rose from {initial_loss:.3g} before training to "
                      f"{losses[rose - 1]:.3g}, and ended at {losses[-1]:.3g}")
    return None, None


def status_of(result, initial_loss):
    """One implementation's outcome in words: ok, not installed, diverged in an epoch, failed in a stage."""
    if result["status"] == "missing":
        return result["message"].split(": ", 1)[1]
    _, diverged = divergence(result, initial_loss)
    if diverged:
        # Before errors: predict rejects NaN parameters, and the divergence is the cause.
        return diverged
    if result["errors"]:
        return "failed in " + result["errors"][0]
    for what in ("predictions", "gradients"):
        values = result.get(what)
        if values is not None and not finite(flat(values)):
            return f"failed: NaN or infinity in its {what}"
    return "ok"


def flat(values):
    """Predictions or a list of gradient dicts -> one flat list of numbers."""
    out = []
    for v in values:
        if isinstance(v, dict):
            out.extend(x for g in GROUPS for x in group_values(v, g))
        else:
            out.append(v)
    return out


def present(run):
    """The implementations that ran (not missing), in order."""
    return [k for k, r in run["results"].items() if r["status"] != "missing"]


def columns_for(run, what):
    """The implementations with at least one finite value in result[what], and a note naming the rest.

    A column of nothing but blanks says less than one line: the rest are named, and why is in
    the implementations table.
    """
    keys = [k for k in present(run) if any(math.isfinite(v) for v in run["results"][k].get(what) or [])]
    left = [k for k in present(run) if k not in keys]
    return keys, [f"No {what} from {', '.join(left)}: see the status above."] if left else []


def max_abs(a, b):
    """max |a - b| over two equal-length lists; NaN if either has no value or any is not finite."""
    if a is None or b is None:
        return math.nan
    diffs = [abs(x - y) for x, y in zip(a, b)]
    return max(diffs) if diffs and finite(diffs) else math.nan


def implementations_table(run):
    import pandas as pd
    rows = []
    for key, result in run["results"].items():
        rows.append({"impl": key, "version": result.get("version", ""),
                     "asked_dtype": run["config"]["dtype"], "computed_dtype": result.get("compute_dtype") or "",
                     "trained_with": result.get("trained_with", ""),
                     "status": status_of(result, run["initial_loss"])})
    notes = ["computed_dtype is what the implementation reports it really computed in (compute_dtype).",
             "trained_with: train, or the fast path a file keeps beside it (same protocol, held to hand by the tests)."]
    return Table("implementations", "Implementations", pd.DataFrame(rows), notes)


def predictions_table(run):
    import pandas as pd
    keys, left = columns_for(run, "predictions")
    frame = pd.DataFrame({"glyph": [glyphs.draw(x).replace("\n", "/") for x in run["X"]],
                          "digit": run["labels"], "target": run["T"]})
    for key in keys:
        frame[key] = run["results"][key]["predictions"]
    frame["max_abs_diff"] = max_diff_from_hand(frame, keys)
    return Table("predictions", "Predictions after training", frame,
                 ["max_abs_diff: the largest |p - p_hand| over the other implementations (hand in float64)."] + left)


def max_diff_from_hand(frame, keys):
    others = [k for k in keys if k != "hand"]
    if "hand" not in keys or not others:
        return math.nan
    # skipna=False: a NaN in one implementation's column makes the row's largest difference unknown.
    return frame[others].sub(frame["hand"], axis=0).abs().max(axis=1, skipna=False)


def gradients_table(run):
    import pandas as pd
    hand = run["results"]["hand"].get("gradients")
    rows = []
    for key in present(run):
        if key == "hand":
            continue
        grads = run["results"][key].get("gradients")
        for group in GROUPS:
            row = {"impl": key, "group": group, "max_abs_diff": math.nan, "max_rel_diff": math.nan}
            if grads is not None and hand is not None:
                ours = [v for g in grads for v in group_values(g, group)]
                ref = [v for g in hand for v in group_values(g, group)]
                row["max_abs_diff"] = max_abs(ours, ref)
                rel = [abs(x - y) / abs(y) for x, y in zip(ours, ref) if y != 0]
                row["max_rel_diff"] = max(rel) if rel and finite(rel) else (0.0 if finite(ours) else math.nan)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=["impl", "group", "max_abs_diff", "max_rel_diff"])
    n = len(run["X"])
    return Table("gradients", "Gradient agreement at the initial parameters", frame,
                 [f"d(t - p)^2/dtheta for each of the {n} samples, compared with hand's; max over samples and over "
                  "the group's entries. max_rel_diff skips entries where hand's gradient is exactly 0."])


def report_epochs(epochs):
    """First, powers of ten, the middle, last: 1000 -> 1, 10, 100, 500, 1000."""
    chosen = {1, epochs, max(1, epochs // 2)}
    chosen.update(10 ** k for k in range(1, len(str(epochs))) if 10 ** k < epochs)
    return sorted(chosen)


def losses_table(run):
    import pandas as pd
    epochs = report_epochs(run["config"]["epochs"])
    frame = pd.DataFrame({"epoch": epochs})
    keys, left = columns_for(run, "losses")
    for key in keys:
        frame[key] = [run["results"][key]["losses"][e - 1] for e in epochs]
    frame["max_abs_diff"] = max_diff_from_hand(frame, keys)
    return Table("losses", "Training: mean loss after selected epochs", frame,
                 [f"Loss before training: {run['initial_loss']:.6f} (hand, float64)."] + left)


def training_table(run):
    import pandas as pd
    hand = run["results"]["hand"]
    rows = []
    for key in present(run):
        result = run["results"][key]
        losses, params = result.get("losses"), result.get("params")
        epoch, _ = divergence(result, run["initial_loss"])
        row = {"impl": key, "final_loss": losses[-1] if losses else math.nan,
               "diverged_in_epoch": math.nan if epoch is None else epoch,
               "max_loss_diff": max_abs(losses, hand.get("losses"))}
        for group in GROUPS:
            row[f"{group}_diff"] = (max_abs(group_values(params, group), group_values(hand["params"], group))
                                    if params is not None and hand.get("params") is not None else math.nan)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["diverged_in_epoch"] = frame["diverged_in_epoch"].astype("Int64")  # a whole number, or blank
    return Table("training", "Training: agreement with hand after training", frame,
                 ["max_loss_diff: over every epoch; W1_diff..b2_diff: the largest |param - hand's| in each group.",
                  "diverged_in_epoch: the first epoch whose loss is not finite or above the loss before training."])


def cost_table(run):
    import pandas as pd
    epochs, n = run["config"]["epochs"], len(run["X"])
    rows = []
    for key in present(run):
        result = run["results"][key]
        train_s = result.get("train_s", math.nan)
        first = result.get("warmup_s", math.nan) - train_s * result.get("warmup_epochs", 1) / epochs
        # An implementation imported before this run (--jobs 0, a second run) has no import to time.
        import_s = math.nan if result.get("already_imported") else result.get("import_s", math.nan)
        rows.append({"impl": key, "import_s": import_s,
                     "first_call_s": max(first, 0.0) if math.isfinite(first) else math.nan,
                     "train_s": train_s, "step_us": train_s / (epochs * n) * 1e6})
    frame = pd.DataFrame(rows, columns=["impl", "import_s", "first_call_s", "train_s", "step_us"])
    hand = frame[frame["impl"] == "hand"]
    for column in ("import_s", "first_call_s", "train_s", "step_us"):
        reference = hand[column].iloc[0] if len(hand) else math.nan
        ratio = column.rsplit("_", 1)[0] + "_x"
        frame[ratio] = frame[column] / reference if reference > 0 else math.nan
    jobs = run["config"]["jobs"]
    threads = os.environ.get("OMP_NUM_THREADS", max(1, cpu_count() // jobs) if jobs else None)
    where = (f"each implementation in a fresh worker process, {jobs} at a time on {cpu_count()} cores, "
             f"OMP_NUM_THREADS={threads} each" if jobs
             else "all in this process (--jobs 0); an import done before this run is not timed (—)")
    notes = [f"Measured in this run, {where}.",
             "first_call_s: the first train() call's time minus what the same work takes warm (setup, compilation).",
             f"step_us: train_s / ({epochs} epochs x {n} samples), the per-epoch loss included; *_x: ratio to hand."]
    load = run.get("load_avg")
    if load is not None and load >= BUSY_LOAD:
        notes.append(f"The machine was busy: load average {load:.1f} on {cpu_count()} cores when the run started. "
                     "Other work shares the cores, so every time above is longer than on an idle machine.")
    return Table("cost", "Cost", frame, notes)


def concepts_table(concepts):
    import pandas as pd
    rows = []
    for concept, names in CONCEPTS:
        row = {"concept": concept}
        for key, code in concepts.items():
            found = [(name, code["functions"][name][1]) for name in names if name in code["functions"]]
            row[key] = (" + ".join(name for name, _ in found) + f" ({sum(n for _, n in found)})") if found else "—"
        rows.append(row)
    row = {"concept": "compilation"}
    for key, code in concepts.items():
        row[key] = ", ".join(f"{target} <- {by} ({n})" for target, by, n in code["compiled"]) or "—"
    rows.append(row)
    return Table("concepts", "Concept map", pd.DataFrame(rows),
                 ["function (lines), read from impls/nn_*.py with ast when this table is built."])


def predict_table(run):
    import pandas as pd
    task, hand = run["config"]["task"], run["results"]["hand"].get("glyph_p")
    rows, left = [], []
    for key in present(run):
        p = run["results"][key].get("glyph_p")
        if p is None or not math.isfinite(p):
            left.append(key)
            continue
        rows.append({"impl": key, "p": p, "answer": glyphs.read_out(task, p),
                     "abs_diff": abs(p - hand) if hand is not None else math.nan})
    glyph = run["config"]["predict"]
    meaning = "answer: 1 if p >= 0.5 (it is a one), else 0" if task == "is-one" else "answer: round(10 p), the digit"
    drawn = glyphs.draw(glyphs.parse_glyph(glyph)).splitlines()
    notes = drawn + [meaning] + ([f"No answer from {', '.join(left)}: see the status above."] if left else [])
    return Table("predict", f"Prediction for {glyph}", pd.DataFrame(rows, columns=["impl", "p", "answer", "abs_diff"]),
                 notes)


def build_tables(run, concepts):
    tables = [implementations_table(run), predictions_table(run), gradients_table(run),
              losses_table(run), training_table(run), cost_table(run), concepts_table(concepts)]
    if run["config"]["predict"] is not None:
        tables.append(predict_table(run))
    return tables


def notes_of(run):
    """One line per implementation that is not ok: what a user must see before any table."""
    lines = []
    for key, result in run["results"].items():
        status = status_of(result, run["initial_loss"])
        if status != "ok":
            lines.append(f"{key}: {status}")
    return lines


# ---------------------------------------------------------------------------- printing

def blank(value):
    """No number here: None, NaN, infinity, or pandas' NA of a whole-number column."""
    import pandas as pd
    return value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value))


def cell(column, value):
    """One value as text, its precision chosen by its column's name."""
    if isinstance(value, str):
        return value
    if blank(value):
        return "—"
    if isinstance(value, bool) or not isinstance(value, float) or column in ("epoch", "digit"):
        return str(int(value)) if isinstance(value, float) else str(value)
    if column.endswith("diff"):
        return "0" if value == 0 else f"{value:.1e}"
    if column.endswith("_s"):
        return f"{value:.3f}"
    if column.endswith("_us"):
        return f"{value:.1f}"
    if column.endswith("_x"):
        return f"{value:.3g}"
    return f"{value:.6f}"


def as_text(frame):
    """The table as a DataFrame of strings: the same cells for text and markdown."""
    import pandas as pd
    # .tolist() gives Python ints and floats, so cell() sees an int column's values as ints.
    return pd.DataFrame({c: [cell(c, v) for v in frame[c].tolist()] for c in frame.columns}, dtype=object)


def numeric(frame):
    return [frame[c].dtype.kind in "iuf" for c in frame.columns]


def text_table(frame):
    """Columns of text: numbers right-aligned so their digits line up, words left-aligned."""
    strings = as_text(frame)
    rows = [list(strings.columns)] + strings.values.tolist()
    widths = [max(len(row[i]) for row in rows) for i in range(len(strings.columns))]
    return "\n".join("  ".join(v.rjust(w) if right else v.ljust(w) for v, w, right in
                               zip(row, widths, numeric(frame))).rstrip() for row in rows)


def render_text(run, tables):
    lines = [header(run)] + notes_of(run) + [""]
    for number, table in enumerate(tables, 0):
        body = text_table(table.frame) if len(table.frame) else f"   {EMPTY}"
        lines += [f"{number}. {table.title}", body]
        lines += [f"   {note}" for note in table.notes] + [""]
    lines.append(f"wall time {run['wall_s']:.1f} s")
    return "\n".join(lines)


EMPTY = "(no rows: no implementation besides hand to compare)"


def markdown(frame):
    strings = as_text(frame)
    out = ["| " + " | ".join(strings.columns) + " |",
           "|" + "|".join("---:" if right else "---" for right in numeric(frame)) + "|"]
    for row in strings.itertuples(index=False):
        out.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(out)


def render_markdown(run, tables):
    lines = [f"**{header(run)}**", ""] + [f"- {note}" for note in notes_of(run)]
    for table in tables:
        lines += ["", f"### {table.title}", "", markdown(table.frame) if len(table.frame) else EMPTY, ""]
        lines += [f"{note}  " for note in table.notes]
    return "\n".join(lines)


def render_csv(run, tables):
    return "\n".join(f"# {table.name}\n{table.frame.to_csv(index=False)}" for table in tables)


def plain(value):
    """A number or structure with NaN and infinity as None: strict JSON."""
    if blank(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item"):  # a NumPy scalar out of a DataFrame
        return plain(value.item())
    return value


def report_json(run, tables):
    return {"config": run["config"],
            "notes": notes_of(run),
            "tables": {t.name: plain(t.frame.to_dict(orient="records")) for t in tables},
            "curves": {k: plain(r.get("losses")) for k, r in run["results"].items() if r["status"] != "missing"},
            "wall_s": run["wall_s"], "load_avg": run.get("load_avg")}


def render_json(run, tables):
    return json.dumps(report_json(run, tables), indent=1, allow_nan=False)


RENDER = {"text": render_text, "markdown": render_markdown, "csv": render_csv, "json": render_json}
EXTENSION = {"text": "txt", "markdown": "md", "csv": "csv", "json": "json"}


def header(run):
    c = run["config"]
    n_in = len(run["X"][0])
    return (f"nn-rosetta · task {c['task']} ({len(run['X'])} glyphs) · {n_in}-{c['hidden']}-1 · lr {c['lr']:g} · "
            f"{c['epochs']} epochs · seed {c['seed']} · {c['dtype']}")


def write_out(directory, run, tables, report, format):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [write_atomic(directory / f"report.{EXTENSION[format]}", report + "\n")]
    for table in tables:
        written.append(write_atomic(directory / f"{table.name}.csv", table.frame.to_csv(index=False)))
    return written


# ---------------------------------------------------------------------------- main

def main(argv):
    options = parse(argv)
    concepts = read_concepts(options.keys)
    run = run_all(options, concepts, progress_bar())
    tables = build_tables(run, concepts)
    report = RENDER[options.format](run, tables)
    print(report)
    written = []
    if options.out is not None:
        written += write_out(options.out, run, tables, report, options.format)
    if options.plot or options.out is not None:
        from tools import plots
        # Without --out the picture goes to out/, beside the other commands' output, not into the checkout.
        written.append(plots.plot_losses(run, Path(options.out or "out") / "losses.png"))
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0
