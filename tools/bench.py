"""python compare.py --bench: what each implementation costs on the same per-sample SGD, and where the time goes.

    python compare.py --bench                         every installed implementation, glyphs and digits
    python compare.py --bench --impls hand,numpy --workload glyphs --repeats 5
    python compare.py --bench --scaling               time per step as H grows and as the dataset grows, plus a PNG
    python compare.py --bench --format markdown       the tables as the README shows them
    python compare.py --bench --torch-threads 1       PyTorch with one intra-op thread (said in the header)

Workloads (float64, lr 0.1, initial parameters from shared.params, as compare.py trains them):
    glyphs   impl.train on the 18 is-one glyphs, 9 -> 9 -> 1, 1000 epochs        = 18,000 SGD steps
    digits   impl.train_many: ten one-vs-rest networks 64 -> 1 -> 1 on the 1,797
             bundled 8x8 digits, 10 epochs                                       = 17,970 steps of all ten

For each implementation (and each `train_fast` / `train_compiled` / `train_many_...` beside the readable functions):
import time in a fresh interpreter, the first call, the warm-up it costs (first call minus the median
steady call: JAX's compilation, PyTorch's lazy set-up), the steady training time over --repeats calls
(min and median), time per SGD step, and the ratios to the hand-written version and to a compiled C
loop, all from the same run. Every result is held to the hand-written one (the same 1e-9 the tests use).

Timed calls skip shared.validate's input checks (the bench builds its inputs, and checks them once,
timed on a line of its own): validation is the same Python for every implementation, so it is no
framework's cost, and on the digits it outweighs the training of the fastest ones.

Two reference rows are not implementations: "torch naive", the textbook PyTorch loop the issue's
PyTorch targets are stated against (nn.Sequential, nn.MSELoss, optim.SGD, zero_grad/backward/step,
one sample at a time, the ten digit networks one after another), and "C loop", the hand-written
algorithm in C, compiled here with the system's C compiler when there is one.
"""
import contextlib
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import impls
from shared import glyphs, store, validate
from shared.params import flatten, init_networks, init_params
from tools.cli import Parser, plural

# The real check, kept before any timed run replaces validate's functions (see inputs_checked_once).
CHECK_PARAMS = validate.check_params

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LR = 0.1
DTYPE = "float64"  # the figures are float64; every implementation computes it for real
GLYPH_EPOCHS = 1000
DIGIT_EPOCHS = 10
DIGIT_HIDDEN = 1

# A call slower than this is repeated once, not --repeats times: its noise is small next to it.
SLOW_S = 5.0
# The naive PyTorch loop on the digits takes over a minute; by default it runs this many epochs and
# its time is scaled up to the workload's, which is fair: each epoch does the same work.
NAIVE_DIGIT_EPOCHS = 1
# Two float64 runs of the same SGD differ by summation order only; tests/test_core.py holds whole
# runs to 1e-9 (relative, absolute below 1), and so does the bench.
AGREE_TOL = 1e-9

SCALING_HIDDEN = (1, 9, 64, 256)
SCALING_COPIES = (1, 10, 100)
# Every scaling cell runs this many SGD steps (epochs = steps / samples): its time per step is the
# figure, and the cells stay short enough to run the whole grid in about a minute.
SCALING_STEPS = 3600

# Issue 6's figures for a tight compiled C loop, float64, 2 cores: shown when no compiler is here.
QUOTED_C = {"glyphs": 5e-3, "digits": 25e-3}

# Issue 6's targets, ratios measured in one run.
JAX_OVER_C_MAX = 2.0
TORCH_SPEEDUP_MIN = {"glyphs": 5.0, "digits": 30.0}
NUMPY_OVER_HAND_DIGITS_MIN = 3.0
DEFAULT_RUN_MAX_S = 6.0

WORKLOADS = ("glyphs", "digits")
SKIPPABLE = ("naive", "compiled", "c", "imports", "wall")
FORMATS = ("text", "markdown", "json")


# --- the workloads -----------------------------------------------------------------------------

def glyph_workload(epochs=GLYPH_EPOCHS, hidden=9, copies=1):
    X, T, _ = glyphs.dataset("is-one")
    X, T = X * copies, T * copies
    params = init_params(len(X[0]), hidden)
    title = f"is-one glyphs{f' x{copies}' if copies > 1 else ''}, {len(X)} samples x {epochs} epochs, " \
            f"{len(X[0])} -> {hidden} -> 1, impl.train"
    return {"name": "glyphs", "title": title, "many": False, "X": X, "targets": [T], "networks": [params],
            "epochs": epochs, "hidden": hidden, "copies": copies, "samples": len(X)}


def digit_workload(epochs=DIGIT_EPOCHS):
    from shared import digits
    X, labels = digits.load_bundled()
    targets = digits.one_vs_rest(labels)
    networks = init_networks(len(targets), len(X[0]), DIGIT_HIDDEN)
    title = f"bundled 8x8 digits, {len(X)} images x {epochs} epochs, {len(targets)} one-vs-rest networks " \
            f"{len(X[0])} -> {DIGIT_HIDDEN} -> 1, impl.train_many (a step = one sample through all ten)"
    return {"name": "digits", "title": title, "many": True, "X": X, "targets": targets, "networks": networks,
            "epochs": epochs, "hidden": DIGIT_HIDDEN, "copies": 1, "samples": len(X)}


def steps(workload, epochs=None):
    return workload["samples"] * (workload["epochs"] if epochs is None else epochs)


def caller(function, workload, epochs=None):
    """A no-argument call of a protocol function on the workload -> [(params, losses)], one per network."""
    epochs = workload["epochs"] if epochs is None else epochs
    X, targets, networks = workload["X"], workload["targets"], workload["networks"]
    if workload["many"]:
        return lambda: function(networks, X, targets, LR, epochs, DTYPE)
    return lambda: [function(networks[0], X, targets[0], LR, epochs, DTYPE)]


def warm_up(function, workload):
    """One epoch on two samples and one network: whatever a framework sets up on its first call, cheaply."""
    X, targets, networks = workload["X"][:2], [T[:2] for T in workload["targets"][:1]], workload["networks"][:1]
    if workload["many"]:
        return function(networks, X, targets, LR, 1, DTYPE)
    return function(networks[0], X, targets[0], LR, 1, DTYPE)


# --- the naive PyTorch reference ---------------------------------------------------------------

def naive_torch_train(params, X, T, lr=LR, epochs=GLYPH_EPOCHS, dtype=DTYPE):
    """The textbook PyTorch loop, one sample at a time: the reference the issue's PyTorch targets
    are stated against. A measuring reference, not an implementation: it lives in the bench."""
    import torch
    from torch import nn

    torch_dtype = getattr(torch, dtype)
    n_in, hidden = len(X[0]), len(params["W1"])
    model = nn.Sequential(nn.Linear(n_in, hidden), nn.Sigmoid(), nn.Linear(hidden, 1), nn.Sigmoid()).to(torch_dtype)
    with torch.no_grad():  # the shared start, copied in: nn.Linear's weight is (out, in), as W1 is
        model[0].weight.copy_(torch.tensor(params["W1"], dtype=torch_dtype))
        model[0].bias.copy_(torch.tensor(params["b1"], dtype=torch_dtype))
        model[2].weight.copy_(torch.tensor([params["W2"]], dtype=torch_dtype))
        model[2].bias.copy_(torch.tensor([params["b2"]], dtype=torch_dtype))
    X, T = torch.tensor(X, dtype=torch_dtype), torch.tensor(T, dtype=torch_dtype).reshape(-1, 1)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for x, t in zip(X, T):
            optimizer.zero_grad()
            loss = loss_fn(model(x), t)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            losses.append(float(loss_fn(model(X), T)))
    trained = {"W1": model[0].weight.tolist(), "b1": model[0].bias.tolist(),
               "W2": model[2].weight[0].tolist(), "b2": model[2].bias.item()}
    return trained, losses


def naive_torch_train_many(networks, X, targets, lr=LR, epochs=DIGIT_EPOCHS, dtype=DTYPE):
    """One network after another, as a first PyTorch version of one-vs-rest would do it."""
    return [naive_torch_train(params, X, T, lr, epochs, dtype) for params, T in zip(networks, targets)]


# --- the compiled C reference ------------------------------------------------------------------

# The hand-written algorithm in C, with hand's order of operations (and -ffp-contract=off, so no
# fused multiply-add rounds differently): per-sample SGD, then each epoch's mean loss, network after
# network. Parameters come in and go out as text, exactly (%.17g); the clock covers training only.
C_SOURCE = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

static double forward(int n_in, int H, const double *net, const double *x, double *h) {
    const double *W1 = net, *b1 = W1 + H * n_in, *W2 = b1 + H, b2 = W2[H];
    double z2 = 0.0;
    for (int j = 0; j < H; j++) {
        double z1 = 0.0;
        for (int i = 0; i < n_in; i++) z1 += W1[j * n_in + i] * x[i];
        h[j] = sigmoid(z1 + b1[j]);
        z2 += W2[j] * h[j];
    }
    return sigmoid(z2 + b2);
}

static void train(int n_in, int H, int N, int epochs, double lr, const double *X, const double *T,
                  double *net, double *losses, double *h) {
    double *W1 = net, *b1 = W1 + H * n_in, *W2 = b1 + H, *b2 = W2 + H;
    for (int e = 0; e < epochs; e++) {
        for (int s = 0; s < N; s++) {
            const double *x = X + (long)s * n_in;
            double p = forward(n_in, H, net, x, h);
            double dL_dp = -2.0 * (T[s] - p);
            double dL_dz2 = dL_dp * p * (1.0 - p);
            for (int j = 0; j < H; j++) {
                double dL_dz1 = dL_dz2 * W2[j] * h[j] * (1.0 - h[j]);  /* uses W2[j] before it moves */
                for (int i = 0; i < n_in; i++) W1[j * n_in + i] -= lr * (dL_dz1 * x[i]);
                b1[j] -= lr * dL_dz1;
                W2[j] -= lr * (dL_dz2 * h[j]);
            }
            *b2 -= lr * dL_dz2;
        }
        double sum = 0.0;
        for (int s = 0; s < N; s++) {
            double d = T[s] - forward(n_in, H, net, X + (long)s * n_in, h);
            sum += d * d;
        }
        losses[e] = sum / N;
    }
}

static double *read_doubles(long n) {
    double *v = malloc(sizeof(double) * (n > 0 ? n : 1));
    for (long k = 0; k < n; k++)
        if (scanf("%lf", &v[k]) != 1) exit(3);
    return v;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(void) {
    int n_in, H, N, K, epochs, calls;
    double lr;
    if (scanf("%d %d %d %d %d %d %lf", &n_in, &H, &N, &K, &epochs, &calls, &lr) != 7) return 3;
    long P = (long)H * n_in + 2 * H + 1;  /* W1, b1, W2, b2 of one network, in that order */
    double *X = read_doubles((long)N * n_in), *T = read_doubles((long)K * N), *init = read_doubles(K * P);
    double *net = malloc(sizeof(double) * K * P), *h = malloc(sizeof(double) * H);
    double *losses = malloc(sizeof(double) * K * (epochs > 0 ? epochs : 1));
    for (int c = 0; c < calls; c++) {
        for (long q = 0; q < K * P; q++) net[q] = init[q];
        double start = now();
        for (int k = 0; k < K; k++)
            train(n_in, H, N, epochs, lr, X, T + (long)k * N, net + k * P, losses + (long)k * epochs, h);
        printf("time %.9e\n", now() - start);
    }
    for (int k = 0; k < K; k++) {
        printf("net");
        for (long q = 0; q < P; q++) printf(" %.17g", net[k * P + q]);
        printf("\nlosses");
        for (int e = 0; e < epochs; e++) printf(" %.17g", losses[(long)k * epochs + e]);
        printf("\n");
    }
    return 0;
}
"""


def c_compiler():
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class CLoop:
    """The C reference, compiled once per bench run into a temporary folder."""

    def __init__(self, folder):
        self.compiler = c_compiler()
        self.exe = None
        self.compile_s = None
        if self.compiler is None:
            return
        source = os.path.join(folder, "nn_loop.c")
        with open(source, "w") as file:
            file.write(C_SOURCE)
        exe = os.path.join(folder, "nn_loop")
        start = time.perf_counter()
        built = subprocess.run([self.compiler, "-O2", "-ffp-contract=off", "-o", exe, source, "-lm"],
                               capture_output=True, text=True)
        self.compile_s = time.perf_counter() - start
        if built.returncode == 0:
            self.exe = exe
        else:
            self.error = (built.stderr.strip().splitlines() or ["no message"])[-1]

    def run(self, workload, calls):
        """calls timed trainings in one process -> (times in s, [(params, losses)])."""
        X, targets, networks, epochs = workload["X"], workload["targets"], workload["networks"], workload["epochs"]
        n_in, hidden = len(X[0]), len(networks[0]["W1"])
        numbers = [n_in, hidden, len(X), len(targets), epochs, calls, LR]
        numbers += [v for x in X for v in x] + [t for T in targets for t in T]
        numbers += [v for params in networks for v in flatten(params)]
        done = subprocess.run([self.exe], input=" ".join(map(repr, numbers)), capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"the C reference loop failed (exit {done.returncode}): skip it with --skip c")
        times, results, net = [], [], None
        for line in done.stdout.splitlines():
            kind, *values = line.split()
            if kind == "time":
                times.append(float(values[0]))
            elif kind == "net":
                net = [float(v) for v in values]
            else:
                results.append((unflatten(net, n_in, hidden), [float(v) for v in values]))
        return times, results


def unflatten(values, n_in, hidden):
    W1 = [values[j * n_in:(j + 1) * n_in] for j in range(hidden)]
    rest = values[hidden * n_in:]
    return {"W1": W1, "b1": rest[:hidden], "W2": rest[hidden:2 * hidden], "b2": rest[2 * hidden]}


# --- measuring ---------------------------------------------------------------------------------

class SkippedChecks:
    """Counts the validation calls that timed runs skipped."""
    count = 0


@contextlib.contextmanager
def inputs_checked_once():
    """While timing, shared.validate's checks do nothing: the bench checked its inputs once already.

    The implementations look them up as validate.check_*, so replacing the module's functions
    reaches every implementation and fast path; a row that still validates would show it in its
    time (and in SkippedChecks staying at zero).
    """
    saved = {name: value for name, value in vars(validate).items() if name.startswith("check_")}

    def skip(*args, **kwargs):
        SkippedChecks.count += 1

    try:
        for name in saved:
            setattr(validate, name, skip)
        yield
    finally:
        for name, value in saved.items():
            setattr(validate, name, value)


class CPU:
    """Process CPU seconds of the last timed call: above its wall time, thread pools were working (or spinning)."""
    last = None


def timed(call):
    gc.collect()  # garbage left by the previous call is not this one's cost
    cpu, start = time.process_time(), time.perf_counter()
    result = call()
    wall = time.perf_counter() - start
    CPU.last = time.process_time() - cpu
    return wall, result


def summary(times):
    return {"all": times, "min": min(times), "median": statistics.median(times)}


def validation_time(workload, repeats):
    X, targets, networks, epochs = workload["X"], workload["targets"], workload["networks"], workload["epochs"]
    if workload["many"]:
        check = lambda: validate.check_train_many(networks, X, targets, LR, epochs, DTYPE)
    else:
        check = lambda: validate.check_train(networks[0], X, targets[0], LR, epochs, DTYPE)
    return summary([timed(check)[0] for _ in range(repeats)])


def import_time(key, repeats):
    """Seconds to import the implementation in a fresh interpreter (in this one it is cached)."""
    code = f"import time; t = time.perf_counter(); import impls.nn_{key}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            return None
        times.append(float(done.stdout.split()[-1]))
    return summary(times)


def default_run_wall():
    """Wall seconds of `python compare.py` with no options, interpreter start and imports included."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, os.path.join(REPO, "compare.py")], cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"wall_s": time.perf_counter() - start, "exit_code": done.returncode}


def agreement(results, reference, workload, epochs):
    """Max |difference| from hand's parameters and whether every one is within AGREE_TOL; or what breaks the protocol."""
    n_in, hidden = len(workload["X"][0]), workload["hidden"]
    if len(results) != len(workload["networks"]):
        return {"protocol": f"{len(results)} results for {len(workload['networks'])} networks"}
    for params, losses in results:
        try:
            shape = CHECK_PARAMS(params)
        except (TypeError, ValueError) as error:
            return {"protocol": f"returned params: {error}"}
        if shape != (hidden, n_in) or len(losses) != epochs:
            return {"protocol": f"returned H, n_in = {shape} and {len(losses)} losses: expected "
                                f"{(hidden, n_in)} and {epochs}"}
    if reference is None:
        return {}
    worst, agrees = 0.0, True
    for (params, _), (want, _) in zip(results, reference):
        for g, w in zip(flatten(params), flatten(want)):
            worst = max(worst, abs(g - w))
            agrees = agrees and abs(g - w) <= AGREE_TOL * max(1.0, abs(w))
    return {"max_diff": worst, "agrees": agrees}


def variants(keys, workload, skip):
    """(name, impl key, kind, function) for every row of a workload, in reading order."""
    rows = []
    function_name = "train_many" if workload["many"] else "train"
    for key in keys:
        module = impls.get(key)
        rows.append((key, key, "impl", getattr(module, function_name)))
        for kind in ("fast", "compiled"):
            beside = getattr(module, f"{function_name}_{kind}", None)
            if callable(beside) and kind not in skip:
                rows.append((f"{key} {kind}", key, kind, beside))
        if key == "torch" and "naive" not in skip:
            naive = naive_torch_train_many if workload["many"] else naive_torch_train
            rows.append(("torch naive", key, "naive", naive))
    return rows


def measure_workload(workload, keys, repeats, skip, c_loop, imports, full_naive, log):
    """Every row of one workload's table, ratios taken within this run."""
    epochs, n_steps = workload["epochs"], steps(workload)
    rows, failed = [], []
    reference = None
    validation = validation_time(workload, repeats)
    with inputs_checked_once():
        for name, key, kind, function in variants(keys, workload, skip):
            log(f"{workload['name']}: {name}")
            row = {"variant": name, "impl": key, "kind": kind, "import_s": imports.get(key), "note": ""}
            if kind == "naive":
                # Its warm-up is PyTorch's, already paid by the torch row; one short call makes sure.
                naive_epochs = epochs
                if workload["many"] and not full_naive and epochs > NAIVE_DIGIT_EPOCHS:
                    naive_epochs = NAIVE_DIGIT_EPOCHS
                warm_up(function, workload)
                elapsed, results = timed(caller(function, workload, naive_epochs))
                row["first_s"] = row["warmup_s"] = None
                row["train_s"] = summary([elapsed * epochs / naive_epochs])
                row["cpu_per_wall"] = CPU.last / elapsed
                if naive_epochs != epochs:
                    row["note"] = f"timed over {naive_epochs} of {epochs} epochs, scaled x{epochs // naive_epochs}"
                    results = None
                else:
                    row["note"] = "timed once"
            else:
                skipped_before = SkippedChecks.count
                try:
                    first, results = timed(caller(function, workload))
                except Exception as error:
                    if kind != "compiled":
                        raise
                    # torch.compile needs a working C++ compiler: without one this row is left out, said why.
                    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
                    failed.append(f"{name}: not timed, its first call failed ({type(error).__name__}: {reason})")
                    continue
                # A compiled row's first call is mostly compiling: its steady calls are short, so all are timed.
                calls = 1 if first >= SLOW_S and kind != "compiled" else repeats
                times, cpu = [], []
                for _ in range(calls):
                    times.append(timed(caller(function, workload))[0])
                    cpu.append(CPU.last)
                row["first_s"] = first
                row["train_s"] = summary(times)
                row["cpu_per_wall"] = cpu[times.index(min(times))] / min(times)
                row["warmup_s"] = max(0.0, first - row["train_s"]["median"])
                if calls < repeats:
                    row["note"] = f"over {SLOW_S:g} s: timed once after the first call"
                if kind == "compiled":
                    row["note"] = "warm-up is torch.compile (longest on a cold Inductor cache)"
                if SkippedChecks.count == skipped_before:
                    row["note"] = "; ".join(filter(None, [row["note"], "times include its own input validation"]))
            if results is not None:
                row.update(agreement(results, reference, workload, epochs))
                if name == "hand":
                    reference = results
            rows.append(row)
        if c_loop is not None and c_loop.exe is not None:
            log(f"{workload['name']}: C loop")
            times, results = c_loop.run(workload, 1 + repeats)
            row = {"variant": "C loop", "impl": None, "kind": "c", "import_s": None, "first_s": times[0],
                   "warmup_s": c_loop.compile_s, "train_s": summary(times[1:]),
                   "note": f"warm-up is compiling it ({os.path.basename(c_loop.compiler)} -O2)"}
            row.update(agreement(results, reference, workload, epochs))
            rows.append(row)
    hand = next((r for r in rows if r["variant"] == "hand"), None)
    c_row = next((r for r in rows if r["kind"] == "c"), None)
    for row in rows:
        row["per_step_s"] = row["train_s"]["min"] / n_steps
        row["ratio_hand"] = row["train_s"]["min"] / hand["train_s"]["min"] if hand else None
        row["ratio_c"] = row["train_s"]["min"] / c_row["train_s"]["min"] if c_row else None
    return {"name": workload["name"], "title": workload["title"], "epochs": epochs, "steps": n_steps,
            "validation_s": validation, "rows": rows, "failed": failed}


def best(rows, impl, kinds=("impl", "fast", "compiled")):
    """The fastest row of an implementation among the given kinds, or None."""
    found = [r for r in rows if r["impl"] == impl and r["kind"] in kinds]
    return min(found, key=lambda r: r["train_s"]["min"]) if found else None


def targets(workloads, wall):
    """Issue 6's targets, each as the ratio this run measured, where both sides were measured."""
    found = []
    for result in workloads:
        name, rows = result["name"], result["rows"]
        jax, c_row = best(rows, "jax"), next((r for r in rows if r["kind"] == "c"), None)
        default_epochs = GLYPH_EPOCHS if name == "glyphs" else DIGIT_EPOCHS
        if jax and c_row:
            found.append({"what": f"{name}: {jax['variant']} train / C loop", "value": jax["train_s"]["min"] / c_row["train_s"]["min"],
                          "target": f"<= {JAX_OVER_C_MAX:g}", "met": jax["train_s"]["min"] / c_row["train_s"]["min"] <= JAX_OVER_C_MAX})
        elif jax:
            quoted = QUOTED_C[name] * result["epochs"] / default_epochs
            found.append({"what": f"{name}: {jax['variant']} train / issue's quoted C time (not measured here)",
                          "value": jax["train_s"]["min"] / quoted, "target": f"<= {JAX_OVER_C_MAX:g}",
                          "met": jax["train_s"]["min"] / quoted <= JAX_OVER_C_MAX})
        torch, naive = best(rows, "torch"), best(rows, "torch", ("naive",))
        if torch and naive:
            speedup = naive["train_s"]["min"] / torch["train_s"]["min"]
            found.append({"what": f"{name}: torch naive / {torch['variant']}", "value": speedup,
                          "target": f">= {TORCH_SPEEDUP_MIN[name]:g}", "met": speedup >= TORCH_SPEEDUP_MIN[name]})
        numpy, hand = best(rows, "numpy"), best(rows, "hand", ("impl",))
        if name == "digits" and numpy and hand:
            speedup = hand["train_s"]["min"] / numpy["train_s"]["min"]
            found.append({"what": f"digits: hand / {numpy['variant']}", "value": speedup,
                          "target": f">= {NUMPY_OVER_HAND_DIGITS_MIN:g}", "met": speedup >= NUMPY_OVER_HAND_DIGITS_MIN})
    if wall is not None:
        found.append({"what": "python compare.py (default run), wall seconds" +
                              ("" if wall["exit_code"] == 0 else f" (it failed: exit {wall['exit_code']})"),
                      "value": wall["wall_s"], "target": f"<= {DEFAULT_RUN_MAX_S:g}",
                      "met": wall["exit_code"] == 0 and wall["wall_s"] <= DEFAULT_RUN_MAX_S})
    return found


# --- scaling -----------------------------------------------------------------------------------

def scaling_cells():
    """(hidden, copies) of every cell: H grows on the glyphs as they are, then the glyphs grow at H = 9."""
    return [(h, 1) for h in SCALING_HIDDEN] + [(9, c) for c in SCALING_COPIES if c != 1]


def measure_scaling(keys, repeats, skip, c_loop, log):
    cells = []
    for hidden, copies in scaling_cells():
        samples = len(glyphs.dataset("is-one")[0]) * copies
        epochs = max(1, SCALING_STEPS // samples)
        workload = glyph_workload(epochs, hidden, copies)
        log(f"scaling: H = {hidden}, glyphs x{copies}, {epochs} epochs")
        result = measure_workload(workload, keys, repeats, skip, c_loop, {}, True, lambda _: None)
        cells.append({"hidden": hidden, "copies": copies, "samples": samples, "epochs": epochs,
                      "steps": result["steps"], "rows": result["rows"]})
    return cells


def plot_scaling(cells, path):
    """time per step against H (log-log) beside time per step against dataset size, one line per row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    names = list(dict.fromkeys(r["variant"] for cell in cells for r in cell["rows"]))
    figure, (by_hidden, by_copies) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name in names:
        for axis, key, fixed in ((by_hidden, "hidden", ("copies", 1)), (by_copies, "copies", ("hidden", 9))):
            points = [(cell[key], r["per_step_s"] * 1e6) for cell in cells if cell[fixed[0]] == fixed[1]
                      for r in cell["rows"] if r["variant"] == name]
            if points:
                axis.plot(*zip(*points), marker="o", label=name, linestyle="--" if name in ("torch naive", "C loop") else "-")
    by_hidden.set(xscale="log", yscale="log", xlabel="hidden units H (9 inputs, glyphs x1)",
                  ylabel="time per SGD step (µs)", title="per-step cost as the network grows")
    by_copies.set(xscale="log", yscale="log", xlabel="dataset size (the 18 glyphs repeated)",
                  title=f"as the dataset grows (H = 9, {SCALING_STEPS:,}+ steps a cell)")
    by_hidden.set_xticks(SCALING_HIDDEN, [str(h) for h in SCALING_HIDDEN])
    by_copies.set_xticks(SCALING_COPIES, [f"x{c}" for c in SCALING_COPIES])
    for axis in (by_hidden, by_copies):
        axis.grid(True, which="both", alpha=0.3)
        axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    by_hidden.legend(fontsize=8)
    figure.suptitle("nn-rosetta: float64 per-sample SGD, minimum over repeats", fontsize=10)
    figure.tight_layout()
    from tools import plots  # matplotlib's helpers, loaded only when a picture is drawn
    plots.save_png(figure, path)


# --- the machine -------------------------------------------------------------------------------

def machine(keys):
    """What the figures depend on: cores, versions, thread pools (read, never changed)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"platform": f"{platform.system()} {platform.machine()}", "cpus": os.cpu_count(), "usable_cpus": usable,
            "python": platform.python_version(), "dtype": DTYPE, "lr": LR,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                      "XLA_FLAGS") if k in os.environ}}
    if "numpy" in keys:
        import numpy
        info["numpy"] = numpy.__version__
        try:
            import threadpoolctl  # present where scikit-learn is; only read, to name the BLAS and its threads
            pools = threadpoolctl.threadpool_info()
            info["blas"] = ", ".join(f"{p.get('internal_api')} {plural(p.get('num_threads'), 'thread')}" for p in pools
                                     if p.get("user_api") == "blas") or "unknown"
        except ImportError:
            info["blas"] = "unknown (threadpoolctl not installed)"
    if "torch" in keys:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
    if "jax" in keys:
        import jax
        info["jax"] = jax.__version__
        info["jax_devices"] = [str(d) for d in jax.devices()]
    return info


# --- printing ----------------------------------------------------------------------------------

def seconds(value):
    """Three significant figures in the unit that suits: 0.312 µs, 18.4 ms, 7.05 s."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale or unit == "ns":
            return f"{value / scale:.3g} {unit}"


def ratio(value):
    if value is None:
        return "—"
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def agrees(row):
    if "protocol" in row:
        return f"PROTOCOL: {row['protocol']}"
    if "agrees" not in row:
        return "reference" if row["variant"] == "hand" else "—"
    return f"{'yes' if row['agrees'] else 'NO'} ({row['max_diff']:.1e})"


HEADERS = ("variant", "import", "1st call", "warm-up", "train min", "train median", "per step",
           "t/hand", "t/C", "cpu/wall", "agrees with hand", "note")


def row_cells(row):
    return (row["variant"], seconds(row["import_s"]["min"]) if row.get("import_s") else "—",
            seconds(row["first_s"]), seconds(row["warmup_s"]), seconds(row["train_s"]["min"]),
            seconds(row["train_s"]["median"]), seconds(row["per_step_s"]), ratio(row["ratio_hand"]),
            ratio(row["ratio_c"]), f"{row['cpu_per_wall']:.2f}" if row.get("cpu_per_wall") else "—",
            agrees(row), row["note"])


def table(headers, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return lines + ["| " + " | ".join(cells) + " |" for cells in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [headers, *rows]]


def header_lines(info, repeats):
    torch = info.get("torch_threads")
    parts = [f"{info['platform']}, {info['usable_cpus']} of {info['cpus']} CPUs usable, Python {info['python']}"]
    if "numpy" in info:
        parts.append(f"numpy {info['numpy']} (BLAS: {info['blas']})")
    if torch:
        chosen = f", {info['torch_threads_set_by']}" if "torch_threads_set_by" in info else ""
        parts.append(f"torch {info['torch']} ({torch['intra_op']} intra-op, {torch['inter_op']} inter-op threads{chosen})")
    if "jax" in info:
        parts.append(f"jax {info['jax']} ({', '.join(info['jax_devices'])})")
    if info["thread_env"]:
        parts.append("env " + " ".join(f"{k}={v}" for k, v in info["thread_env"].items()))
    busy = []
    start, end = info["load_average"], info.get("load_average_end")
    if start is not None and start > 0.5 * info["usable_cpus"]:
        # The bench itself keeps one CPU busy, so only the load it found when it began says much.
        busy = [f"warning: the machine was busy when the run began (load average {start:.1f} on "
                f"{info['usable_cpus']} CPUs, {end:.1f} at the end): other processes slow these figures "
                f"and make them noisy"]
    return [f"nn-rosetta benchmark: per-sample SGD, {info['dtype']}, lr {info['lr']:g}",
            "machine: " + "; ".join(parts), *busy,
            f"each row: a first call, then {plural(repeats, 'timed call')} (1 where the first took over {SLOW_S:g} s); "
            f"min and median; ratios divide this row's min by hand's / the C loop's, from this run (below 1 = faster); "
            f"cpu/wall: the process's CPU seconds over wall seconds in that call (above 1: thread pools at work)",
            "timed calls skip shared.validate's input checks (the bench checked its inputs once; that cost is "
            "on its own line, the same for every implementation)"]


def render(report, fmt):
    if fmt == "json":
        return json.dumps(report, indent=1, ensure_ascii=False)
    markdown = fmt == "markdown"
    lines = [line + ("  " if markdown else "") for line in header_lines(report["machine"], report["repeats"])]
    c_note = report.get("c_note")
    if c_note:
        lines.append(c_note)
    for result in report.get("workloads", []):
        lines += ["", f"{'### ' if markdown else ''}{result['name']}: {result['title']}; "
                      f"{result['steps']:,} steps", ""]
        lines += table(HEADERS, [row_cells(r) for r in result["rows"]], markdown)
        lines += ["", f"input validation (shared.validate, once per call, not in the times above): "
                      f"{seconds(result['validation_s']['min'])}", *result.get("failed", [])]
    if report.get("targets"):
        lines += ["", f"{'### ' if markdown else ''}performance targets, from this run", ""]
        lines += table(("measured", "value", "target", "met"),
                       [(t["what"], ratio(t["value"]), t["target"], "yes" if t["met"] else "NO") for t in report["targets"]],
                       markdown)
    if report.get("scaling"):
        lines += scaling_lines(report["scaling"], markdown)
    if report.get("plot"):
        lines += ["", f"plot: {report['plot']}"]
    return "\n".join(lines)


def scaling_lines(cells, markdown):
    names = list(dict.fromkeys(r["variant"] for cell in cells for r in cell["rows"]))
    lines = []
    for key, fixed, label in (("hidden", ("copies", 1), "H = {}"), ("copies", ("hidden", 9), "glyphs x{}")):
        chosen = [cell for cell in chosen_cells(cells, fixed)]
        what = "as H grows (glyphs x1)" if key == "hidden" else "as the dataset grows (H = 9)"
        for title, value in (("time per SGD step", lambda r: seconds(r["per_step_s"])),
                             ("t/C (this row's time over the C loop's)", lambda r: ratio(r["ratio_c"])),
                             ("t/hand", lambda r: ratio(r["ratio_hand"]))):
            if "t/C" in title and not any(r["kind"] == "c" for cell in chosen for r in cell["rows"]):
                continue
            headers = ("variant", *[label.format(cell[key]) + (f" ({cell['epochs']} ep)" if key == "copies" or
                                                                cell["epochs"] != chosen[0]["epochs"] else "")
                                    for cell in chosen])
            rows = []
            for name in names:
                found = [next((r for r in cell["rows"] if r["variant"] == name), None) for cell in chosen]
                rows.append((name, *[value(r) if r else "—" for r in found]))
            lines += ["", f"{'### ' if markdown else ''}scaling {what}: {title}; {SCALING_STEPS:,} steps a cell "
                          f"(whole epochs, at least one), min of the repeats", ""]
            lines += table(headers, rows, markdown)
    disagreeing = [f"{r['variant']} at H={cell['hidden']} x{cell['copies']}" for cell in cells for r in cell["rows"]
                   if r.get("agrees") is False or "protocol" in r]
    lines += ["", "every scaling cell agrees with hand" if not disagreeing
              else "DISAGREES with hand: " + ", ".join(disagreeing)]
    return lines


def chosen_cells(cells, fixed):
    return [cell for cell in cells if cell[fixed[0]] == fixed[1]]


# --- the command -------------------------------------------------------------------------------

def parse_list(text, choices, what):
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in choices]
    if unknown or not items:
        raise ValueError(f"--{what} {text!r}: expected a comma-separated list of {', '.join(choices)}")
    return [c for c in choices if c in items]


def positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{text!r} is not a whole number >= 1")
    return value


def parser():
    p = Parser(prog="compare.py --bench", description="Time every implementation on the same per-sample SGD.")
    p.add_argument("--bench", action="store_true", required=True, help="this mode")
    p.add_argument("--impls", default=",".join(impls.KEYS), metavar="LIST",
                   help=f"comma-separated subset of {','.join(impls.KEYS)} (default: every installed one)")
    p.add_argument("--workload", choices=(*WORKLOADS, "all"), default=None,
                   help="glyphs, digits or all (default all; --scaling always uses the glyphs)")
    p.add_argument("--repeats", type=_arg(positive), default=3, metavar="N",
                   help="timed calls after the first (default 3; 1 where the first call took over 5 s)")
    p.add_argument("--epochs", type=_arg(positive), default=None, metavar="N",
                   help=f"epochs of both workloads (default {GLYPH_EPOCHS} glyphs, {DIGIT_EPOCHS} digits)")
    p.add_argument("--scaling", action="store_true",
                   help=f"time per step for H in {SCALING_HIDDEN} and the glyphs x{SCALING_COPIES}, and a PNG plot")
    p.add_argument("--out", default=os.path.join("out", "bench"), metavar="DIR", help="where --scaling writes its plot")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--skip", default="", metavar="LIST",
                   help="comma-separated: naive (the torch naive rows), compiled (the torch.compile rows, "
                        "which compile for ~25 s a shape on a cold cache), c (the C loop), imports (import times), "
                        "wall (timing the default compare.py run)")
    p.add_argument("--torch-threads", type=_arg(positive), default=None, metavar="N",
                   help="torch.set_num_threads(N) for this run, said in the header (default: leave PyTorch's own choice)")
    p.add_argument("--full-naive", action="store_true",
                   help=f"run torch naive on every digit epoch (over a minute) instead of {NAIVE_DIGIT_EPOCHS}, scaled up")
    return p


def _arg(convert):
    """argparse shows a type's ValueError as 'invalid value'; this keeps the one line that says why."""
    import argparse

    def wrapped(text):
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return wrapped


def main(argv):
    args = parser().parse_args(argv)
    requested = parse_list(args.impls, impls.KEYS, "impls")
    skip = parse_list(args.skip, SKIPPABLE, "skip") if args.skip else []
    if args.scaling and args.workload not in (None, "glyphs"):
        raise ValueError("--scaling runs on the glyphs: drop --workload, or run the digits without --scaling")
    if args.scaling and importlib.util.find_spec("matplotlib") is None:
        raise ValueError("--scaling draws its plot with matplotlib, which is not installed: pip install matplotlib")
    plot_path = None
    if args.scaling:
        # Made before anything is imported or measured, so a bad --out fails in a second, not after the run.
        os.makedirs(store.check_folder_path(args.out, "--out"), exist_ok=True)
        plot_path = os.path.join(args.out, "scaling.png")
    explicit = args.impls != parser().get_default("impls")
    keys, missing = [], []
    for key in requested:
        try:
            impls.get(key)
            keys.append(key)
        except impls.MissingFramework as error:
            if explicit:
                raise
            missing.append(str(error))
    log = (lambda message: print(f"... {message}", file=sys.stderr, flush=True)) if sys.stderr.isatty() else (lambda _: None)

    if args.torch_threads is not None and "torch" in keys:
        import torch
        # Asked for on the command line, shown in the header, and put back afterwards: PyTorch's
        # pool is one of the costs measured, not a setting to change behind anyone's back.
        threads_before = torch.get_num_threads()
        torch.set_num_threads(args.torch_threads)
        try:
            return measure_and_print(args, keys, missing, skip, plot_path, log)
        finally:
            torch.set_num_threads(threads_before)
    return measure_and_print(args, keys, missing, skip, plot_path, log)


def measure_and_print(args, keys, missing, skip, plot_path, log):
    report = {"machine": machine(keys), "repeats": args.repeats, "missing": missing}
    if args.torch_threads is not None and "torch" in keys:
        report["machine"]["torch_threads_set_by"] = f"--torch-threads {args.torch_threads}"
    with tempfile.TemporaryDirectory(prefix="nn-rosetta-bench-") as folder:
        c_loop = None
        if "c" not in skip:
            c_loop = CLoop(folder)
            if c_loop.compiler is None:
                report["c_note"] = (f"C loop: not measured (no C compiler found; set CC or install gcc); the targets quote "
                                    f"{seconds(QUOTED_C['glyphs'])} on the glyphs and {seconds(QUOTED_C['digits'])} on the digits")
            elif c_loop.exe is None:
                report["c_note"] = f"C loop: not measured (compiling it failed: {c_loop.error})"
        if args.scaling:
            report["scaling"] = measure_scaling(keys, args.repeats, skip, c_loop, log)
            plot_scaling(report["scaling"], plot_path)
            report["plot"] = plot_path
        else:
            imports = {} if "imports" in skip else {key: import_time(key, args.repeats) for key in keys}
            chosen = WORKLOADS if args.workload in (None, "all") else (args.workload,)
            report["workloads"] = []
            for name in chosen:
                if name == "glyphs":
                    workload = glyph_workload(args.epochs or GLYPH_EPOCHS)
                else:
                    try:
                        workload = digit_workload(args.epochs or DIGIT_EPOCHS)
                    except OSError as error:
                        if args.workload == "digits":
                            raise
                        missing.append(f"digits: {error}")
                        continue
                report["workloads"].append(measure_workload(workload, keys, args.repeats, skip, c_loop, imports,
                                                            args.full_naive, log))
            wall = None if "wall" in skip else default_run_wall()
            report["default_run"] = wall
            report["targets"] = targets(report["workloads"], wall)
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_end"] = os.getloadavg()[0]
    if missing:
        report["machine"]["not_installed"] = missing
    print(render(report, args.format))
    for line in missing:
        print(f"not measured: {line}", file=sys.stderr)
    rows = [r for w in report.get("workloads", []) for r in w["rows"]]
    rows += [r for cell in report.get("scaling", []) for r in cell["rows"]]
    broken = [r["variant"] for r in rows if r.get("agrees") is False or "protocol" in r]
    if broken:
        print(f"compare.py: {', '.join(dict.fromkeys(broken))} disagree with hand (see the tables): "
              f"a fast path must compute what hand computes", file=sys.stderr)
        return 1
    return 0
