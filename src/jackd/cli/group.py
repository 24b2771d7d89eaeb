"""The ``jackd`` click group: every subcommand is a module of this package, added here."""

from __future__ import annotations

import click

from .. import __version__
from .worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jackd")
def jackd() -> None:
    """jackd: run and manage beanstalkd work."""


# One line per subcommand module; stats, tubes, put and top will join worker.
jackd.add_command(worker)
