"""``jackd top`` in a real terminal: tmux runs it, the test reads the screen and types keys.

Each test has a tmux server of its own (``tmux -L <unique>``), killed at the end. Every wait
polls the pane for what it must show; there are no fixed sleeps.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jackd
from jackd.testing import BeanstalkdServer

pytest.importorskip("rich")
pytest.importorskip("click")

ServerFactory = Callable[..., BeanstalkdServer]


class Tmux:
    """One private tmux server running one command in a 160x50 terminal."""

    def __init__(self, command: str) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed (scripts/setup.sh installs it)")
        self.socket = f"jackd-test-{uuid.uuid4().hex[:12]}"
        self.tmux("new-session", "-d", "-x", "160", "-y", "50", command)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def wait_for(self, done: Callable[[str], bool], what: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if done(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what}; last screen:\n{shown}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.tmux("kill-server")


def row(screen: str, first: str) -> list[str]:
    """The cells of the screen's line that starts with ``first``."""
    for line in screen.splitlines():
        cells = line.split()
        if cells and cells[0] == first:
            return cells
    return []


def tube_order(screen: str, names: set[str]) -> list[str]:
    return [
        line.split()[0]
        for line in screen.splitlines()
        if line.split()[:1] and line.split()[0] in names
    ]


def rate(cells: list[str], column: int) -> float:
    try:
        return float(cells[column])
    except (IndexError, ValueError):
        return 0.0


@pytest.fixture
def traffic(
    beanstalkd_factory: ServerFactory,
) -> Iterator[tuple[BeanstalkdServer, BeanstalkdServer]]:
    """Two servers; on the first, a producer puts into ``busy`` and a consumer deletes."""
    one, two = beanstalkd_factory(), beanstalkd_factory()
    with jackd.connect(one.address) as a, jackd.connect(two.address) as b:
        a.use("zzz")
        a.put_many([b"z"] * 10)
        b.use("calm")
        b.put_many([b"c"] * 3)
    stop = threading.Event()

    def produce() -> None:
        with jackd.connect(one.address) as c:
            c.use("busy")
            c.watch("busy")
            while not stop.wait(0.02):
                c.put_many([b"job"] * 2)
                c.delete(c.reserve(timeout=0))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    yield one, two
    stop.set()
    thread.join(5)


def test_top_shows_rates_and_counts_sorts_filters_follows_servers_and_quits(
    traffic: tuple[BeanstalkdServer, BeanstalkdServer], tmp_path: Path
) -> None:
    one, two = traffic
    exit_file, stty_file = tmp_path / "exit", tmp_path / "stty"
    command = (
        # COLUMNS and LINES from pytest's environment would override the terminal's size.
        f"cd {shlex.quote(os.getcwd())} && env -u COLUMNS -u LINES "
        f"{shlex.quote(sys.executable)} -m jackd top "
        f"-s {one.address} -s {two.address} --interval 0.3; "
        f"echo EXIT=$? > {exit_file}; stty -a > {stty_file}"
    )
    term = Tmux(command)
    try:
        # put/s is the 8th cell of a tube's row, delete/s the 9th (counting the name).
        screen = term.wait_for(
            lambda s: rate(row(s, "busy"), 7) > 10 and rate(row(s, "busy"), 8) > 5,
            "busy putting and deleting",
        )
        assert row(screen, "zzz")[1] == "10"
        assert row(screen, "calm")[1] == "3"
        server_line = row(screen, one.address)
        assert server_line[1:3] == ["up", "1.12"]
        assert float(server_line[6]) > 10
        assert "2/2 servers up" in screen
        assert "q quit" in screen

        term.keys("r")  # ready, biggest first
        screen = term.wait_for(lambda s: "ready ▼" in s, "the ready column sorted")
        order = tube_order(screen, {"zzz", "calm", "default"})
        assert order == ["zzz", "calm", "default"]
        term.keys("n")
        screen = term.wait_for(lambda s: "tube ▲" in s, "sorted by name")
        assert tube_order(screen, {"zzz", "calm", "busy"}) == ["busy", "calm", "zzz"]

        term.keys("/", "c", "a", "l")
        term.wait_for(lambda s: "filter: /cal_" in s, "the filter being typed")
        term.keys("Enter")
        screen = term.wait_for(lambda s: "filter: cal " in s, "the filter applied")
        assert row(screen, "calm")
        assert not row(screen, "zzz")
        assert not row(screen, "busy")
        term.keys("Escape")
        screen = term.wait_for(
            lambda s: bool(row(s, "zzz")) and "filter:" not in s, "the filter cleared"
        )

        two.kill()
        term.wait_for(lambda s: row(s, two.address)[1:2] == ["DOWN"], "the second server down")
        screen = term.screen()
        assert not row(screen, "calm")  # its tubes went with it
        assert rate(row(screen, "busy"), 7) > 0  # and the first goes on
        two.restart()  # without a binlog: back up, with no jobs
        screen = term.wait_for(lambda s: "2/2 servers up" in s, "the second server back up")
        assert row(screen, two.address)[1] == "up"
        with jackd.connect(two.address) as b:
            b.use("calm")
            b.put(b"again")
        term.wait_for(lambda s: row(s, "calm")[1:2] == ["1"], "its new job")

        term.keys("q")
        deadline = time.monotonic() + 10
        while not stty_file.exists() or not stty_file.read_text():
            assert time.monotonic() < deadline, f"jackd top did not quit:\n{term.screen()}"
            time.sleep(0.05)
        assert exit_file.read_text().strip() == "EXIT=0"
        modes = stty_file.read_text()
        # The terminal is back in line mode with echo: cbreak was undone.
        assert re.search(r"(?<!-)\bicanon\b", modes)
        assert re.search(r"(?<!-)\becho\b", modes)
    finally:
        term.kill()


def test_top_without_a_terminal_says_so(beanstalkd: BeanstalkdServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jackd", "top", "-s", beanstalkd.address],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "jackd: jackd top needs a terminal (stdin and stdout)"


def test_run_top_loop_refreshes_and_quits_on_q(beanstalkd: BeanstalkdServer) -> None:
    """The loop itself, in-process: keys from a pipe, screens kept as text."""
    from rich.console import Console

    from jackd.cli.top import run_top
    from jackd.observe import Observer

    screens: list[str] = []

    def show(screen: object) -> None:
        out = Console(width=160, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        out.print(screen)
        out.file.close()
        screens.append(out.export_text())

    read_fd, write_fd = os.pipe()
    with jackd.connect(beanstalkd.address) as c, Observer([beanstalkd.address]) as observer:
        c.use("loop")
        stop = threading.Event()

        def feed() -> None:
            # Wait for a screen with a rate on it, then sort, then quit.
            while not any(row(s, "loop")[7:8] not in ([], ["-"]) for s in screens):
                c.put(b"x")
                if stop.wait(0.02):
                    return
            os.write(write_fd, b"p")
            while not any("put/s ▼" in s for s in screens):
                if stop.wait(0.02):
                    return
            os.write(write_fd, b"q")

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            run_top(observer, show, interval=0.1, key_fd=read_fd)
        finally:
            stop.set()
            feeder.join(5)
            os.close(read_fd)
            os.close(write_fd)
    assert row(screens[0], "loop")[7] == "-"  # the first screen has nothing to compare with
    assert any(float(row(s, "loop")[7]) > 0 for s in screens[1:] if row(s, "loop")[7] != "-")
    assert "put/s ▼" in screens[-1]
