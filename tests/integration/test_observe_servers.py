"""jackd.observe.Observer against real servers: one that goes away and comes back."""

from __future__ import annotations

import jackd
from jackd.observe import Observer, view
from jackd.testing import BeanstalkdServer


def test_observer_marks_a_gone_server_down_and_reconnects_when_it_is_back(
    beanstalkd: BeanstalkdServer,
) -> None:
    with Observer({"main": beanstalkd.address}, timeout=1.0) as observer:
        with jackd.connect(beanstalkd.address) as c:
            c.use("t")
            c.put_many([b"x"] * 4)
        first = observer.snapshot()
        (snap,) = first.servers
        assert snap.up
        assert snap.tubes["t"].current_jobs_ready == 4
        beanstalkd.kill()
        (down,) = observer.snapshot().servers
        assert not down.up
        assert down.error
        beanstalkd.restart()
        back = observer.snapshot()
        assert back.servers[0].up
        # Restarted: its counters began again, so no rate across the restart.
        assert view(first, back).servers[0].rates.put is None
