"""A worker that exports Prometheus metrics: jackd.metrics.instrument (the metrics extra).

``main`` runs a ``jackd.Worker`` over a few jobs in burst mode while prometheus_client serves
its metrics, then scrapes them once and prints the job counters. A real worker would serve
on a fixed port (9100, say) and run until stopped; ``jackd worker --metrics-port`` does this.
"""

from __future__ import annotations

import os
import urllib.request
from wsgiref.simple_server import WSGIServer

import prometheus_client

import jackd
from jackd.metrics import instrument

TUBE = "jackd-example-metered"


def serve_metrics(worker: jackd.Worker) -> WSGIServer:
    # A registry of its own, so that main() can run twice in one process; without
    # registry=, instrument() uses prometheus_client's default one.
    registry = prometheus_client.CollectorRegistry()
    instrument(worker, registry=registry)
    # Any free port on 127.0.0.1 here; a real worker takes a fixed one, such as 9100.
    server, _ = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
    return server


def main(address: str | None = None) -> None:
    address = address or os.environ.get("BEANSTALKD_URL", "localhost:11300")
    worker = jackd.Worker(address, concurrency=2)

    @worker.handler(TUBE)
    def handle(job: jackd.Job) -> None:
        if job.body == b"not now":
            raise jackd.Bury("not now")

    server = serve_metrics(worker)
    port = server.server_address[1]

    with jackd.connect(address) as client:
        client.use(TUBE)
        for body in (b"one", b"two", b"not now"):
            client.put(body)
        worker.run(burst=True)

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
            scraped = response.read().decode()
        for line in scraped.splitlines():
            if line.startswith("jackd_worker_jobs_total") and not line.endswith(" 0.0"):
                print(line)
        client.use(TUBE)
        client.delete(client.peek_buried())  # leave the server as it was
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
