"""What every compare.py mode shares: one-line errors and exit code 2 for a user's mistake."""
import argparse
import os
import sys

from impls import MissingFramework

USAGE_ERRORS = (ValueError, TypeError, OSError, MissingFramework)


def describe_os_error(error):
    """An OSError as one line that names the path; our own OSErrors already carry a whole sentence."""
    if error.strerror and error.filename:
        return f"{error.filename}: {error.strerror.lower()}: check the path and its permissions"
    return str(error)


def plural(count, noun):
    """'1 thread', '2 threads'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def fail(message):
    """Print one line naming the problem to stderr; return the CLI's exit code for bad input."""
    print(f"compare.py: error: {message}", file=sys.stderr)
    return 2


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit code 2, not usage plus error.

    help_command is the command that lists this mode's options, for the pointer after an error;
    by default prog (which names the mode, "compare.py --task digits") followed by --help."""

    def __init__(self, *args, help_command=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.help_command = help_command or f"{self.prog} --help"

    def error(self, message):
        sys.exit(fail(f"{message} (python {self.help_command} lists the options)"))


def run(main, argv):
    """Run a mode's main(argv); a user's mistake becomes one line and exit code 2, never a traceback."""
    try:
        return main(argv)
    except BrokenPipeError:
        # The reader went away (compare.py ... | head): not a mistake, so no message. Point stdout
        # at /dev/null so that Python's flush at exit does not raise the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        return fail(describe_os_error(error))
    except USAGE_ERRORS as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted")
