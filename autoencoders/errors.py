"""The errors a user can cause and fix (a bad param, a corrupt file, a server that is down), and how a
command line reports them: one line, `error: <message>`, on stderr, exit status 1. Anything else is a
bug and keeps its traceback."""
from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """Something the user gave or runs against is wrong; the message names it (a params key, a file,
    an address) and is all they need to see."""


def run(main: Callable[[], object]) -> None:
    """Run a command's main(): a UserError becomes one line on stderr and exit status 1."""
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
