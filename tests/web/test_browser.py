"""The console in a real headless Chromium: the live refresh, a kick by its button, XSS bodies.

The app runs under uvicorn on a free loopback port, in a thread; selenium drives Debian's
``/usr/bin/chromium`` through ``/usr/bin/chromedriver`` (scripts/setup.sh installs both).
Where they are missing the tests are skipped, saying so loudly. Each run keeps a screenshot
of the overview in its pytest tmp dir; with ``JACKD_SCREENSHOT=docs/console.png`` it writes
the one the README shows.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="the browser tests need selenium (the dev extra)")

import uvicorn
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

import jackd
from jackd.testing import BeanstalkdServer
from jackd.web import create_app

from ._support import bury

pytestmark = pytest.mark.timeout(120)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NO_BROWSER = (
    "NO BROWSER TEST RAN: the web console's browser tests need Debian's chromium and "
    "chromium-driver ({missing} is missing); install them with scripts/setup.sh "
    "(apt-get install chromium chromium-driver)"
)
TITLE = " · jackd console"


@pytest.fixture
def served(beanstalkd: BeanstalkdServer) -> Iterator[str]:
    """The console over ``beanstalkd``, served by uvicorn on a free port; its base URL."""
    app = create_app([beanstalkd.address], sample_interval=0.2, refresh=0.4, window=20)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium (root needs --no-sandbox), closed after the test."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip(NO_BROWSER.format(missing=path))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,820",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: WebDriver, css: str) -> str:
    # In one script, so that a refresh swapping the node in between cannot make it stale.
    got = driver.execute_script(
        "var e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css
    )
    return str(got)


def classes_of(driver: WebDriver, css: str) -> str:
    got = driver.execute_script(
        "var e = document.querySelector(arguments[0]); return e ? e.className : '';", css
    )
    return str(got)


def shown(driver: WebDriver, css: str) -> bool:
    return bool(
        driver.execute_script(
            "var e = document.querySelector(arguments[0]); return !!e && !e.hidden;", css
        )
    )


def no_alert(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property is what raises


def csp_violations(driver: webdriver.Chrome) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if "Content Security Policy" in entry["message"]
    ]


def test_overview_refreshes_in_place_and_highlights_what_changed(
    served: str,
    browser: webdriver.Chrome,
    producer: jackd.Client,
    beanstalkd: BeanstalkdServer,
    tmp_path: Path,
) -> None:
    for tube, count in (("emails", 12), ("images/resize", 4), ("webhooks", 7)):
        producer.use(tube)
        for n in range(count):
            producer.put(b'{"n": %d}' % n, delay=30 if n % 4 == 3 else 0)
    bury(producer, "webhooks", b"failed")
    browser.get(served + "/")
    assert browser.title == "Overview" + TITLE
    assert text_of(browser, '[data-k="0/emails/ready"]') == "9"
    browser.execute_script("window.__sentinel = 'the same page';")
    # Another client puts a job: the number changes with no reload, and is highlighted.
    producer.use("emails")
    producer.put(b"one more")
    wait = WebDriverWait(browser, 15, poll_frequency=0.05)
    wait.until(lambda d: text_of(d, '[data-k="0/emails/ready"]') == "10")
    wait.until(lambda d: "changed" in classes_of(d, '[data-k="0/emails/ready"]'))
    assert browser.execute_script("return window.__sentinel") == "the same page"
    # A tube that appears shows up too.
    producer.use("reports")
    producer.put(b"new tube")
    wait.until(lambda d: text_of(d, '[data-k="0/reports/ready"]') == "1")
    # Filtering as you type hides the other tubes, still without reloading.
    browser.find_element(By.ID, "filter").send_keys("^ima")
    wait.until(lambda d: not shown(d, 'tr[data-tube="emails"]'))
    assert shown(browser, 'tr[data-tube="images/resize"]')
    time.sleep(1)  # refreshes come and go: the filter holds over them
    assert not shown(browser, 'tr[data-tube="emails"]')
    assert browser.execute_script("return window.__sentinel") == "the same page"
    browser.execute_script(
        "var f = document.getElementById('filter'); f.value = '';"
        "f.dispatchEvent(new Event('input'));"
    )
    # Traffic, so that the charts have lines to draw and the rates numbers, then the picture.
    stop = threading.Event()

    def traffic() -> None:
        with jackd.connect(beanstalkd.address) as client, jackd.connect(beanstalkd.address) as w:
            client.use("emails")
            w.watch("emails")
            while not stop.wait(0.1):
                client.put(b"more")
                client.put(b"and more")
                w.delete(w.reserve(timeout=1))

    busy = threading.Thread(target=traffic)
    busy.start()
    try:
        time.sleep(4)
        shot = tmp_path / "console.png"
        assert browser.save_screenshot(str(shot))
    finally:
        stop.set()
        busy.join(10)
    assert shot.stat().st_size > 10_000
    target = os.environ.get("JACKD_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
    assert csp_violations(browser) == []  # the page needs nothing the policy forbids


def test_kick_a_buried_job_with_its_button(
    served: str, browser: webdriver.Chrome, producer: jackd.Client
) -> None:
    job_id = bury(producer, "kickme", b"to be kicked")
    browser.get(served + "/s/0/tubes/kickme")
    assert text_of(browser, "#count-buried") == "1"
    assert text_of(browser, "#count-ready") == "0"
    assert text_of(browser, "#none-ready p") == "none"
    browser.find_element(By.CSS_SELECTOR, f"#job-{job_id} button.kick-job").click()
    wait = WebDriverWait(browser, 15, poll_frequency=0.05)
    wait.until(lambda d: text_of(d, "#count-ready") == "1")
    assert text_of(browser, "#count-buried") == "0"
    assert text_of(browser, "p.flash.ok") == f"Kicked job {job_id}."
    assert browser.find_element(By.ID, f"job-{job_id}").get_attribute("data-state") == "ready"
    assert producer.stats_job(job_id).state == "ready"


def test_xss_bodies_are_shown_as_text_and_never_run(
    served: str, browser: webdriver.Chrome, producer: jackd.Client
) -> None:
    plain_script = b"<script>alert(1)</script>"
    plain_attribute = b'"><img src=x onerror=alert(1)>'
    loud_script = b"<script>window.__xss='script';document.title='pwned';alert(2)</script>"
    loud_attribute = (
        b"\"><img src=x onerror=\"window.__xss='img';document.title='pwned';alert(3)\">"
    )
    producer.use("xss")
    first = producer.put(loud_script)
    producer.put(plain_script)
    delayed = producer.put(loud_attribute, delay=600)
    buried = bury(producer, "xss", plain_attribute)
    pages = [
        ("/s/0/tubes/xss", "xss"),
        (f"/s/0/jobs/{first}", f"Job {first}"),
        (f"/s/0/jobs/{delayed}", f"Job {delayed}"),
        (f"/s/0/jobs/{buried}", f"Job {buried}"),
        ("/search?tube=xss&text=alert&state=any", "Search"),
        ("/", "Overview"),
    ]
    for path, title in pages:
        browser.get(served + path)
        time.sleep(0.3)  # time for anything that would run to run
        no_alert(browser)
        assert browser.title == title + TITLE, path
        assert browser.execute_script("return window.__xss") is None, path
        assert browser.find_elements(By.CSS_SELECTOR, "main img") == [], path
    browser.get(served + "/s/0/tubes/xss")
    shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "pre.body")]
    assert loud_script.decode() in shown
    assert loud_attribute.decode() in shown
    assert plain_attribute.decode() in shown
    browser.get(served + "/search?tube=xss&text=alert&state=any")
    snippets = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "code.snippet")]
    assert plain_script.decode() in snippets
    no_alert(browser)
