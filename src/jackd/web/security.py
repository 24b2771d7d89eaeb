"""The console's defences: password hashes, signed cookies, CSRF tokens, headers, binding.

Nothing here needs a web framework except ``SecurityMiddleware``, a plain ASGI middleware.

- Passwords are stored as salted scrypt hashes (``hashlib.scrypt``; ``pbkdf2_hmac`` where
  the Python has no scrypt) in an auth file of ``user:hash`` lines, made by ``jackd web
  --hash-password``. Every comparison of secrets uses ``hmac.compare_digest``.
- A browser logs in through a form and gets a session cookie signed with HMAC-SHA256 under
  a key made at start (so a restart ends every session). Scripts and Prometheus may send
  HTTP Basic credentials instead.
- Every visitor, logged in or not, has a session with a random id; the CSRF token of a form
  is an HMAC of that id, so a page of another site can neither read it nor make one. The
  session cookie is ``HttpOnly`` and ``SameSite=Strict``.
- Without users, the console only answers requests whose ``Host`` names a loopback address
  (or one it was told about): a page of another site cannot reach it by pointing a name
  of its own at 127.0.0.1 (DNS rebinding).
- Every response carries a Content-Security-Policy that allows scripts only from the
  console's own static files, and the usual headers against framing and sniffing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "AuthFileError",
    "Session",
    "Signer",
    "check_password",
    "hash_password",
    "is_loopback",
    "load_auth_file",
    "parse_auth_lines",
    "safe_next",
]

#: Scripts, styles, images and fetches from the console itself only: no inline script, no
#: inline event handler, no eval, so a job body that slipped through escaping still could
#: not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)

SESSION_COOKIE = "jackd_session"
FLASH_COOKIE = "jackd_flash"
#: The form field that carries the CSRF token.
CSRF_FIELD = "csrf"
#: How long a session lasts, logged in or not.
SESSION_SECONDS = 12 * 3600

# scrypt with n=2**14, r=8 takes 16 MiB and some 50 ms: cheap for a login, dear for a
# guesser. pbkdf2's count follows OWASP's advice for SHA-256.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_PBKDF2_ITERATIONS = 600_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- passwords -------------------------------------------------------------------------------


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted hash of ``password``: ``scrypt$n$r$p$salt$hash`` (or ``pbkdf2_sha256$...``)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    secret = password.encode("utf-8")
    if hasattr(hashlib, "scrypt"):
        n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
        digest = hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=32)
        return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"
    digest = hashlib.pbkdf2_hmac("sha256", secret, salt, _PBKDF2_ITERATIONS)  # pragma: no cover
    return f"pbkdf2_sha256${_PBKDF2_ITERATIONS}${_b64(salt)}${_b64(digest)}"  # pragma: no cover


def _parse_hash(stored: str) -> tuple[Callable[[bytes], bytes], bytes]:
    """How to hash a password the way ``stored`` was made, and the hash it holds.

    ValueError when ``stored`` is not a hash ``hash_password`` makes.
    """
    scheme, *parts = stored.split("$")
    try:
        if scheme == "scrypt" and len(parts) == 5:
            n, r, p = (int(x) for x in parts[:3])
            salt, want = _unb64(parts[3]), _unb64(parts[4])
            if n < 2 or n & (n - 1) or r < 1 or p < 1 or not want:
                raise ValueError("bad scrypt parameters")
            # scrypt needs 128 * n * r bytes, more than OpenSSL allows by default for big n.
            memory = 256 * n * r + 2**20
            return (
                lambda secret: hashlib.scrypt(
                    secret, salt=salt, n=n, r=r, p=p, dklen=len(want), maxmem=memory
                ),
                want,
            )
        if scheme == "pbkdf2_sha256" and len(parts) == 3:
            iterations = int(parts[0])
            salt, want = _unb64(parts[1]), _unb64(parts[2])
            if iterations < 1 or not want:
                raise ValueError("bad pbkdf2 parameters")
            return (
                lambda secret: hashlib.pbkdf2_hmac("sha256", secret, salt, iterations, len(want)),
                want,
            )
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from None
    raise ValueError(f"unknown password hash scheme {scheme!r} (scrypt or pbkdf2_sha256)")


#: Checked against when the user is unknown, so that a wrong name takes as long as a wrong
#: password and does not tell which names exist.
_DUMMY_HASH = hash_password("", salt=b"jackd-dummy-salt")


def check_password(users: Mapping[str, str], user: str, password: str) -> bool:
    """True if ``user`` is in ``users`` (name to hash) and ``password`` is theirs."""
    stored = users.get(user)
    derive, want = _parse_hash(stored if stored is not None else _DUMMY_HASH)
    return hmac.compare_digest(derive(password.encode("utf-8")), want) and stored is not None


class AuthFileError(ValueError):
    """An auth file that cannot be used: its message names the file and the line."""


def parse_auth_lines(lines: Iterable[str], name: str = "auth file") -> dict[str, str]:
    """Read ``user:hash`` lines (blank lines and ``#`` comments allowed) into a dict."""
    users: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, stored = line.partition(":")
        if not sep or not user or not stored:
            raise AuthFileError(f"{name}, line {number}: expected user:hash")
        try:
            _parse_hash(stored)
        except ValueError as exc:
            raise AuthFileError(
                f"{name}, line {number}: not a hash of jackd web --hash-password ({exc})"
            ) from None
        if user in users:
            raise AuthFileError(f"{name}, line {number}: user {user!r} is there twice")
        users[user] = stored
    if not users:
        raise AuthFileError(f"{name}: no users in it")
    return users


def load_auth_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The users of an auth file; ``AuthFileError`` (also for one that cannot be read)."""
    try:
        with open(path, encoding="utf-8") as stream:
            return parse_auth_lines(stream, os.fspath(path))
    except OSError as exc:
        raise AuthFileError(f"{os.fspath(path)}: {exc.strerror or exc}") from None


# -- signed values ---------------------------------------------------------------------------


class Signer:
    """Signs small JSON values with HMAC-SHA256, so that a cookie's contents can be trusted."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def mac(self, purpose: str, data: bytes) -> bytes:
        """An HMAC of ``data`` for ``purpose`` (a value signed for one use fits no other)."""
        return hmac.new(self._key, purpose.encode() + b"\0" + data, hashlib.sha256).digest()

    def sign(self, purpose: str, value: Any) -> str:
        """``value`` as JSON, with its signature: ``payload.signature`` in URL-safe base64."""
        payload = json.dumps(value, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self.mac(purpose, payload))}"

    def unsign(self, purpose: str, token: str) -> Any:
        """The value ``sign`` signed, or None when ``token`` is not a valid signature."""
        payload_text, _, signature = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self.mac(purpose, payload)):
            return None
        try:
            return json.loads(payload)
        except ValueError:  # pragma: no cover - we signed it, so it is our JSON
            return None


@dataclass(frozen=True)
class Session:
    """Who is asking: a random session id, and the user once logged in (None before)."""

    sid: str
    user: str | None
    issued: float

    @classmethod
    def new(cls, user: str | None = None) -> Session:
        """A fresh session (a new id: logging in never keeps the id from before)."""
        return cls(secrets.token_urlsafe(18), user, time.time())

    def to_cookie(self, signer: Signer) -> str:
        """The signed cookie value."""
        return signer.sign("session", {"sid": self.sid, "user": self.user, "t": self.issued})

    @classmethod
    def from_cookie(cls, signer: Signer, value: str, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None if it is forged, malformed or expired."""
        data = signer.unsign("session", value)
        if not isinstance(data, dict):
            return None
        sid, user, issued = data.get("sid"), data.get("user"), data.get("t")
        if not isinstance(sid, str) or not isinstance(issued, (int, float)):
            return None
        if user is not None and not isinstance(user, str):
            return None
        now = time.time() if now is None else now
        if not 0 <= now - issued <= SESSION_SECONDS:
            return None
        return cls(sid, user, float(issued))

    def csrf_token(self, signer: Signer) -> str:
        """The CSRF token of this session's forms."""
        return _b64(signer.mac("csrf", self.sid.encode()))

    def check_csrf(self, signer: Signer, token: str | None) -> bool:
        """True if ``token`` is this session's CSRF token (compared in constant time)."""
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(signer).encode())


# -- binding and hosts -----------------------------------------------------------------------


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(host: str) -> bool:
    """True if ``host`` (an address or a name) is only reachable from this machine.

    A name counts when everything it resolves to is a loopback address; one that does not
    resolve does not count. ``0.0.0.0`` and ``::`` (every interface) do not.
    """
    host = _bare(host.strip())
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _host_of(header: str) -> str:
    """The host name of a ``Host`` header (port removed, brackets of IPv6 removed)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str, allowed: frozenset[str] | None) -> bool:
    """Whether a request's ``Host`` header is acceptable (always, when ``allowed`` is None).

    Loopback addresses and ``localhost`` always are; other names only when ``allowed``
    holds them.
    """
    if allowed is None:
        return True
    host = _host_of(header)
    if host == "localhost" or host in allowed:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


# -- the middleware --------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


def _cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    jar: dict[str, str] = {}
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, sep, val = part.strip().partition("=")
                if sep:
                    jar.setdefault(name, val)
    return jar


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None) -> bytes:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, for the whole site."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


class SecurityMiddleware:
    """Sessions, authentication, the Host check and the security headers, for every request.

    ``users`` maps names to password hashes; None means no login (the console is then only
    reachable through loopback addresses, as the command enforces). ``allowed_hosts`` is the
    set of extra ``Host`` names accepted (None: any). Paths under ``public`` need no login.
    The session is put in ``scope["state"]["session"]`` and the user in ``...["user"]``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        signer: Signer,
        users: Mapping[str, str] | None,
        allowed_hosts: frozenset[str] | None,
        public: tuple[str, ...] = ("/static/", "/login"),
        login_path: str = "/login",
    ) -> None:
        self.app = app
        self.signer = signer
        self.users = users
        self.allowed_hosts = allowed_hosts
        self.public = public
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with the headers added to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if not host_allowed(_header(headers, b"host") or "", self.allowed_hosts):
            await self._plain(send, 400, "unexpected Host header\n")
            return
        if scope["method"] not in ("GET", "HEAD") and not self._same_origin(headers):
            await self._plain(send, 403, "cross-origin request refused\n")
            return
        jar = _cookies(headers)
        session = Session.from_cookie(self.signer, jar.get(SESSION_COOKIE, ""))
        fresh = session is None
        if session is None:
            session = Session.new()
        user = session.user if self.users is not None and session.user in self.users else None
        basic = _header(headers, b"authorization")
        if self.users is not None and basic is not None:
            user = self._basic(basic)
            if user is None:
                await self._challenge(send)
                return
        state = scope.setdefault("state", {})
        state["session"] = session
        state["user"] = user
        state["flash"] = (
            self.signer.unsign("flash", jar[FLASH_COOKIE]) if FLASH_COOKIE in jar else None
        )
        path: str = scope["path"]
        if self.users is not None and user is None and not path.startswith(self.public):
            if path == "/metrics" or scope["method"] not in ("GET", "HEAD"):
                await self._challenge(send)
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                back = path + (f"?{query}" if query else "")
                await self._redirect(send, f"{self.login_path}?next={quote(back, safe='')}")
            return
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                names = {key.lower() for key, _ in out}
                out += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if not path.startswith("/static/"):
                    out.append((b"cache-control", b"no-store"))
                if fresh:
                    cookie = cookie_header(
                        SESSION_COOKIE,
                        session.to_cookie(self.signer),
                        secure=secure,
                        max_age=SESSION_SECONDS,
                    )
                    out.append((b"set-cookie", cookie))
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _basic(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or self.users is None:
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep or not check_password(self.users, user, password):
            return None
        return user

    def _same_origin(self, headers: list[tuple[bytes, bytes]]) -> bool:
        # Browsers send Origin with every POST; a form posted from another site names that
        # site. Clients that send none (scripts, old browsers) still need the CSRF token.
        origin = _header(headers, b"origin")
        if origin is None:
            return True
        host = _header(headers, b"host") or ""
        return urlsplit(origin).netloc.lower() == host.strip().lower()

    async def _plain(
        self, send: Send, status: int, text: str, extra: list[Any] | None = None
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    *SECURITY_HEADERS,
                    *(extra or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": text.encode()})

    async def _challenge(self, send: Send) -> None:
        await self._plain(
            send,
            401,
            "log in first\n",
            [(b"www-authenticate", b'Basic realm="jackd", charset="UTF-8"')],
        )

    async def _redirect(self, send: Send, location: str) -> None:
        await self._plain(send, 303, "", [(b"location", location.encode("latin-1"))])
