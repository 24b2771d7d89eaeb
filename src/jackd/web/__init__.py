"""The web console: ``jackd web``, an ASGI app over every server given (the ``web`` extra).

``create_app(["localhost:11300"])`` makes the app (Starlette, pages rendered by Jinja2,
one small vendored script); ``jackd web`` serves it with uvicorn. The overview shows each
server and every tube with live numbers and an hour's chart; a tube's page shows its next
ready, delayed and buried job and the actions (put, kick, delete, pause, move, export,
import); a job's page shows one job by id; search finds jobs by their body. ``/metrics``
serves the Prometheus metrics of ``jackd.metrics``. ``security`` says how it is defended.

Needs starlette, jinja2, uvicorn, prometheus-client and python-multipart:
``pip install 'jackd[web]'``.
"""

from __future__ import annotations

from .app import Console, Server, create_app

__all__ = ["Console", "Server", "create_app"]
