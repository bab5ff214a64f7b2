"""What every compare.py mode shares: one-line errors and exit code 2 for a user's mistake."""
import argparse
import sys

from impls import MissingFramework

USAGE_ERRORS = (ValueError, TypeError, OSError, MissingFramework)


def fail(message):
    """Print one line naming the problem to stderr; return the CLI's exit code for bad input."""
    print(f"compare.py: error: {message}", file=sys.stderr)
    return 2


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit code 2, not usage plus error."""

    def error(self, message):
        sys.exit(fail(f"{message} (python compare.py --help lists the options)"))


def run(main, argv):
    """Run a mode's main(argv); a user's mistake becomes one line and exit code 2, never a traceback."""
    try:
        return main(argv)
    except USAGE_ERRORS as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted")
