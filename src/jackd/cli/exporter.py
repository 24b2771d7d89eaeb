"""``jackd exporter``: Prometheus metrics of beanstalkd servers at /metrics, and nothing else.

Read-only by nature: each scrape reads ``stats`` and every ``stats-tube`` of each server
(``jackd.metrics.BeanstalkdCollector``). It needs only prometheus-client (the ``metrics``
extra) and serves with prometheus_client's own HTTP server, on 127.0.0.1 unless ``--host``
says otherwise. SIGTERM and SIGINT stop it, exit 0.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from . import EXIT_ERROR, EXIT_USAGE
from ._common import server_options

#: What the command says, alone, when prometheus-client is missing.
METRICS_HINT = "jackd exporter: it needs the metrics extra: pip install 'jackd[metrics]'"


@click.command(short_help="Prometheus metrics of the servers at /metrics, on 127.0.0.1:9419.")
@server_options
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9419, show_default=True, help="The port."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds a scrape waits for each server before it reports it down.",
)
def exporter(servers: list[str], debug: bool, host: str, port: int, timeout: float) -> None:
    """Serve the Prometheus metrics of every server given: beanstalkd_* with a server label.

    Every stats number is beanstalkd_<name> (counters end in _total), every stats-tube
    number beanstalkd_tube_<name>{tube=...}, with beanstalkd_up and the scrape's own time
    and errors. Nothing is ever changed on the servers.
    """
    try:
        from prometheus_client import CollectorRegistry, start_http_server

        from ..metrics import BeanstalkdCollector
    except ImportError:
        click.echo(METRICS_HINT, err=True)
        raise SystemExit(EXIT_USAGE) from None
    registry = CollectorRegistry()
    collector = BeanstalkdCollector(servers, timeout=timeout)
    registry.register(collector)
    try:
        httpd, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        click.echo(f"jackd exporter: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise SystemExit(EXIT_ERROR) from None
    bound = httpd.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"jackd exporter: metrics of {', '.join(collector.servers)} on "
        f"http://{shown}:{bound}/metrics",
        err=True,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # A timeout keeps the main thread waking up, so a signal is handled at once.
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        collector.close()
