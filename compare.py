#!/usr/bin/env python3
"""nn-rosetta: one tiny network in four frameworks, side by side.

    python compare.py                      tables for every installed implementation (see --help)
    python compare.py --task digits        the handwritten-digit one-vs-rest experiment
    python compare.py --check my_impl.py   hold your own implementation to the hand-written one
    python compare.py --bench              time every implementation on every workload

Each mode has its own options: python compare.py [--task digits | --check X | --bench] --help.
"""
import sys

from tools import cli

# The option that selects a mode, and the module whose main(argv) runs it.
MODES = {"--check": "tools.check", "--drift": "tools.check", "--golden": "tools.check",
         "--bench": "tools.bench"}


def mode_of(argv):
    for i, arg in enumerate(argv):
        flag = arg.split("=", 1)[0]
        if flag in MODES:
            return MODES[flag]
        value = arg.split("=", 1)[1] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
        if flag == "--task" and value == "digits":
            return "tools.digits"
    return "tools.tables"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    import importlib
    module = importlib.import_module(mode_of(argv))
    return cli.run(module.main, argv)


if __name__ == "__main__":
    sys.exit(main())
