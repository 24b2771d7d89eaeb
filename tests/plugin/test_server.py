"""BeanstalkdServer's life cycle through the plugin's fixtures: start, kill, restart, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import jackd
from jackd.testing import BeanstalkdFactory, BeanstalkdServer

pytestmark = pytest.mark.timeout(30)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def refuses(address: str) -> bool:
    try:
        jackd.connect(address, connect_timeout=2).close()
    except jackd.ConnectionLostError:
        return True
    return False


def test_fresh_server_on_a_free_loopback_port(beanstalkd: BeanstalkdServer) -> None:
    assert beanstalkd.host == "127.0.0.1"
    assert beanstalkd.port not in (0, jackd.DEFAULT_PORT)
    assert beanstalkd.address == f"127.0.0.1:{beanstalkd.port}"
    assert beanstalkd.running
    assert beanstalkd.binlog_dir is None
    with jackd.connect(beanstalkd.address) as client:
        stats = client.stats()
        assert stats.pid == beanstalkd.pid
        assert stats.max_job_size == 65535
        assert stats.binlog_current_index == 0  # no binlog
        assert client.put(b"first") == 1


def test_each_server_of_the_factory_has_its_own_port(
    beanstalkd: BeanstalkdServer, beanstalkd_factory: BeanstalkdFactory
) -> None:
    others = [beanstalkd_factory() for _ in range(3)]
    assert len({server.port for server in [beanstalkd, *others]}) == 4
    for server in others:
        with jackd.connect(server.address) as client:
            assert client.put(b"x") == 1


@pytest.mark.beanstalkd(max_job_size=100)
def test_max_job_size_marker(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as client:
        assert client.stats().max_job_size == 100
        client.put(b"x" * 100)
        with pytest.raises(jackd.JobTooBigError):
            client.put(b"x" * 101)


@pytest.mark.beanstalkd("-f", "0", unix=True)
def test_unix_marker_with_extra_flags(beanstalkd: BeanstalkdServer) -> None:
    assert beanstalkd.socket_path is not None
    assert beanstalkd.address == f"unix://{beanstalkd.socket_path}"
    assert beanstalkd.port == 0
    with jackd.connect(beanstalkd.address) as client:
        assert client.put(b"over a unix socket") == 1


def test_kill_returns_once_the_process_is_gone(beanstalkd: BeanstalkdServer) -> None:
    pid = beanstalkd.pid
    beanstalkd.kill()
    assert gone(pid)  # reaped, not a zombie
    assert not beanstalkd.running
    assert refuses(beanstalkd.address)
    beanstalkd.kill()  # a second kill does nothing


def test_restart_after_kill_keeps_the_port_and_starts_empty(
    beanstalkd: BeanstalkdServer,
) -> None:
    address, first_pid = beanstalkd.address, beanstalkd.pid
    with jackd.connect(beanstalkd.address) as client:
        client.put(b"lost without a binlog")
        beanstalkd.kill()
    assert beanstalkd.restart() is beanstalkd
    assert beanstalkd.address == address
    assert beanstalkd.pid != first_pid
    with jackd.connect(address) as client:
        assert client.stats().current_jobs_ready == 0
    assert beanstalkd.log.count("bind ") == 2  # the output of both runs is kept


def test_restart_while_clients_are_connected(beanstalkd: BeanstalkdServer) -> None:
    # The killed server's side of these connections lingers in the kernel; SO_REUSEADDR lets
    # the new server bind the port at once anyway.
    clients = [jackd.connect(beanstalkd.address) for _ in range(3)]
    for client in clients:
        client.stats()
    started = time.monotonic()
    beanstalkd.restart()  # kills the running server first
    assert time.monotonic() - started < 2
    with pytest.raises(jackd.ConnectionLostError):
        clients[0].stats()
    for client in clients:
        client.close()
    with jackd.connect(beanstalkd.address) as client:
        assert client.put(b"after the restart") == 1


def test_restart_after_a_crash(beanstalkd: BeanstalkdServer) -> None:
    pid = beanstalkd.pid
    os.kill(pid, signal.SIGKILL)  # not through the server object: a crash
    deadline = time.monotonic() + 5
    while beanstalkd.running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    beanstalkd.restart()
    assert beanstalkd.pid != pid
    with jackd.connect(beanstalkd.address) as client:
        assert client.put(b"x") == 1


@pytest.mark.beanstalkd(binlog=True)
def test_binlog_survives_kill_and_restart(beanstalkd: BeanstalkdServer) -> None:
    binlog = beanstalkd.binlog_dir
    assert binlog is not None
    assert os.path.isdir(binlog)
    with jackd.connect(beanstalkd.address) as client:
        kept = client.put(b"kept", ttr=77)
        deleted = client.put(b"deleted")
        client.delete(deleted)
    beanstalkd.kill()
    beanstalkd.restart()
    assert beanstalkd.binlog_dir == binlog
    with jackd.connect(beanstalkd.address) as client:
        assert client.peek(kept).body == b"kept"
        assert client.stats_job(kept).ttr == 77
        with pytest.raises(jackd.NotFoundError):
            client.peek(deleted)


def test_binlog_in_a_directory_of_your_own(
    beanstalkd_factory: BeanstalkdFactory, tmp_path: Path
) -> None:
    directory = tmp_path / "binlog"
    server = beanstalkd_factory(binlog=directory)
    assert server.binlog_dir == str(directory)
    with jackd.connect(server.address) as client:
        client.put(b"on disk")
    server.stop()
    assert any(directory.iterdir())  # stop() removes only the server's own files


@pytest.mark.beanstalkd(unix=True, binlog=True)
def test_restart_keeps_the_unix_socket(beanstalkd: BeanstalkdServer) -> None:
    address = beanstalkd.address
    with jackd.connect(address) as client:
        jid = client.put(b"x")
    beanstalkd.kill()
    assert beanstalkd.socket_path is not None
    assert os.path.exists(beanstalkd.socket_path)  # left behind; beanstalkd replaces it
    beanstalkd.restart()
    assert beanstalkd.address == address
    with jackd.connect(address) as client:
        assert client.peek(jid).body == b"x"


def hold_port(port: int, seconds: float) -> threading.Thread:
    """Bind ``port`` without SO_REUSEADDR, which keeps beanstalkd from binding it, for a while."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    thread = threading.Timer(seconds, holder.close)
    thread.start()
    return thread


def test_restart_retries_while_the_port_is_taken(beanstalkd: BeanstalkdServer) -> None:
    beanstalkd.kill()
    releaser = hold_port(beanstalkd.port, 0.3)
    started = time.monotonic()
    beanstalkd.restart()
    assert time.monotonic() - started >= 0.25
    releaser.join()
    assert "Address already in use" in beanstalkd.log
    with jackd.connect(beanstalkd.address) as client:
        assert client.put(b"x") == 1


def test_restart_gives_up_after_start_timeout(beanstalkd: BeanstalkdServer) -> None:
    beanstalkd.kill()
    beanstalkd.start_timeout = 0.3
    releaser = hold_port(beanstalkd.port, 0.8)
    with pytest.raises(TimeoutError, match="did not start"):
        beanstalkd.restart()
    assert not beanstalkd.running
    releaser.join()


def test_restart_needs_a_started_server() -> None:
    server = BeanstalkdServer()
    with pytest.raises(RuntimeError, match="never started"):
        server.restart()


def test_restart_after_stop_is_refused(beanstalkd: BeanstalkdServer) -> None:
    beanstalkd.stop()
    with pytest.raises(RuntimeError, match="call start"):
        beanstalkd.restart()
    with pytest.raises(RuntimeError, match="not running"):
        _ = beanstalkd.pid


def test_start_twice_is_refused_but_start_after_kill_is_fresh(
    beanstalkd: BeanstalkdServer,
) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        beanstalkd.start()
    assert beanstalkd.log  # non-empty while its directory exists
    beanstalkd.kill()
    beanstalkd.start()
    assert beanstalkd.log.count("bind ") == 1  # a new directory, a new log
    with jackd.connect(beanstalkd.address) as client:
        assert client.put(b"x") == 1


def test_a_missing_binary_says_what_to_install() -> None:
    with pytest.raises(FileNotFoundError, match="apt install beanstalkd"):
        BeanstalkdServer(binary="/nonexistent/beanstalkd").start()


def test_a_server_that_cannot_start_says_why(beanstalkd_factory: BeanstalkdFactory) -> None:
    with pytest.raises(RuntimeError, match="exited at start"):
        beanstalkd_factory("-z", "not-a-number")


def test_drain(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as client:
        jid = client.put(b"before")
        beanstalkd.drain()
        # No waiting: the signal is handled before the server reads the next command.
        assert client.stats().draining
        with pytest.raises(jackd.DrainingError):
            client.put(b"after")
        assert client.reserve(timeout=0).id == jid


def test_pause_and_resume(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address, timeout=0.2) as client:
        client.stats()
        beanstalkd.pause()
        with pytest.raises(TimeoutError):
            client.stats()
    assert beanstalkd.running
    with jackd.connect(beanstalkd.address, timeout=0.2, connect_timeout=2) as frozen:
        # The kernel completes the connection, but nobody answers.
        with pytest.raises(TimeoutError):
            frozen.stats()
        beanstalkd.resume()
    with jackd.connect(beanstalkd.address, timeout=5) as client:
        assert client.put(b"awake") == 1


def test_kill_a_paused_server(beanstalkd: BeanstalkdServer) -> None:
    pid = beanstalkd.pid
    beanstalkd.pause()
    beanstalkd.kill()
    assert gone(pid)
    beanstalkd.restart()
    with jackd.connect(beanstalkd.address, timeout=5) as client:
        assert client.stats().pid == beanstalkd.pid


def test_ipv6(beanstalkd_factory: BeanstalkdFactory) -> None:
    try:
        socket.socket(socket.AF_INET6).close()
        server = beanstalkd_factory(host="::1")
    except (OSError, RuntimeError, TimeoutError) as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    assert server.address == f"[::1]:{server.port}"
    port = server.port
    server.restart()
    assert server.port == port
    with jackd.connect(server.address) as client:
        assert client.put(b"x") == 1


def test_with_block_without_pytest() -> None:
    with BeanstalkdServer(max_job_size=10) as server, jackd.connect(server.address) as client:
        assert client.stats().max_job_size == 10
        pid = server.pid
    assert gone(pid)
    assert server.log == ""  # its files are gone


def test_importing_jackd_does_not_import_pytest() -> None:
    code = (
        "import sys, jackd, jackd.aio, jackd.testing\n"
        "from jackd.testing import BeanstalkdServer\n"
        "assert 'pytest' not in sys.modules, 'pytest was imported'\n"
        "assert 'jackd.testing.plugin' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
