"""The cross-check kit: built-ins pass, every catalogued bug is caught by the check that names it,
broken modules get a report instead of a traceback, the golden trace still matches the reference."""
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import compare
from shared.glyphs import dataset
from shared.params import init_params
from tests.known_bugs import CATALOGUE
from tools import check, golden

ROOT = Path(__file__).resolve().parent.parent
BUGS = ROOT / "tests" / "known_bugs"
QUICK = check.QUICK_EPOCHS
FLOAT64 = check.load_profile("float64")


def conformance(module, dtype="float64", profile=None, label="module"):
    """{check name: Result} for module, with the --quick full run."""
    subject = check.Subject(label, module, dtype)
    return {r.name: r for r in check.run_checks(subject, profile or check.load_profile(dtype), QUICK)}


def first_failure(results):
    return next((name for name, r in results.items() if r.status != "pass"), None)


def write_module(tmp_path, source, name="user_impl"):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


# ---- the built-ins pass ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_builtin_implementation_passes_every_check(impl, dtype):
    results = conformance(impl, dtype, label=impl.__name__)
    assert [r.name for r in results.values() if r.status != "pass"] == [], \
        {name: r.problems[:2] for name, r in results.items()}
    assert all(r.cases > 0 for r in results.values())


def test_the_nine_by_nine_param_set_is_not_symmetric():
    # A symmetric W1 would let a transposed W1 pass the one check where its shape fits.
    W1 = np.array(init_params(9, 9, check.PARAM_SETS[0][1])["W1"])
    assert check.PARAM_SETS[0][0] == 9
    assert np.abs(W1 - W1.T).max() > 0.1


def test_float32_results_fail_the_float64_profile():
    # The derived tolerances are tight enough to tell the dtypes apart, so they can fail.
    numpy = pytest.importorskip("impls.nn_numpy")
    strict = check.Profile("float64", "float64", unit_roundoff=check.UNIT_ROUNDOFF["float64"])
    results = conformance(numpy, "float32", strict)
    assert results["forward"].status == "FAIL"


def nudged(ulps_away):
    """The reference, with one gradient entry moved ulps_away representable floats off."""
    hand = check.impls.get("hand")

    class Module:
        predict, train = staticmethod(hand.predict), staticmethod(hand.train)

        @staticmethod
        def gradients(params, x, t, dtype="float64"):
            g = hand.gradients(params, x, t)
            value = g["W2"][0]
            for _ in range(ulps_away):
                value = float(np.nextafter(value, np.inf))
            g["W2"][0] = value
            return g
    return Module


def test_gradient_tolerance_lies_between_one_ulp_and_a_thousand():
    assert check.check_gradients(check.Subject("1 ulp", nudged(1)), FLOAT64).status == "pass"
    assert check.check_gradients(check.Subject("1000 ulps", nudged(1000)), FLOAT64).status == "FAIL"


# ---- the known-bug catalogue -----------------------------------------------------------------

@pytest.mark.parametrize("bug", sorted(CATALOGUE))
def test_catalogued_bug_is_caught_by_the_check_that_names_it(bug):
    label, module = check.load(str(BUGS / f"{bug}.py"))
    results = conformance(module, label=label)
    expected = CATALOGUE[bug]
    assert first_failure(results) == expected
    assert results[expected].problems, "a failed check must say which case failed"


def test_the_catalogue_covers_every_bug_module():
    assert {p.stem for p in BUGS.glob("*.py")} - {"__init__"} == set(CATALOGUE)


@pytest.mark.parametrize("bug, group", [("hidden_bias_gradient_forgotten", "b1"), ("mse_factor_dropped", "b2")])
def test_failed_gradient_check_names_the_parameter_group(bug, group):
    _, module = check.load(str(BUGS / f"{bug}.py"))
    result = check.check_gradients(check.Subject(bug, module), FLOAT64)
    assert result.where.startswith(group)


def test_transposed_w1_crash_at_other_widths_is_a_failed_case_not_a_traceback():
    _, module = check.load(str(BUGS / "w1_transposed.py"))
    result = check.check_forward(check.Subject("w1_transposed", module), FLOAT64)
    assert any("H=16" in p and "IndexError" in p for p in result.problems)
    assert any(p.startswith("H=9 seed=0") and "differs" in p for p in result.problems)


# ---- the drift ledger ------------------------------------------------------------------------

def subject(spec):
    return check.Subject(*check.load(spec))


def test_ledger_finds_the_first_step_and_group_of_a_bug():
    rows, first = check.ledger(subject(str(BUGS / "gradients_accumulated.py")), subject("hand"), FLOAT64,
                               epochs=1, per_step=True)
    assert len(rows) == len(dataset("is-one")[0])
    assert (first.epoch, first.step) == (1, 2)  # the first step has nothing accumulated yet
    rows, first = check.ledger(subject(str(BUGS / "hidden_bias_gradient_forgotten.py")), subject("hand"),
                               FLOAT64, epochs=1, per_step=True)
    assert (first.step, first.worst_group()) == (1, "b1")
    # This one ends in NaN within two epochs; the steps before the NaN still locate the bug.
    rows, first = check.ledger(subject(str(BUGS / "sigmoid_derivative_of_preactivation.py")), subject("hand"),
                               FLOAT64, epochs=2, per_step=True)
    assert (first.epoch, first.step) == (1, 1)


def test_ledger_of_a_correct_implementation_stays_in_budget(other):
    rows, first = check.ledger(check.Subject("other", other), subject("hand"), FLOAT64, epochs=3)
    assert first is None
    assert len(rows) == 3 and all(r.groups["W1"]["ulps"] >= 0 for r in rows)


def test_ulps_counts_representable_floats_between_two_values():
    assert check.ulps(1.0, np.nextafter(1.0, 2.0)) == 1
    assert check.ulps(1.0, 2.0) == 2 ** 52          # every float64 in [1, 2) has the same spacing
    assert check.ulps(-0.0, 0.0) == 0
    assert check.ulps(5e-324, -5e-324) == 2         # the two smallest subnormals straddle zero
    assert check.ulps(1.0, 1.0 + 2.0 ** -23, "float32") == 1


# ---- modules that do not follow the protocol -------------------------------------------------

BROKEN = {
    "missing_function": ("""
        from impls.nn_hand import predict, train
        """, "gradients", "the module has no gradients()"),
    "wrong_shape": ("""
        from impls.nn_hand import gradients, train
        from impls.nn_hand import predict as _predict
        def predict(params, X, dtype="float64"):
            return _predict(params, X)[1:]
        """, "forward", "predict() has shape"),
    "nan_output": ("""
        from impls.nn_hand import predict, train
        from impls.nn_hand import gradients as _gradients
        def gradients(params, x, t, dtype="float64"):
            g = _gradients(params, x, t)
            g["W1"][0][0] = float("nan")
            return g
        """, "gradients", "gradients() W1[0][0] is nan"),
    "exception_inside": ("""
        from impls.nn_hand import predict, gradients
        def train(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
            raise RuntimeError("not written yet")
        """, "sgd-step", "train() raised RuntimeError: not written yet"),
    "import_fails": ("""
        import impls.nn_hand
        1 / 0
        """, "protocol", "raised ZeroDivisionError"),
    "exits_at_import": ("""
        import sys
        sys.exit(3)
        """, "protocol", "raised SystemExit: 3"),
    "modifies_params": ("""
        from impls.nn_hand import predict, gradients
        from impls.nn_hand import train as _train
        def train(params, X, T, lr=0.1, epochs=1000, dtype="float64"):
            trained, losses = _train(params, X, T, lr, epochs)
            params["b2"] = trained["b2"]
            return trained, losses
        """, "no-mutation", "train() modified the params"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_module_gets_a_report_naming_the_check_not_a_traceback(case, tmp_path, capsys):
    source, failing, message = BROKEN[case]
    path = write_module(tmp_path, source, case)
    code = compare.main(["--check", str(path), "--quick"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    line = next(line for line in out.splitlines() if line.strip().startswith(failing + " "))
    assert "FAIL" in line or "not run" in line
    assert message in out


def test_unknown_path_is_a_one_line_usage_error(capsys):
    assert compare.main(["--check", "no/such/impl.py"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


@pytest.mark.parametrize("name, message", [("impl.txt", "is not a .py file"), ("folder", "is a folder")])
def test_a_path_that_is_not_a_python_file_is_a_one_line_usage_error(tmp_path, capsys, name, message):
    path = tmp_path / name
    path.mkdir() if name == "folder" else path.write_text("def predict(params, X): pass\n")
    assert compare.main(["--check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_file_named_without_a_folder_is_taken_as_a_file(tmp_path, capsys, monkeypatch):
    # "README.md" has no slash and no .py: it exists, so it is a file that is not Python, not a missing module.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("# not Python\n")
    assert compare.main(["--check", "notes.md"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.md is not a .py file" in err


def test_a_bad_option_points_to_the_kits_own_help(capsys):
    with pytest.raises(SystemExit) as exit:  # argparse's error path, as `python compare.py` takes it
        compare.main(["--check", "hand", "--epochs", "x"])
    assert exit.value.code == 2
    assert "(python compare.py --check hand --help lists the options)" in capsys.readouterr().err


def test_rtol_without_atol_is_a_usage_error(capsys):
    assert compare.main(["--check", "hand", "--rtol", "1e-6"]) == 2
    assert "--rtol and --atol go together" in capsys.readouterr().err


# ---- tolerance profiles ----------------------------------------------------------------------

def test_fixed_zero_tolerance_passes_only_bitwise_equal_results(tmp_path):
    exact = check.load_profile("float64", rtol=0.0, atol=0.0)
    hand = check.impls.get("hand")
    assert check.check_forward(check.Subject("hand", hand), exact).status == "pass"
    # 1 ulp off is within the derived bound but not within a zero tolerance.
    assert check.check_gradients(check.Subject("1 ulp", nudged(1)), exact).status == "FAIL"


def test_profile_file_sets_safety_and_per_check_tolerances(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"name": "loose", "safety": 1e6, "checks": {"gradients": {"rtol": 0, "atol": 0}}}))
    profile = check.load_profile("float64", str(path))
    assert check.check_gradients(check.Subject("1000 ulps", nudged(1000)), profile).status == "FAIL"
    assert check.check_forward(check.Subject("hand", check.impls.get("hand")), profile).status == "pass"
    path.write_text(json.dumps({"safty": 2}))
    with pytest.raises(ValueError, match="unknown keys"):
        check.load_profile("float64", str(path))


def test_float32_profile_is_wider_than_float64():
    bounds = check.ErrorBounds(init_params(), *dataset("is-one")[:2])
    tol32 = check.load_profile("float32").tolerance("forward", bounds.p, bounds.forward, check.UNIT_ROUNDOFF["float32"])
    tol64 = check.load_profile("float64").tolerance("forward", bounds.p, bounds.forward, check.UNIT_ROUNDOFF["float64"])
    assert np.all(tol32 > 1e8 * tol64 / 2)  # u32 / u64 = 2^29 ~ 5e8, halved by the reference's share


# ---- the environment fingerprint -------------------------------------------------------------

def test_fingerprint_names_versions_blas_device_and_compute_dtype():
    info = check.fingerprint(subject("hand"))
    assert info["computes in"].startswith("float64")
    assert info["NumPy"] == np.__version__
    assert info["BLAS"] and info["device"] and info["python"]


def test_fingerprint_says_unknown_without_compute_dtype_and_infers_from_predictions(tmp_path):
    path = write_module(tmp_path, "from impls.nn_hand import predict, gradients, train\n")
    said = check.fingerprint(subject(str(path)))["computes in"]
    assert said.startswith("unknown") and said.endswith("fit float64")


def test_fingerprint_infers_float32_from_float32_predictions(tmp_path):
    pytest.importorskip("numpy")
    path = write_module(tmp_path, """
        from impls.nn_numpy import gradients, train
        from impls.nn_numpy import predict as _predict
        def predict(params, X):
            return _predict(params, X, "float32")
        """)
    assert check.fingerprint(subject(str(path)))["computes in"].endswith("fit float32")


def test_reference_trajectory_is_hand_trains_single_run():
    hand = check.impls.get("hand")
    X, T, _ = dataset("digit-value")
    params = init_params()
    records = check.reference_trajectory(params, X, T, 0.1, 5)
    assert (records[-1][0], [loss for _, loss in records]) == hand.train(params, X, T, 0.1, 5)


# ---- the golden trace ------------------------------------------------------------------------

def test_golden_trace_in_the_repo_matches_the_hand_written_reference():
    on_file = golden.read(golden.PATH)
    # json round-trips every float64 exactly, so == here is bit-for-bit.
    assert on_file == json.loads(json.dumps(golden.trace()))
    run = on_file["run"]
    X, T, _ = dataset(run["task"])
    params, losses = check.impls.get("hand").train(on_file["initial_params"], X, T, run["lr"], run["epochs"])
    assert on_file["steps"][-1]["params"] == params and on_file["epoch_losses"] == losses


def test_golden_trace_is_small_versioned_and_documents_every_field():
    data = golden.read(golden.PATH)
    assert golden.PATH.stat().st_size < 1_000_000
    assert data["format_version"] == golden.FORMAT_VERSION
    assert set(data) == set(data["fields"])
    assert len(data["steps"]) == data["run"]["epochs"] * len(data["X"])


def test_every_implementation_verifies_against_the_golden_trace(impl):
    results = golden.verify(check.Subject("impl", impl), golden.read(golden.PATH), FLOAT64)
    assert [r.name for r in results if r.status != "pass"] == []


def test_golden_verify_names_the_first_wrong_step(tmp_path, capsys):
    data = golden.read(golden.PATH)
    data["steps"][5]["params"]["b1"][2] += 1e-9
    path = tmp_path / "tampered.json"
    path.write_text(golden.dumps(data))
    assert compare.main(["--golden", "verify", str(path)]) == 1
    assert "first wrong at epoch 1 step 6 (sample 5): b1[2]" in capsys.readouterr().out


def test_golden_write_regenerates_the_same_bytes(tmp_path, capsys):
    path = tmp_path / "trace.json"
    assert compare.main(["--golden", "write", str(path)]) == 0
    assert path.read_bytes() == golden.PATH.read_bytes()


# ---- the command line end to end -------------------------------------------------------------

def test_check_command_passes_hand_and_prints_the_fingerprint(capsys):
    assert compare.main(["--check", "hand", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "result: pass" in out and "environment: Python" in out and "BLAS" in out


def test_drift_command_reports_a_bug_and_exits_non_zero(capsys):
    code = compare.main(["--drift", str(BUGS / "lr_wrong_sign.py"), "hand", "--per-step", "--epochs", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "first out of budget at epoch 1 step 1" in out
