"""The console's defences, each against the app over a real beanstalkd: CSRF, GETs that change
nothing, escaping of job bodies, the Content-Security-Policy, logging in, read-only, Host."""

from __future__ import annotations

import base64
import hmac
import re
from typing import Any

import pytest
from starlette.routing import Route

import jackd
from jackd.testing import BeanstalkdServer
from jackd.web import security
from jackd.web.security import (
    AuthFileError,
    Session,
    Signer,
    check_password,
    hash_password,
    is_loopback,
    parse_auth_lines,
    safe_next,
)

from ._support import MakeWeb, Web, bury, csrf_of, job_states

pytestmark = pytest.mark.timeout(60)

XSS_SCRIPT = b"<script>alert(1)</script>"
XSS_ATTRIBUTE = b'"><img src=x onerror=alert(1)>'


class Guarded:
    """Jobs in every state, and a way to tell whether anything about the server changed."""

    def __init__(self, client: jackd.Client) -> None:
        self.client = client
        client.use("guard")
        self.ready = client.put(b"ready", priority=4)
        self.delayed = client.put(b"delayed", delay=600)
        self.buried = bury(client, "guard", b"buried")
        self.ids = [self.ready, self.delayed, self.buried]
        self.before = self.state()

    def state(self) -> tuple[Any, ...]:
        stats = self.client.stats()
        tube = self.client.stats_tube("guard")
        return (
            job_states(self.client, self.ids),
            sorted(self.client.list_tubes()),
            tube.pause,
            stats.cmd_put,
            stats.cmd_delete,
            stats.cmd_kick,
            stats.cmd_bury,
            stats.cmd_pause_tube,
            stats.total_jobs,
        )

    def unchanged(self) -> bool:
        return self.state() == self.before


def action_requests(web: Web, job_id: int) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """A plausible request for every POST route of the app but logging in and out."""
    fields = {
        "tube": "guard",
        "body": "new",
        "count": "5",
        "all": "yes",
        "state": "buried",
        "confirm": "yes",
        "target": "elsewhere",
        "seconds": "100",
    }
    out = []
    for route in web.app.routes:
        if not isinstance(route, Route) or "POST" not in (route.methods or ()):
            continue
        if route.path in ("/login", "/logout"):
            continue
        path = route.path.replace("{server:int}", "0").replace("{job_id:int}", str(job_id))
        files = {
            "file": (
                "x.jsonl",
                b'{"tube":"t","state":"ready","priority":0,"ttr":1,"delay":0,"body":"x"}\n',
                "text/plain",
            )
        }
        out.append((path, dict(fields), files if path.endswith("/import") else {}))
    return out


def test_every_action_without_the_right_csrf_token_is_403_and_changes_nothing(
    make_web: MakeWeb, producer: jackd.Client
) -> None:
    guarded = Guarded(producer)
    web = make_web()
    other_session = make_web().csrf()  # a real token, of another visitor
    requests = action_requests(web, guarded.buried)
    assert len(requests) == 10  # every action the console has: a new one must be added here
    web.csrf()  # this client has a session of its own now
    for path, fields, files in requests:
        for token in (None, "", "forged", other_session, web.csrf() + "x"):
            data = dict(fields) if token is None else {**fields, "csrf": token}
            response = web.http.post(path, data=data, files=files or None, follow_redirects=False)
            assert response.status_code == 403, (path, token)
            assert "CSRF" in response.text
    assert guarded.unchanged()
    # The same requests with the session's token are done: the refusal was the token's.
    for path, fields, files in requests:
        response = web.post(path, fields, files=files or None)
        assert response.status_code == 303, path
    assert not guarded.unchanged()


def test_no_get_changes_anything(web: Web, producer: jackd.Client) -> None:
    guarded = Guarded(producer)
    paths = [
        "/",
        "/fragments/overview",
        "/s/0/tubes/guard",
        *(f"/s/0/jobs/{i}" for i in guarded.ids),
        "/s/0/export?tube=guard",
        "/search?tube=guard&text=e&state=any",
        "/metrics",
        "/jobs?server=0&id=1",
        "/login",
    ]
    paths += [path for path, _, _ in action_requests(web, guarded.buried)]
    for path in paths:
        response = web.http.get(path, follow_redirects=False)
        assert response.status_code in (200, 303, 405), path
        if "/s/0/" in path and not path.startswith(("/s/0/tubes", "/s/0/jobs/", "/s/0/export")):
            assert response.status_code == 405, path  # an action has no GET
    assert guarded.unchanged()


def test_an_action_posted_from_another_site_is_refused(web: Web, producer: jackd.Client) -> None:
    guarded = Guarded(producer)
    token = web.csrf()
    response = web.http.post(
        f"/s/0/jobs/{guarded.buried}/kick",
        data={"csrf": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert guarded.unchanged()
    same = web.http.post(
        f"/s/0/jobs/{guarded.buried}/kick",
        data={"csrf": token},
        headers={"Origin": "http://localhost"},
        follow_redirects=False,
    )
    assert same.status_code == 303
    assert not guarded.unchanged()


def test_job_bodies_are_always_escaped(web: Web, producer: jackd.Client) -> None:
    producer.use("xss")
    script = producer.put(XSS_SCRIPT)
    attribute = bury(producer, "xss", XSS_ATTRIBUTE)
    pages = [
        web.http.get("/s/0/tubes/xss").text,
        web.http.get(f"/s/0/jobs/{script}").text,
        web.http.get(f"/s/0/jobs/{attribute}").text,
        web.http.get("/search", params={"tube": "xss", "text": "alert"}).text,
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "&#34;&gt;&lt;img" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[0]
    # What a user typed comes back escaped in a message too.
    message_page = web.http.get(
        web.post("/s/0/put", {"tube": "xss", "priority": "<b>1</b>"}).headers["location"]
    ).text
    assert "&lt;b&gt;1&lt;/b&gt;" in message_page
    assert "<b>1</b>" not in message_page


def csp_directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def test_every_response_has_the_content_security_policy(web: Web, producer: jackd.Client) -> None:
    producer.use("csp")
    producer.put(b"x")
    responses = [
        web.http.get("/"),
        web.http.get("/fragments/overview"),
        web.http.get("/s/0/tubes/csp"),
        web.http.get("/s/0/jobs/999999"),  # 404
        web.http.get("/static/console.js"),
        web.http.get("/metrics"),
        web.http.post("/s/0/put", data={"tube": "csp"}),  # 403
        web.post("/s/0/put", {"tube": "csp", "body": "y"}),  # 303
        web.http.get("/", headers={"Host": "evil.example"}),  # 400 from the Host check
    ]
    statuses = {r.status_code for r in responses}
    assert statuses == {200, 404, 403, 303, 400}
    for response in responses:
        policy = response.headers["content-security-policy"]
        directives = csp_directives(policy)
        assert directives["default-src"] == ["'self'"]
        assert directives["script-src"] == ["'self'"]
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"


def test_no_page_has_inline_script_handlers_or_styles(
    make_web: MakeWeb, producer: jackd.Client
) -> None:
    # What the policy forbids, the pages must not need: else they would break under it.
    job_id = bury(producer, "inline", b"x")
    users = {"ann": hash_password("pw")}
    anonymous = make_web(users=users)
    pages = [anonymous.http.get("/login").text]
    web = make_web()
    pages += [
        web.http.get(path).text
        for path in ("/", "/s/0/tubes/inline", f"/s/0/jobs/{job_id}", "/search?tube=inline&text=x")
    ]
    for page in pages:
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
        assert re.findall(r"\son[a-z]+\s*=", page) == []
        assert " style=" not in page
        assert "javascript:" not in page
        assert re.findall(r'<script src="/static/console\.js\?v=[^"]+" defer></script>', page)


# -- logging in ------------------------------------------------------------------------------


@pytest.fixture
def locked(make_web: MakeWeb) -> Web:
    """A console with one user, ann, whose password is 'correct horse'."""
    return make_web(users={"ann": hash_password("correct horse")})


def log_in(web: Web, user: str, password: str, next_path: str = "/") -> Any:
    token = csrf_of(web.http.get("/login").text)
    return web.http.post(
        "/login",
        data={"csrf": token, "user": user, "password": password, "next": next_path},
        follow_redirects=False,
    )


def test_without_a_login_pages_send_to_the_form_and_the_rest_get_401(locked: Web) -> None:
    response = locked.http.get("/s/0/tubes/x?a=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fs%2F0%2Ftubes%2Fx%3Fa%3D1"
    metrics = locked.http.get("/metrics")
    assert metrics.status_code == 401
    assert metrics.headers["www-authenticate"].startswith('Basic realm="jackd"')
    assert locked.http.post("/s/0/put", data={"tube": "x"}).status_code == 401
    assert locked.http.get("/fragments/overview", follow_redirects=False).status_code == 303
    # What anyone may see: the login form and the static files.
    assert locked.http.get("/login").status_code == 200
    assert locked.http.get("/static/console.css").status_code == 200


def test_logging_in_with_the_right_password(locked: Web, producer: jackd.Client) -> None:
    anonymous = locked.http.cookies.get("jackd_session")  # from the visit before logging in
    locked.http.get("/login")
    anonymous = locked.http.cookies.get("jackd_session")
    response = log_in(locked, "ann", "correct horse", "/s/0/tubes/default")
    assert response.status_code == 303
    assert response.headers["location"] == "/s/0/tubes/default"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    # A new session id on logging in: a session planted before it is worth nothing after.
    assert locked.http.cookies.get("jackd_session") != anonymous
    page = locked.http.get("/").text
    assert '<span class="user">ann</span>' in page
    assert locked.act("/s/0/put", {"tube": "auth", "body": "x"}).startswith("Put job")
    assert producer.stats_tube("auth").current_jobs_ready == 1


def test_wrong_password_or_user_is_refused_alike(locked: Web) -> None:
    for user, password in (("ann", "wrong"), ("bob", "correct horse"), ("", "")):
        response = log_in(locked, user, password)
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
    assert locked.http.get("/", follow_redirects=False).status_code == 303


def test_login_needs_its_csrf_token_and_never_redirects_away(locked: Web) -> None:
    response = locked.http.post(
        "/login", data={"user": "ann", "password": "correct horse"}, follow_redirects=False
    )
    assert response.status_code == 403
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        assert log_in(locked, "ann", "correct horse", target).headers["location"] == "/"


def test_http_basic_for_scripts_and_prometheus(locked: Web) -> None:
    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    locked.http.cookies.clear()
    assert locked.http.get("/metrics", headers=basic("ann", "correct horse")).status_code == 200
    assert locked.http.get("/metrics", headers=basic("ann", "nope")).status_code == 401
    assert locked.http.get("/metrics", headers={"Authorization": "Basic !!"}).status_code == 401


def test_a_tampered_or_foreign_session_cookie_is_no_login(locked: Web, make_web: MakeWeb) -> None:
    assert log_in(locked, "ann", "correct horse").status_code == 303
    good = locked.http.cookies["jackd_session"]
    payload, _, mac = good.partition(".")
    # Another user named in the payload, the signature kept: refused.
    forged_payload = (
        base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(payload + "==").replace(b'"ann"', b'"bob"')
        )
        .rstrip(b"=")
        .decode()
    )
    other = make_web(users={"ann": hash_password("correct horse")})  # another secret
    assert log_in(other, "ann", "correct horse").status_code == 303
    foreign = other.http.cookies["jackd_session"]
    for cookie in (forged_payload + "." + mac, good[:-2] + "AA", foreign, "garbage"):
        locked.http.cookies.clear()
        locked.http.cookies.set("jackd_session", cookie, domain="localhost")
        assert locked.http.get("/", follow_redirects=False).status_code == 303, cookie


def test_log_out_ends_the_session(locked: Web) -> None:
    assert log_in(locked, "ann", "correct horse").status_code == 303
    token = csrf_of(locked.http.get("/").text)
    assert locked.http.post("/logout", data={}, follow_redirects=False).status_code == 403
    response = locked.http.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert locked.http.get("/", follow_redirects=False).status_code == 303


def test_passwords_are_salted_scrypt_hashes_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, two = hash_password("secret"), hash_password("secret")
    assert one != two  # salted
    assert one.startswith("scrypt$16384$8$1$")
    assert "secret" not in one
    users = {"ann": one}
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module security uses
    assert check_password(users, "ann", "secret")
    assert not check_password(users, "ann", "Secret")
    assert not check_password(users, "nobody", "secret")
    assert len(compared) == 3  # every check, the unknown user's too, goes through it
    assert check_password({"old": "pbkdf2_sha256$1000$c2FsdA$" + pbkdf2("pw")}, "old", "pw")


def pbkdf2(password: str) -> str:
    import hashlib

    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), b"salt", 1000)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_auth_files_are_checked_line_by_line(tmp_path: Any) -> None:
    line = f"ann:{hash_password('x')}"
    assert parse_auth_lines(["# users", "", line]) == {"ann": line.partition(":")[2]}
    for lines, error in (
        (["ann"], "line 1: expected user:hash"),
        (["ann:plaintext"], "line 1: not a hash of jackd web --hash-password"),
        ([line, line], "line 2: user 'ann' is there twice"),
        (["# nobody"], "no users in it"),
        (["ann:scrypt$3$8$1$c2FsdA$aGFzaA"], "line 1: not a hash"),
    ):
        with pytest.raises(AuthFileError, match=re.escape(error)):
            parse_auth_lines(lines)
    with pytest.raises(AuthFileError, match="No such file"):
        security.load_auth_file(tmp_path / "missing")


def test_signed_values_fit_only_their_purpose_and_key() -> None:
    signer = Signer(b"k" * 32)
    token = signer.sign("flash", {"a": 1})
    assert signer.unsign("flash", token) == {"a": 1}
    assert signer.unsign("session", token) is None
    assert Signer(b"j" * 32).unsign("flash", token) is None
    assert signer.unsign("flash", token.replace(".", ".x")) is None
    session = Session.new("ann")
    assert Session.from_cookie(signer, session.to_cookie(signer)) == session
    assert (
        Session.from_cookie(signer, session.to_cookie(signer), now=session.issued + 13 * 3600)
        is None
    )
    assert session.check_csrf(signer, session.csrf_token(signer))
    assert not Session.new("ann").check_csrf(signer, session.csrf_token(signer))


# -- read-only -------------------------------------------------------------------------------


def test_read_only_hides_and_refuses_every_action(
    make_web: MakeWeb, producer: jackd.Client
) -> None:
    guarded = Guarded(producer)
    web = make_web(read_only=True)
    pages = [
        web.http.get(path).text
        for path in ("/", "/s/0/tubes/guard", f"/s/0/jobs/{guarded.buried}", "/s/0/tubes/none")
    ]
    for page in pages:
        assert 'method="post"' not in page
        assert "read-only" in page
    assert 'name="csrf"' not in pages[1]
    token = Session.new().csrf_token(web.console.signer)  # no page hands one out
    for path, fields, files in action_requests(web, guarded.buried):
        response = web.http.post(
            path, data={**fields, "csrf": token}, files=files or None, follow_redirects=False
        )
        assert response.status_code == 403, path
        assert "read-only" in response.text
    assert guarded.unchanged()
    # Reading stays: export and search change nothing.
    assert web.http.get("/s/0/export?tube=guard").status_code == 200
    assert guarded.unchanged()


# -- who may ask -----------------------------------------------------------------------------


def test_without_users_only_loopback_host_names_are_answered(
    make_web: MakeWeb, beanstalkd: BeanstalkdServer
) -> None:
    web = make_web()
    for host in ("localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "127.1.2.3"):
        assert web.http.get("/", headers={"Host": host}).status_code == 200, host
    # A name of another site pointed at 127.0.0.1 (DNS rebinding) gets nothing.
    for host in ("evil.example", "evil.example:8080", "localhost.evil.example", ""):
        response = web.http.get("/", headers={"Host": host})
        assert response.status_code == 400, host
        assert "jackd" not in response.text
    told = make_web(allowed_hosts=["queue.internal"])
    assert told.http.get("/", headers={"Host": "queue.internal:8080"}).status_code == 200
    # With users, a login guards it instead, whatever name it is reached by.
    locked = make_web(users={"ann": hash_password("x")})
    assert locked.http.get("/login", headers={"Host": "queue.example"}).status_code == 200


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "", "no-such-host.invalid"):
        assert not is_loopback(host), host


def test_safe_next_keeps_only_local_paths() -> None:
    assert safe_next("/s/0/tubes/a?b=1") == "/s/0/tubes/a?b=1"
    for target in (None, "", "//evil", "https://evil/", "evil", "/\\evil", "javascript:x", "/a\nb"):
        assert safe_next(target) == "/", target
