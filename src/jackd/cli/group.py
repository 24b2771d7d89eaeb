"""The ``jackd`` click group: every subcommand is a module of this package, added here."""

from __future__ import annotations

import click

from .. import __version__
from .bury import bury
from .clear import clear
from .delete import delete
from .export import export
from .exporter import exporter
from .import_ import import_
from .kick import kick, kick_job
from .move import move
from .pause import pause, resume
from .peek import peek
from .put import put
from .stats import stats
from .top import top
from .tubes import tubes
from .web import web
from .worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jackd")
def jackd() -> None:
    """jackd: run and manage beanstalkd work."""


# One line per subcommand module.
jackd.add_command(worker)
jackd.add_command(stats)
jackd.add_command(tubes)
jackd.add_command(peek)
jackd.add_command(put)
jackd.add_command(kick)
jackd.add_command(kick_job)
jackd.add_command(delete)
jackd.add_command(bury)
jackd.add_command(pause)
jackd.add_command(resume)
jackd.add_command(clear)
jackd.add_command(move)
jackd.add_command(export)
jackd.add_command(import_)
jackd.add_command(top)
jackd.add_command(web)
jackd.add_command(exporter)
