"""The errors a user can cause and fix (a bad param, a corrupt file, a server that is down), and how
every stage and command line reports them: one line, `error: <message>`, on stderr, exit status
USER_ERROR (argparse's own usage errors keep its status, 2). Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

USER_ERROR = 1  # the exit status of a user's error, from a stage or either command line


class UserError(Exception):
    """Something the user gave or runs against is wrong; the message names it (a params key, a file,
    an address) and is all they need to see."""


def handled(main: Callable[..., int | None], *args) -> int:
    """main(*args)'s exit status: what it returns (None: 0), or USER_ERROR after printing a UserError's
    one line on stderr."""
    try:
        return main(*args) or 0
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return USER_ERROR
