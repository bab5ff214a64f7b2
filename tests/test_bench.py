"""The benchmark command: its tables' structure, ratios taken within one run, agreement with hand, bad input.

Never a timed assertion: these runs are tiny (2 epochs) and check what the bench reports, not how fast.
"""
import json
import math
import statistics
import subprocess
import sys

import pytest

import compare
import impls
from shared import validate
from tools import bench

# The bench derives ratios and per-step times by one division each; recomputing them here from the
# same run's figures gives the same float, up to the last bit of a JSON round trip.
RATIO_RTOL = 1e-12
EPOCHS = 2
GLYPH_STEPS = 18 * EPOCHS  # 18 is-one glyphs x 2 epochs
QUICK = ["--bench", "--workload", "glyphs", "--epochs", str(EPOCHS), "--repeats", "2"]


def run_bench(argv, capsys):
    code = compare.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def rows_by_variant(report, workload="glyphs"):
    (result,) = [w for w in report["workloads"] if w["name"] == workload]
    return {row["variant"]: row for row in result["rows"]}


def test_json_report_has_every_figure_and_ratios_from_the_same_run(capsys):
    code, out, _ = run_bench(QUICK + ["--impls", "hand,numpy", "--skip", "c,naive,wall", "--format", "json"], capsys)
    assert code == 0
    report = json.loads(out)
    (result,) = report["workloads"]
    assert result["name"] == "glyphs" and result["steps"] == GLYPH_STEPS
    rows = rows_by_variant(report)
    assert list(rows) == ["hand", "numpy"]
    hand_min = rows["hand"]["train_s"]["min"]
    for name, row in rows.items():
        times = row["train_s"]["all"]
        assert len(times) == 2, f"{name}: --repeats 2 gives two timed calls"
        assert row["train_s"]["min"] == min(times) and row["train_s"]["median"] == statistics.median(times)
        assert math.isclose(row["ratio_hand"], row["train_s"]["min"] / hand_min, rel_tol=RATIO_RTOL), name
        assert math.isclose(row["per_step_s"], row["train_s"]["min"] / GLYPH_STEPS, rel_tol=RATIO_RTOL), name
        assert row["ratio_c"] is None, f"{name}: no C loop in this run, so no ratio to it"
        assert row["first_s"] > 0 and row["warmup_s"] >= 0
        assert row["import_s"]["min"] > 0, f"{name}: import time comes from a fresh interpreter"
    assert rows["numpy"]["agrees"] is True and rows["numpy"]["max_diff"] <= bench.AGREE_TOL
    assert "agrees" not in rows["hand"], "hand is the reference, not compared with itself"
    assert result["validation_s"]["min"] > 0


def test_text_and_markdown_show_one_row_per_variant(capsys):
    argv = QUICK + ["--impls", "hand,numpy", "--skip", "c,naive,wall,imports", "--repeats", "1"]
    code, text, _ = run_bench(argv, capsys)
    assert code == 0
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("variant"))
    for column in ("import", "1st call", "warm-up", "train min", "train median", "per step", "t/hand", "t/C"):
        assert column in header
    assert any(line.startswith("hand ") for line in lines) and any(line.startswith("numpy ") for line in lines)
    assert "input validation" in text

    code, markdown, _ = run_bench(argv + ["--format", "markdown"], capsys)
    assert code == 0
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert table[0].startswith("| variant |") and set(table[1]) <= set("|-")
    assert [line.split("|")[1].strip() for line in table[2:]] == ["hand", "numpy"]


@pytest.mark.skipif(bench.c_compiler() is None, reason="no C compiler (cc, gcc or clang) on this machine")
def test_c_loop_computes_what_hand_computes(capsys):
    code, out, _ = run_bench(QUICK + ["--impls", "hand", "--skip", "naive,wall,imports", "--format", "json"], capsys)
    assert code == 0
    rows = rows_by_variant(json.loads(out))
    assert rows["C loop"]["agrees"] is True, f"C loop differs from hand by {rows['C loop']['max_diff']}"
    assert math.isclose(rows["hand"]["ratio_c"], rows["hand"]["train_s"]["min"] / rows["C loop"]["train_s"]["min"],
                        rel_tol=RATIO_RTOL)


def test_naive_torch_reference_computes_what_hand_computes(capsys):
    pytest.importorskip("torch", reason="the naive reference row is PyTorch's")
    code, out, _ = run_bench(QUICK + ["--impls", "hand,torch", "--skip", "c,wall,imports", "--format", "json"], capsys)
    assert code == 0
    report = json.loads(out)
    rows = rows_by_variant(report)
    assert rows["torch naive"]["agrees"] is True, f"naive differs from hand by {rows['torch naive']['max_diff']}"
    assert rows["torch"]["agrees"] is True
    (speedup,) = [t for t in report["targets"] if t["what"].startswith("glyphs: torch naive /")]
    best = min(rows[name]["train_s"]["min"] for name in rows if name.startswith("torch") and name != "torch naive")
    assert math.isclose(speedup["value"], rows["torch naive"]["train_s"]["min"] / best, rel_tol=RATIO_RTOL)


def test_a_fast_path_is_timed_and_a_wrong_one_fails_the_run(capsys, monkeypatch):
    numpy_impl = impls.get("numpy")

    def train_fast(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
        trained, losses = numpy_impl.train(params, X, T, lr, epochs, dtype)
        trained["b2"] += 1e-3  # a fast path that went wrong
        return trained, losses

    monkeypatch.setattr(numpy_impl, "train_fast", train_fast, raising=False)
    code, out, err = run_bench(QUICK + ["--impls", "hand,numpy", "--skip", "c,naive,wall,imports", "--format", "json"],
                               capsys)
    rows = rows_by_variant(json.loads(out))
    assert rows["numpy"]["agrees"] is True
    assert rows["numpy fast"]["agrees"] is False and rows["numpy fast"]["max_diff"] > bench.AGREE_TOL
    assert code == 1 and "numpy fast" in err


def test_torch_threads_is_shown_and_put_back(capsys):
    torch = pytest.importorskip("torch", reason="--torch-threads sets PyTorch's pool")
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    code, out, _ = run_bench(["--bench", "--workload", "glyphs", "--epochs", "1", "--repeats", "1", "--impls", "torch",
                              "--skip", "c,naive,wall,imports", "--torch-threads", str(wanted), "--format", "json"], capsys)
    assert code == 0
    machine = json.loads(out)["machine"]
    assert machine["torch_threads"]["intra_op"] == wanted and machine["torch_threads_set_by"] == f"--torch-threads {wanted}"
    assert torch.get_num_threads() == before


def test_timed_runs_leave_validation_as_it_was():
    check_train = validate.check_train
    with pytest.raises(RuntimeError):
        with bench.inputs_checked_once():
            assert validate.check_train is not check_train
            raise RuntimeError("a failing run")
    assert validate.check_train is check_train
    with pytest.raises(ValueError):
        validate.check_train({"W1": []}, [[0.0]], [0.0], 0.1, 1)


def test_scaling_tables_and_plot(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "SCALING_STEPS", 36)  # two glyph epochs a cell: structure, not speed
    out_dir = tmp_path / "bench"
    code, out, _ = run_bench(["--bench", "--scaling", "--impls", "hand,numpy", "--repeats", "1",
                              "--skip", "c,naive", "--out", str(out_dir)], capsys)
    assert code == 0
    for column in ("H = 1", "H = 9", "H = 64", "H = 256", "glyphs x1", "glyphs x10", "glyphs x100"):
        assert column in out
    assert "every scaling cell agrees with hand" in out
    png = out_dir / "scaling.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out_dir.iterdir()] == ["scaling.png"], "no temporary file left behind"


@pytest.mark.parametrize("argv, names", [
    (["--impls", "hand,fortran"], "--impls"),
    (["--repeats", "0"], "--repeats"),
    (["--epochs", "-3"], "--epochs"),
    (["--workload", "mnist"], "--workload"),
    (["--format", "xml"], "--format"),
    (["--skip", "everything"], "--skip"),
    (["--torch-threads", "none"], "--torch-threads"),
    (["--scaling", "--workload", "digits"], "--scaling"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, names):
    done = subprocess.run([sys.executable, "compare.py", "--bench", *argv], capture_output=True, text=True,
                          cwd=bench.REPO, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compare.py: error:") and names in lines[0], done.stderr


def test_out_that_is_a_file_fails_before_measuring(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    done = subprocess.run([sys.executable, "compare.py", "--bench", "--scaling", "--out", str(blocker)],
                          capture_output=True, text=True, cwd=bench.REPO, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and str(blocker) in done.stderr
    assert blocker.read_text() == "not a folder"
