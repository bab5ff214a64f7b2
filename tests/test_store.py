"""shared/store.py: trained networks saved and loaded as JSON, atomically, with every mismatch named."""
import json
import math
import os

import pytest

from shared import store
from shared.params import init_networks, init_params


def ten_digit_networks():
    return init_networks(10, 64, 1, seed=3)


def test_round_trip_ten_networks_keeps_every_value_and_the_metadata(tmp_path):
    networks = ten_digit_networks()
    path = tmp_path / "networks.json"
    store.save(path, networks, task="digits", seed=3, dtype="float64", settings={"lr": 0.1, "epochs": 50})
    saved = store.load(path, task="digits", count=10, n_in=64, hidden=1)
    # JSON writes a float's shortest repr, which reads back to the identical double.
    assert saved.networks == networks
    assert (saved.task, saved.seed, saved.dtype) == ("digits", 3, "float64")
    assert saved.settings == {"lr": 0.1, "epochs": 50}
    assert "python" in saved.versions and "numpy" in saved.versions
    data = json.loads(path.read_text())
    assert data["shape"] == {"networks": 10, "n_in": 64, "hidden": 1}


def test_round_trip_one_glyph_network(tmp_path):
    params = init_params(9, 9, seed=1)
    path = tmp_path / "is-one.json"
    store.save(path, [params], task="is-one", seed=1)
    saved = store.load(path, task="is-one", count=1, n_in=9, hidden=9)
    assert saved.networks == [params]


def test_integer_weights_are_written_as_integers(tmp_path):
    params = {"W1": [[1, -2], [0, 3]], "b1": [0, 1], "W2": [2, -1], "b2": 0}
    path = tmp_path / "rounded.json"
    store.save(path, [params], task="digits", seed=1)
    assert json.loads(path.read_text())["networks"][0]["W1"][0] == [1, -2]
    assert all(isinstance(w, int) for w in json.loads(path.read_text())["networks"][0]["W1"][0])


def test_a_save_that_fails_while_writing_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "networks.json"
    store.save(path, ten_digit_networks(), task="digits", seed=3)
    before = path.read_bytes()

    def interrupted(_fd):
        raise KeyboardInterrupt  # as if Ctrl-C arrived with the new text half on disk

    monkeypatch.setattr(store.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.save(path, init_networks(10, 64, 1, seed=4), task="digits", seed=4)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["networks.json"]  # no temporary file left behind


def test_a_save_that_fails_in_json_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "networks.json"
    store.save(path, ten_digit_networks(), task="digits", seed=3)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure inside json")

    monkeypatch.setattr(store.json, "dumps", broken)
    with pytest.raises(RuntimeError):
        store.save(path, init_networks(10, 64, 1, seed=4), task="digits", seed=4)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["networks.json"]


def test_saving_a_nan_is_refused_and_writes_nothing(tmp_path):
    params = init_params(9, 2, seed=1)
    params["W2"][1] = math.nan
    path = tmp_path / "bad.json"
    with pytest.raises(ValueError, match=r"network 0: params W2.*\[1\] is nan"):
        store.save(path, [params], task="is-one", seed=1)
    assert not path.exists()


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def saved_file(tmp_path):
    path = tmp_path / "networks.json"
    store.save(path, ten_digit_networks(), task="digits", seed=3)
    return path


def test_loading_a_network_with_a_missing_bias_names_the_network_and_group(saved_file):
    edit(saved_file, lambda data: data["networks"][3]["b1"].pop())
    with pytest.raises(ValueError, match=r"networks.json: network 3: params b1.* has 0 values: expected 1"):
        store.load(saved_file)


def test_loading_a_network_with_a_missing_weight_names_the_network(saved_file):
    edit(saved_file, lambda data: data["networks"][3]["W1"][0].pop())
    with pytest.raises(ValueError, match=r"network 3 has \(H, n_in\) = \(1, 63\) but network 0 has \(1, 64\)"):
        store.load(saved_file)


def test_loading_nan_names_the_file_and_nan(saved_file):
    edit(saved_file, lambda data: data["networks"][2]["W1"][0].__setitem__(5, math.nan))  # json writes NaN
    with pytest.raises(ValueError, match=r"networks.json is not a networks file: holds NaN"):
        store.load(saved_file)


def test_loading_infinity_is_refused(saved_file):
    data = json.loads(saved_file.read_text())
    data["networks"][0]["b2"] = math.inf
    saved_file.write_text(json.dumps(data))  # json writes Infinity
    with pytest.raises(ValueError, match="Infinity"):
        store.load(saved_file)


def test_loading_the_wrong_shape_for_the_task_says_what_was_expected(saved_file):
    with pytest.raises(ValueError, match=r"holds n_in = 64: expected 256"):
        store.load(saved_file, task="digits", count=10, n_in=256)
    with pytest.raises(ValueError, match=r"holds hidden = 1: expected 4"):
        store.load(saved_file, hidden=4)
    with pytest.raises(ValueError, match=r"holds networks = 10: expected 1"):
        store.load(saved_file, count=1)


def test_loading_another_task_is_refused(saved_file):
    with pytest.raises(ValueError, match=r"holds task 'digits': expected 'is-one'"):
        store.load(saved_file, task="is-one")


def test_a_stated_shape_that_disagrees_with_the_networks_is_refused(saved_file):
    edit(saved_file, lambda data: data["shape"].update(hidden=2))
    with pytest.raises(ValueError, match=r"shape says .* \(10, 64, 2\) but it holds \(10, 64, 1\)"):
        store.load(saved_file)


def test_networks_of_different_shapes_are_refused(saved_file):
    def widen(data):
        data["networks"][5] = init_params(64, 2, seed=1)
    edit(saved_file, widen)
    with pytest.raises(ValueError, match=r"network 5 has \(H, n_in\) = \(2, 64\)"):
        store.load(saved_file)


def test_a_file_that_is_not_a_networks_file_is_named(tmp_path):
    path = tmp_path / "other.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match=r"other.json is not a networks file"):
        store.load(path)
    path.write_text('{"format": "nn-rosetta/networks", "version": 1')
    with pytest.raises(ValueError, match=r"other.json is not a networks file"):
        store.load(path)
    # Not JSON, or not text: the reason and what the file should be, without the decoder's char offset.
    path.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ValueError, match=r"other.json is not a networks file \(Expecting value: line 1 column 1\): "
                                         r"expected the JSON that --save writes$"):
        store.load(path)
    path.write_bytes(b"\x7fELF\xd0\x00\x01")
    with pytest.raises(ValueError, match=r"other.json is not a networks file \('utf-8' codec can't decode"):
        store.load(path)


def test_a_missing_file_is_an_oserror_naming_it(tmp_path):
    with pytest.raises(OSError, match=r"nowhere.json not found"):
        store.load(tmp_path / "nowhere.json")


def test_one_params_dict_must_be_wrapped_in_a_list(tmp_path):
    with pytest.raises(TypeError, match=r"wrap a single network as \[params\]"):
        store.save(tmp_path / "x.json", init_params(9, 9, seed=1), task="is-one", seed=1)
