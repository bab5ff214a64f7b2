"""Trained networks saved and loaded as JSON, never pickle, with what is needed to trust them.

    save("out/digits/networks.json", networks, task="digits", seed=1, dtype="float64",
         settings={"lr": 0.1, "epochs": 50})
    saved = load("out/digits/networks.json", task="digits", count=10, n_in=64, hidden=1)
    saved.networks      # list of params dicts, one per network (a glyph task has one)

The file holds the shape (networks, n_in, hidden), task, seed, dtype, training settings and the
library versions that made it. A save writes a temporary file beside the target and renames it
into place, so an interrupted save never leaves a half-written file where the good one was.
Loading checks every network with shared.validate.check_params (shape, finite numbers) and the
shape the caller expects; anything that does not fit is a ValueError naming the file and what.
"""
import importlib.metadata
import json
import os
import platform
import tempfile
from dataclasses import dataclass, field

from shared import validate

FORMAT = "nn-rosetta/networks"
VERSION = 1
LIBRARIES = ("numpy", "torch", "jax", "jaxlib")


@dataclass
class Saved:
    networks: list
    task: str
    seed: int
    dtype: str
    settings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)


def library_versions():
    """Python's version and each installed framework's, read from package metadata (nothing imported)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def shape_of(networks):
    """A list of params dicts -> (count, n_in, hidden); one shape for all, or a ValueError."""
    if isinstance(networks, dict):
        raise TypeError("networks is one params dict: expected a list of them (wrap a single network as [params])")
    networks = list(networks)
    if not networks:
        raise ValueError("networks is empty: expected at least one params dict")
    shapes = []
    for k, params in enumerate(networks):
        try:
            shapes.append(validate.check_params(params))
        except (ValueError, TypeError) as error:
            raise type(error)(f"network {k}: {error}") from None
        if shapes[k] != shapes[0]:
            raise ValueError(f"network {k} has (H, n_in) = {shapes[k]} but network 0 has {shapes[0]}: "
                             f"expected one shape for all")
    hidden, n_in = shapes[0]
    return len(networks), n_in, hidden


def _number(value):
    # Integer-rounded weights stay integers ("3", not "3.0"); anything else a framework handed
    # back (a NumPy scalar, say) becomes a plain float that json can write.
    return value if isinstance(value, int) else float(value)


def document(networks, task, seed, dtype, settings=None):
    """The JSON object that save writes."""
    count, n_in, hidden = shape_of(networks)
    validate.check_dtype(dtype)
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "shape": {"networks": count, "n_in": n_in, "hidden": hidden},
        "seed": seed,
        "dtype": dtype,
        "settings": dict(settings or {}),
        "versions": library_versions(),
        "networks": [{"W1": [[_number(w) for w in row] for row in params["W1"]],
                      "b1": [_number(b) for b in params["b1"]],
                      "W2": [_number(w) for w in params["W2"]],
                      "b2": _number(params["b2"])} for params in networks],
    }


def check_file_path(path, what="the file"):
    """ValueError, before any work is done, if a file cannot be written at path; its folders are
    made on write. what names the option in the message ("--save", "--json")."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{what} {path} is a folder: expected a file name, such as {os.path.join(path, 'out.json')}")
    _check_folders(os.path.dirname(os.path.abspath(path)), what, path)
    return path


def check_folder_path(path, what="the folder"):
    """ValueError, before any work is done, if path cannot be (made into) a folder to write in."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{what} {path} is a file: expected a folder (it is made if missing)")
    _check_folders(os.path.abspath(path), what, path)
    return path


def _check_folders(folder, what, path):
    # The nearest part of the path that exists must be a folder this process may write in.
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{what} {path} goes through {existing}, which is a file: expected a path in a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: no permission to write in {existing}: choose a folder you can write to")


def write_atomic(path, data):
    """Write text or bytes to path through a temporary file renamed into place, so whatever stops
    the write (an error, Ctrl-C) leaves the file that was at path as it was. Every file the suite
    writes goes through here: networks, tables, reports, pictures."""
    path = check_file_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data if isinstance(data, bytes) else data.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def save(path, networks, task, seed, dtype="float64", settings=None):
    """Write networks to path as JSON, atomically (write_atomic)."""
    text = json.dumps(document(networks, task, seed, dtype, settings), indent=1, allow_nan=False)
    return write_atomic(path, text + "\n")


class NotFinite(ValueError):
    pass


def _reject_constant(name):
    raise NotFinite(f"holds {name}: expected finite numbers only")


def load(path, task=None, count=None, n_in=None, hidden=None):
    """Read a file that save wrote; each expectation given (task, count, n_in, hidden) must match."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise OSError(f"{path} not found: expected a networks file written by --save")
    try:
        with open(path, encoding="utf-8") as file:
            # json reads NaN and Infinity by default; a trained network never holds them.
            data = json.load(file, parse_constant=_reject_constant)
    except NotFinite as error:
        raise ValueError(f"{path} is not a networks file: {error}") from None
    except ValueError as error:  # not JSON, or not text at all (UnicodeDecodeError is a ValueError)
        reason = str(error).split(" (char ")[0]
        raise ValueError(f"{path} is not a networks file ({reason}): expected the JSON that --save writes") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a networks file: expected a JSON object with \"format\": \"{FORMAT}\"")
    if data.get("version") != VERSION:
        raise ValueError(f"{path} has format version {data.get('version')!r}: this code reads version {VERSION}")
    missing = [k for k in ("task", "shape", "seed", "dtype", "networks") if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: expected a file written by --save")
    if not isinstance(data["networks"], list):
        raise ValueError(f"{path}: networks is {type(data['networks']).__name__}: expected a list of params")
    try:
        found = shape_of(data["networks"])
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: {error}") from None
    stated = data["shape"]
    stated = (stated.get("networks"), stated.get("n_in"), stated.get("hidden")) if isinstance(stated, dict) else None
    if stated != found:
        raise ValueError(f"{path}: its shape says (networks, n_in, hidden) = {stated} but it holds {found}")
    if task is not None and data["task"] != task:
        raise ValueError(f"{path} holds task {data['task']!r}: expected {task!r}")
    names = ("networks", "n_in", "hidden")
    for name, want, have in zip(names, (count, n_in, hidden), found):
        if want is not None and want != have:
            raise ValueError(f"{path} holds {name} = {have}: expected {want} "
                             f"(the file is {found[0]} networks of {found[1]} -> {found[2]} -> 1)")
    return Saved(data["networks"], data["task"], data["seed"], data["dtype"],
                 data.get("settings") or {}, data.get("versions") or {})
