"""compare.py's default mode (tools/tables.py): every table's shape and content, every format, the errors.

Most tests share one small run (20 epochs, every installed implementation, in this process);
the table builders are also fed hand-made results whose right answers are known. Expected
values come from the implementations themselves or from arithmetic written here, never from
the code under test. A few tests run compare.py as a user does, in a subprocess.
"""
import contextlib
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import compare
import impls
from conftest import load
from shared import glyphs
from shared.params import GROUPS, init_params
from tools import tables

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 20  # enough for the loss to move and for three report epochs (1, 10, 20); quick in every framework
# Four float64 implementations of one run differ by rounding only: a few ulps, compounded over
# 20 epochs x 18 steps, far below 1e-12 for values of order 1.
FLOAT64_TOL = 1e-12
# float32 carries ~7 digits: 20 epochs of float32 SGD drift from the float64 run by ~1e-6 at most.
FLOAT32_TOL = 1e-5
INSTALLED = impls.available()


def small_run(*extra):
    """parse -> run_all -> build_tables, in this process, as main does."""
    options = tables.parse(["--epochs", str(EPOCHS), "--jobs", "0", *extra])
    concepts = tables.read_concepts(options.keys)
    run = tables.run_all(options, concepts)
    return run, tables.build_tables(run, concepts)


@pytest.fixture(scope="module")
def default_run():
    return small_run()


def by_name(built):
    return {table.name: table.frame for table in built}


def run_main(argv):
    """compare.py as its user runs it, in this process -> (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = compare.main(argv)
        except SystemExit as exit:  # argparse's errors leave through sys.exit
            code = exit.code
    return code, out.getvalue(), err.getvalue()


# --- every table of one small run -------------------------------------------------------------

def test_tables_come_in_order(default_run):
    _, built = default_run
    assert [t.name for t in built] == ["implementations", "predictions", "gradients", "losses", "training",
                                       "cost", "concepts"]


def test_implementations_table_reports_the_dtype_each_computed_in(default_run):
    frame = by_name(default_run[1])["implementations"]
    assert list(frame["impl"]) == list(impls.KEYS)
    for row in frame.itertuples():
        if row.impl in INSTALLED:
            assert row.status == "ok"
            assert row.computed_dtype == impls.get(row.impl).compute_dtype("float64")
        else:
            assert row.status.startswith("not installed")


def test_predictions_table_has_one_row_per_glyph(default_run):
    run, built = default_run
    frame = by_name(built)["predictions"]
    X, T, labels = glyphs.dataset("is-one")
    assert len(frame) == len(X) == 18
    assert list(frame.columns) == ["glyph", "digit", "target"] + INSTALLED + ["max_abs_diff"]
    assert frame["glyph"][1] == "#../#../#.."  # the second glyph of the set: the left stroke of three
    assert list(frame["digit"]) == labels and list(frame["target"]) == T


def test_predictions_are_each_implementations_own(default_run):
    run, built = default_run
    frame = by_name(built)["predictions"]
    X, T, _ = glyphs.dataset("is-one")
    hand = impls.get("hand")
    trained, _ = hand.train(init_params(), X, T, epochs=EPOCHS)
    want = hand.predict(trained, X)
    for key in INSTALLED:
        assert frame[key].tolist() == pytest.approx(want, abs=FLOAT64_TOL), key
    worst = [max(abs(frame[k][i] - want[i]) for k in INSTALLED if k != "hand") for i in range(len(X))]
    assert frame["max_abs_diff"].tolist() == pytest.approx(worst, abs=1e-18)
    assert frame["max_abs_diff"].max() < FLOAT64_TOL


def test_gradients_table_covers_every_group_of_every_other_implementation(default_run):
    frame = by_name(default_run[1])["gradients"]
    others = [k for k in INSTALLED if k != "hand"]
    assert list(zip(frame["impl"], frame["group"])) == [(k, g) for k in others for g in GROUPS]
    assert (frame["max_abs_diff"] < FLOAT64_TOL).all()
    assert (frame["max_rel_diff"] < 1e-9).all()


def test_losses_table_reports_first_middle_and_last_epoch(default_run):
    run, built = default_run
    frame = by_name(built)["losses"]
    assert list(frame["epoch"]) == [1, 10, 20]
    X, T, _ = glyphs.dataset("is-one")
    _, losses = impls.get("hand").train(init_params(), X, T, epochs=EPOCHS)
    assert frame["hand"].tolist() == [losses[0], losses[9], losses[19]]
    for key in INSTALLED:
        assert frame[key].tolist() == pytest.approx(frame["hand"].tolist(), abs=FLOAT64_TOL), key


def test_training_table_reports_agreement_of_every_group(default_run):
    frame = by_name(default_run[1])["training"]
    assert list(frame["impl"]) == INSTALLED
    assert list(frame.columns) == ["impl", "final_loss", "diverged_in_epoch", "max_loss_diff",
                                   "W1_diff", "b1_diff", "W2_diff", "b2_diff"]
    hand_row = frame[frame["impl"] == "hand"].iloc[0]
    assert hand_row["max_loss_diff"] == 0 and hand_row["W1_diff"] == 0
    assert frame["diverged_in_epoch"].isna().all()
    assert (frame[["max_loss_diff", "W1_diff", "b1_diff", "W2_diff", "b2_diff"]] < FLOAT64_TOL).all().all()


def test_cost_table_has_times_and_ratios_to_hand(default_run):
    frame = by_name(default_run[1])["cost"]
    assert list(frame["impl"]) == INSTALLED
    assert list(frame.columns) == ["impl", "import_s", "first_call_s", "train_s", "step_us",
                                   "import_x", "first_call_x", "train_x", "step_x"]
    assert (frame["train_s"] > 0).all() and (frame["first_call_s"] >= 0).all()
    hand = frame[frame["impl"] == "hand"].iloc[0]
    assert hand["train_x"] == 1.0 and hand["step_x"] == 1.0
    for row in frame.itertuples():
        assert row.step_us == pytest.approx(row.train_s / (EPOCHS * 18) * 1e6)
        assert row.train_x == pytest.approx(row.train_s / hand["train_s"])


def test_concept_map_is_read_from_the_files(default_run):
    frame = by_name(default_run[1])["concepts"].set_index("concept")
    assert list(frame.index) == ["parameters", "forward", "loss", "gradient", "update", "training loop",
                                 "compilation"]
    # Line counts against inspect, which reads the source another way than the ast walk does.
    import inspect
    for key in ("hand", "numpy") if "numpy" in INSTALLED else ("hand",):
        module = impls.get(key)
        lines = {name: len(inspect.getsourcelines(getattr(module, name))[0])
                 for name in ("forward", "backward", "loss", "mean_loss", "fit")}
        assert frame.loc["forward", key] == f"forward ({lines['forward']})"
        assert frame.loc["gradient", key] == f"backward ({lines['backward']})"
        assert frame.loc["loss", key] == f"loss + mean_loss ({lines['loss'] + lines['mean_loss']})"
        assert frame.loc["training loop", key] == f"fit ({lines['fit']})"
    assert frame.loc["compilation", "hand"] == "—"
    # nn_jax compiles fit with a jax.jit decorator (it may compile more: the map lists all).
    assert "fit <- jax.jit (1)" in frame.loc["compilation", "jax"].split(", ")


def test_compilation_is_found_however_it_is_written(tmp_path):
    code = tmp_path / "nn_x.py"
    code.write_text(textwrap.dedent("""\
        import functools
        from jax import jit as compile_it
        import torch

        @compile_it
        def forward(net, x):
            return x

        def fit(net, X, T, lr, epochs):
            return net

        fit = torch.compile(fit)
        step = functools.partial(print, "not a compiler")
        """))
    found = tables.read_code(code)
    assert found["compiled"] == [("forward", "jax.jit", 1), ("fit", "torch.compile", 1)]
    assert found["functions"]["forward"] == (5, 3)  # from the decorator line to the end of the body


# --- table builders on hand-made results ----------------------------------------------------------

def fake_run(results, epochs=3, initial_loss=0.25):
    X, T, labels = [[1.0] * 9, [0.0] * 9], [1.0, 0.0], [1, 0]
    return {"config": {"task": "is-one", "hidden": 1, "lr": 0.1, "epochs": epochs, "seed": 0, "dtype": "float64",
                       "impls": list(results), "jobs": 0, "predict": None},
            "X": X, "T": T, "labels": labels, "initial_loss": initial_loss, "results": results, "wall_s": 1.0}


def fake_result(key, losses, predictions=(0.5, 0.5), scale=1.0, **extra):
    params = {"W1": [[scale] * 9], "b1": [scale], "W2": [scale], "b2": scale}
    return {"key": key, "status": "ok", "errors": [], "compute_dtype": "float64", "losses": list(losses),
            "params": params, "predictions": list(predictions), "gradients": [params, params],
            "import_s": 0.01, "warmup_s": 0.02, "warmup_epochs": 1, "train_s": 0.3, **extra}


def test_differences_are_taken_from_hand():
    run = fake_run({"hand": fake_result("hand", [0.2, 0.1, 0.05], (0.75, 0.25)),
                    "numpy": fake_result("numpy", [0.2, 0.125, 0.0625], (0.5, 0.25), scale=1.5)})
    built = by_name(tables.build_tables(run, tables.read_concepts(["hand", "numpy"])))
    assert built["predictions"]["max_abs_diff"].tolist() == [0.25, 0.0]
    assert built["losses"]["epoch"].tolist() == [1, 3]
    assert built["losses"]["max_abs_diff"].tolist() == pytest.approx([0.0, 0.0125], abs=1e-15)
    numpy_row = built["training"].set_index("impl").loc["numpy"]
    assert numpy_row["max_loss_diff"] == pytest.approx(0.025, abs=1e-15)
    assert numpy_row["W1_diff"] == 0.5 and numpy_row["b2_diff"] == 0.5
    gradients = built["gradients"].set_index("group")
    assert gradients.loc["W2", "max_abs_diff"] == 0.5 and gradients.loc["W2", "max_rel_diff"] == 0.5


def test_relative_gradient_difference_skips_entries_where_hand_is_zero():
    run = fake_run({"hand": fake_result("hand", [0.1] * 3, scale=0.0),
                    "numpy": fake_result("numpy", [0.1] * 3, scale=1e-3)})
    frame = tables.gradients_table(run).frame
    assert (frame["max_abs_diff"] == 1e-3).all()
    assert (frame["max_rel_diff"] == 0.0).all()  # no entry where hand is not 0: nothing relative to report


def test_first_call_overhead_is_first_call_minus_the_warm_cost():
    # 1-epoch warm-up of 0.5 s, then 3 epochs in 0.3 s: the warm epoch costs 0.1 s, so 0.4 s was one-time.
    cold = fake_result("numpy", [0.1] * 3, warmup_s=0.5, train_s=0.3)
    # A compiled implementation warms up with the full run: 1.0 s first, 0.3 s warm -> 0.7 s compiling.
    compiled = fake_result("jax", [0.1] * 3, warmup_s=1.0, warmup_epochs=3, train_s=0.3)
    hand = fake_result("hand", [0.1] * 3, import_s=0.02, train_s=0.6)
    frame = tables.cost_table(fake_run({"hand": hand, "numpy": cold, "jax": compiled})).frame.set_index("impl")
    assert frame.loc["numpy", "first_call_s"] == pytest.approx(0.4)
    assert frame.loc["jax", "first_call_s"] == pytest.approx(0.7)
    assert frame.loc["numpy", "train_x"] == pytest.approx(0.5) and frame.loc["numpy", "import_x"] == pytest.approx(0.5)
    assert frame.loc["hand", "step_us"] == pytest.approx(0.6 / (3 * 2) * 1e6)


@pytest.mark.parametrize("load, busy", [(0.2, False), (tables.BUSY_LOAD, True), (None, False)])
def test_a_busy_machine_is_said_beside_the_times(load, busy):
    run = fake_run({"hand": fake_result("hand", [0.1] * 3)})
    run["load_avg"] = load
    notes = tables.cost_table(run).notes
    assert any("The machine was busy" in note for note in notes) == busy


def test_an_import_done_before_the_run_is_not_timed():
    hand = fake_result("hand", [0.1] * 3)
    numpy = fake_result("numpy", [0.1] * 3, already_imported=True)
    frame = tables.cost_table(fake_run({"hand": hand, "numpy": numpy})).frame.set_index("impl")
    assert frame.loc["hand", "import_s"] == 0.01
    assert math.isnan(frame.loc["numpy", "import_s"]) and math.isnan(frame.loc["numpy", "import_x"])


@pytest.mark.parametrize("losses, params_scale, epoch, words", [
    ([0.2, math.nan, math.nan], 1.0, 2, "diverged in epoch 2: the loss is nan"),
    ([0.2, 0.3, 0.5], 1.0, 2, "diverged in epoch 2: the loss rose from 0.25"),
    ([0.2, 0.1, 0.05], math.inf, None, "diverged: parameters not finite"),
    ([0.3, 0.2, 0.1], 1.0, None, "ok"),  # above the start in epoch 1, then learning: not diverged
])
def test_divergence_names_the_epoch(losses, params_scale, epoch, words):
    result = fake_result("numpy", losses, scale=params_scale)
    assert tables.divergence(result, 0.25)[0] == epoch
    assert tables.status_of(result, 0.25).startswith(words)


def test_a_failure_is_named_with_its_stage_and_nan_output_is_a_failure():
    failed = fake_result("torch", [0.1] * 3, errors=["train: RuntimeError: boom"])
    assert tables.status_of(failed, 0.25) == "failed in train: RuntimeError: boom"
    nan_out = fake_result("jax", [0.1] * 3, predictions=(0.5, math.nan))
    assert tables.status_of(nan_out, 0.25) == "failed: NaN or infinity in its predictions"


def test_report_epochs():
    assert tables.report_epochs(1000) == [1, 10, 100, 500, 1000]
    assert tables.report_epochs(20) == [1, 10, 20]
    assert tables.report_epochs(1) == [1]
    assert tables.report_epochs(350) == [1, 10, 100, 175, 350]


# --- formats ----------------------------------------------------------------------------------

def text_sections(text):
    """Text report -> {title: lines after the title}, split at the numbered titles."""
    sections, current = {}, None
    for line in text.splitlines():
        match = re.match(r"^\d+\. (.+)$", line)
        if match:
            current = sections.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
    return sections


def half_ulp_shown(text):
    """Half a unit in the last digit printed: how far a printed number may be from the true one."""
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


NUMERIC_TABLES = ("predictions", "gradients", "losses", "training", "cost")


def test_json_parses_and_matches_the_text_tables_numbers(default_run):
    run, built = default_run
    report = json.loads(tables.render_json(run, built))
    assert set(report) == {"config", "notes", "tables", "curves", "wall_s", "load_avg"}
    assert report["config"]["epochs"] == EPOCHS and report["config"]["impls"] == list(impls.KEYS)
    assert len(report["curves"]["hand"]) == EPOCHS
    sections = text_sections(tables.render_text(run, built))
    titles = {t.name: t.title for t in built}
    checked = 0
    for name in NUMERIC_TABLES:
        rows = report["tables"][name]
        header, *lines = sections[titles[name]]
        columns = header.split()
        assert columns == list(rows[0]), name
        for line, row in zip(lines, rows):
            for column, shown in zip(columns, line.split()):
                value = row[column]
                if isinstance(value, str) or shown == "—":
                    assert shown == value or (shown == "—" and value is None), (name, column)
                    continue
                assert abs(float(shown) - value) <= half_ulp_shown(shown) * (1 + 1e-9), (name, column, shown, value)
                checked += 1
    assert checked > 100


def test_csv_holds_every_table_at_full_precision(default_run):
    run, built = default_run
    blocks = tables.render_csv(run, built).split("# ")[1:]
    assert [b.splitlines()[0] for b in blocks] == [t.name for t in built]
    predictions = list(csv.DictReader(io.StringIO(blocks[1].split("\n", 1)[1])))
    assert [float(row["hand"]) for row in predictions] == by_name(built)["predictions"]["hand"].tolist()


def test_markdown_tables_have_a_header_rule_and_one_line_per_row(default_run):
    run, built = default_run
    text = tables.render_markdown(run, built)
    lines = text.splitlines()
    start = lines.index("### Predictions after training")
    assert lines[start + 2].startswith("| glyph | digit | target | hand |")
    assert lines[start + 3].startswith("|---|---:|---:|---:|")
    body = lines[start + 4:]
    assert body[18] == "" and all(line.startswith("| ") for line in body[:18])


def test_out_writes_every_table_the_report_and_the_plot(tmp_path):
    out = tmp_path / "results"
    code, stdout, stderr = run_main(["--epochs", "5", "--impls", "numpy", "--jobs", "0", "--out", str(out),
                                     "--format", "markdown"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["report.md", "losses.png"] + [f"{n}.csv" for n in
                                                          ("implementations", "predictions", "gradients", "losses",
                                                           "training", "cost", "concepts")])
    assert (out / "report.md").read_text().strip() == stdout.strip()
    assert (out / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stderr.count("wrote ") == len(names)


def test_plot_without_out_writes_into_out_not_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_main(["--epochs", "3", "--impls", "numpy", "--jobs", "0", "--plot"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["losses.png", "out"]
    assert (tmp_path / "out" / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote out/losses.png" in stderr


# --- --predict, float32 -------------------------------------------------------------------------

def test_predict_shows_every_trained_networks_answer():
    run, built = small_run("--predict", "010/010/010", "--impls", "numpy")
    frame = by_name(built)["predict"].set_index("impl")
    X, T, _ = glyphs.dataset("is-one")
    hand = impls.get("hand")
    trained, _ = hand.train(init_params(), X, T, epochs=EPOCHS)
    p = hand.predict(trained, [glyphs.parse_glyph("010/010/010")])[0]
    assert frame.loc["hand", "p"] == p and frame.loc["hand", "answer"] == int(p >= 0.5)
    if "numpy" in INSTALLED:
        assert frame.loc["numpy", "p"] == pytest.approx(p, abs=FLOAT64_TOL)


@pytest.mark.parametrize("key", [k for k in impls.KEYS if k != "hand"])
def test_float32_reports_what_was_computed_and_the_drift_from_float64_hand(key):
    load(key)  # skips, naming the extra to install, where the framework is missing
    run, built = small_run("--dtype", "float32", "--impls", key)
    rows = by_name(built)["implementations"].set_index("impl")
    assert rows.loc["hand", "computed_dtype"] == "float64"  # the reference stays float64
    assert rows.loc[key, "computed_dtype"] == impls.get(key).compute_dtype("float32")
    drift = by_name(built)["training"].set_index("impl").loc[key, "max_loss_diff"]
    assert 0 < drift < FLOAT32_TOL  # not 0: it really ran in float32


# --- robustness: missing frameworks, failures, divergence ---------------------------------------

def missing(key, monkeypatch):
    real = impls.get

    def get(name):
        if name == key:
            raise impls.MissingFramework(f"{key}: not installed — pip install '.[{key}]'")
        return real(name)
    monkeypatch.setattr(impls, "get", get)


def test_a_missing_framework_is_one_line_and_the_rest_runs(monkeypatch):
    missing("numpy", monkeypatch)
    code, stdout, stderr = run_main(["--epochs", "5", "--impls", "numpy", "--jobs", "0"])
    assert code == 0
    assert "numpy: not installed — pip install '.[numpy]'" in stdout.splitlines()[:3]
    assert "Traceback" not in stdout + stderr
    predictions = text_sections(stdout)["Predictions after training"][0].split()
    assert predictions == ["glyph", "digit", "target", "hand", "max_abs_diff"]


def test_a_missing_framework_in_a_worker_process(tmp_path):
    # sitecustomize runs in every process started with this PYTHONPATH, the workers included.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['numpy'] = None  # as if not installed\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "compare.py"), "--epochs", "3", "--impls", "numpy",
                           "--format", "json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    # pandas needs numpy: without it the tables cannot be built, and that is said in one line.
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "numpy" in done.stderr and "Traceback" not in done.stderr


def test_a_missing_optional_framework_in_a_worker_process(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['jax'] = None  # as if not installed\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "compare.py"), "--epochs", "3", "--impls", "jax",
                           "--format", "json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["notes"] == ["jax: not installed — pip install '.[jax]'"]
    assert [row["impl"] for row in report["tables"]["training"]] == ["hand"]
    statuses = [row["status"] for row in report["tables"]["implementations"]]
    assert statuses == ["ok", "not installed — pip install '.[jax]'"]


class Broken:
    """An implementation that fails in one way, else behaves as the one it wraps."""

    def __init__(self, real, fail):
        self.real, self.fail = real, fail

    def __getattr__(self, name):
        return getattr(self.real, name)

    def train(self, params, X, T, lr=0.1, epochs=1000, dtype="float64"):
        if self.fail == "raise":
            raise RuntimeError("boom")
        return self.real.train(params, X, T, lr, epochs, dtype)

    def predict(self, params, X, dtype="float64"):
        return [math.nan] * len(X) if self.fail == "nan" else self.real.predict(params, X, dtype)


@pytest.mark.parametrize("fail, status", [("raise", "failed in first call: RuntimeError: boom"),
                                          ("nan", "failed: NaN or infinity in its predictions")])
def test_a_failing_implementation_shows_in_its_row_and_the_others_run(monkeypatch, fail, status):
    real = impls.get
    monkeypatch.setattr(impls, "get", lambda key: Broken(real(key), fail) if key == "numpy" else real(key))
    run, built = small_run("--impls", "numpy")
    rows = by_name(built)["implementations"].set_index("impl")["status"]
    assert rows["numpy"] == status and rows["hand"] == "ok"
    assert "numpy" not in by_name(built)["predictions"].columns  # no column of blanks
    assert by_name(built)["predictions"]["hand"].notna().all()


def test_divergence_is_reported_with_its_epoch_not_as_nan():
    # lr 1e30 saturates every sigmoid in the first epoch: the loss jumps to a plateau above where it began.
    run, built = small_run("--lr", "1e30", "--dtype", "float32", "--impls", "numpy")
    notes = tables.notes_of(run)
    assert notes[0].startswith(f"hand: diverged in epoch 1: the loss rose from {run['initial_loss']:.3g}")
    if "numpy" in INSTALLED:
        assert notes[1].startswith(f"numpy: diverged in epoch 1: the loss rose from {run['initial_loss']:.3g}")
        training = by_name(built)["training"].set_index("impl")
        assert training.loc["numpy", "diverged_in_epoch"] == 1


def test_a_learning_rate_float32_cannot_hold_is_refused_up_front(capsys):
    assert compare.main(["--lr", "1e300", "--dtype", "float32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "learning rate is 1e+300" in err and "float32" in err


# --- bad arguments --------------------------------------------------------------------------------

BAD = [
    (["--impls", "hand,tf"], "unknown implementation 'tf': choose from hand, numpy, torch, jax"),
    (["--task", "letters"], "unknown task 'letters'"),
    (["--hidden", "0"], "hidden is 0"),
    (["--lr", "0"], "learning rate is 0.0: expected a positive finite number"),
    (["--lr", "-0.5"], "learning rate is -0.5"),
    (["--lr", "nan"], "learning rate is nan"),
    (["--epochs", "0"], "epochs is 0"),
    (["--predict", "010/010"], "glyph '010/010' is not three rows of three 0/1 pixels"),
    (["--dtype", "float16"], "dtype is 'float16': expected one of float64, float32"),
    (["--format", "xml"], "argument --format: invalid choice"),
    (["--lr", "fast"], "argument --lr: invalid float value"),
    (["--out", "README.md"], "--out README.md is a file: expected a folder"),
    (["--out", "README.md/tables"], "--out README.md/tables goes through"),
    (["--golden", "verify", "no/such/trace.json"], "no/such/trace.json: no such file"),
    (["--golden", "write", "."], "--golden write . is a folder: expected a file name"),
    (["--drift", "numpy", "--json", "."], "--json . is a folder: expected a file name"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_are_one_line_and_exit_2(argv, message):
    code, stdout, stderr = run_main(argv)
    assert code == 2
    assert stdout == "" and stderr.count("\n") == 1
    assert stderr.startswith("compare.py: error: ") and message in stderr


def test_bad_arguments_from_the_command_line_have_no_traceback():
    done = subprocess.run([sys.executable, str(ROOT / "compare.py"), "--lr", "-1"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "compare.py: error: learning rate is -1.0: expected a positive finite number such as 0.1\n"


def test_a_reader_that_goes_away_is_not_an_error():
    # compare.py ... | head -1 closes the pipe early: here it is closed before compare.py writes at all.
    process = subprocess.Popen([sys.executable, "compare.py", "--epochs", "2", "--impls", "hand", "--jobs", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait() == 1
    assert stderr == ""


# --- workers and the progress bar -----------------------------------------------------------------

def test_worker_processes_give_the_same_numbers_as_this_process():
    options = tables.parse(["--epochs", "3", "--impls", "numpy", "--jobs", "2"])
    concepts = tables.read_concepts(options.keys)
    in_workers = tables.run_all(options, concepts)
    options.jobs = 0
    here = tables.run_all(options, concepts)
    for key in options.keys:
        for what in ("losses", "predictions", "params"):
            assert in_workers["results"][key][what] == here["results"][key][what], (key, what)
        assert in_workers["results"][key]["import_s"] > 0


def test_a_crashed_worker_is_a_failed_result(monkeypatch):
    monkeypatch.setattr(tables, "WORKER", "import sys; sys.exit(3)  # {root}")
    result = tables.run_worker("hand", {})
    assert result["status"] == "failed" and result["errors"][0].startswith("worker exited with code 3")


def test_progress_bar_is_silent_when_stderr_is_not_a_terminal():
    assert tables.progress_bar(io.StringIO()) is None

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    stream = Terminal()
    show = tables.progress_bar(stream)
    show(["hand"], ["torch"], ["jax"])
    assert "[#>-] 1/3 running torch" in stream.getvalue()


def test_workers_share_the_cores_unless_the_user_set_threads(monkeypatch):
    seen = []

    def fake_run(command, input, env, **kwargs):
        seen.append(env.get("OMP_NUM_THREADS"))
        return subprocess.CompletedProcess(command, 0, stdout='{"key": "hand", "status": "ok"}', stderr="")
    monkeypatch.setattr(tables.subprocess, "run", fake_run)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    tables.run_worker("hand", {}, threads=1)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    tables.run_worker("hand", {}, threads=1)
    assert seen == ["1", "4"]
