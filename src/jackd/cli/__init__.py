"""The ``jackd`` command: ``jackd worker myapp.jobs:worker`` and, later, more subcommands.

It comes with the ``cli`` extra (``pip install 'jackd[cli]'``), which brings click; jackd's
core never imports click, and this package imports it only inside ``main``, so that without
the extra the command says how to get it instead of failing with a traceback. Each
subcommand is a module of its own here (``worker.py``), added to the group in ``group.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: What the command prints, alone, when click is missing.
INSTALL_HINT = "jackd: the jackd command needs the cli extra: pip install 'jackd[cli]'"

#: The exit codes of ``jackd`` and its subcommands.
EXIT_OK = 0
"""A clean stop: the work is done, or a signal stopped it, gracefully or not."""
EXIT_ERROR = 1
"""A runtime error."""
EXIT_USAGE = 2
"""A usage error: a bad option, or a ``module:attribute`` that names no worker."""
EXIT_UNREACHABLE = 3
"""No server could be reached at start."""


#: The packages the cli extra brings; the command says how to install it if one is missing.
EXTRA_PACKAGES = ("click", "rich")


def _extra_missing(exc: ImportError) -> bool:
    return (exc.name or "").split(".")[0] in EXTRA_PACKAGES


def main(args: Sequence[str] | None = None) -> None:
    """Run the ``jackd`` command (the console script, and ``python -m jackd``).

    ``args`` are its arguments (default: ``sys.argv[1:]``). Exits with the command's code.
    """
    try:
        from .group import jackd
    except ImportError as exc:
        if not _extra_missing(exc):
            raise
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    jackd.main(args=list(args) if args is not None else None)


__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "INSTALL_HINT",
    "main",
]
