"""A private beanstalkd for tests, demos and benchmarks, and a pytest plugin that starts it.

``BeanstalkdServer`` starts the ``beanstalkd`` binary on a free loopback port (the kernel picks
it: ``-p 0``), or on a unix socket, and stops it with SIGKILL. Nothing here is needed to use
jackd against a real server; it is here so that your tests can run against a real one too::

    with BeanstalkdServer(max_job_size=2_000_000) as server:
        with jackd.connect(server.address) as client:
            client.put(b"job")

With jackd installed, pytest also has its fixtures (``jackd.testing.plugin``): ``beanstalkd``,
``beanstalkd_factory``, ``jackd_client`` and ``jackd_async_client``. Importing this package
does not import pytest.
"""

from .server import BeanstalkdFactory, BeanstalkdServer

__all__ = ["BeanstalkdFactory", "BeanstalkdServer"]
