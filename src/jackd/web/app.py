"""The console's ASGI app: its pages, its actions, and ``/metrics``.

Pages are rendered on the server by Jinja2 with autoescaping on, so a job body is only
ever text. The one script (``static/console.js``) refreshes the overview's live part by
fetching the same HTML again and marks the numbers that changed; without it every page
still works.

Every change is a POST through ``_action``: refused with 403 in a read-only console or
without the session's CSRF token, before the form is even used. Each request opens its own
connection to the server it is about and closes it after; the overview's numbers and
charts come from the ``History`` sampling in the background.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import jinja2
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from .._address import parse_address
from .._commands import DEFAULT_PRIORITY, DEFAULT_TTR, tube_name
from .._errors import ConnectionLostError, JackdError, NotFoundError
from .._stats import JobStats, TubeStats
from ..cli._ops import (
    STATES,
    JobRecord,
    Scan,
    bury_job,
    clear_jobs,
    describe_body,
    hex_dump,
    import_jobs,
    move_jobs,
)
from ..client import Client
from ..metrics import BeanstalkdCollector
from ..observe import Rates, ServerRow, filter_tubes, tube_rates, view
from .history import Chart, History, chart
from .search import SearchResult, search
from .security import (
    CSRF_FIELD,
    FLASH_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SecurityMiddleware,
    Session,
    Signer,
    check_password,
    cookie_header,
    safe_next,
)

__all__ = ["Console", "Server", "create_app"]

#: kick's bound is a u32: this kicks every job a kick can.
KICK_ALL = 2**32 - 1
#: The most of a body a page shows; the rest is left out, and the page says so.
BODY_LIMIT = 64 * 1024
#: Seconds a failed login waits before it answers, to slow down guessing.
LOGIN_FAILURE_DELAY = 0.5


@dataclass(frozen=True)
class Server:
    """One of the console's servers: its place in the URLs, its address, its display name."""

    index: int
    url: str
    name: str


class Console:
    """What the app's requests share: the servers, the settings, the templates, the history."""

    def __init__(
        self,
        servers: Sequence[str],
        *,
        users: Mapping[str, str] | None = None,
        read_only: bool = False,
        signer: Signer | None = None,
        sample_interval: float = 2.0,
        window: float = 3600.0,
        refresh: float = 2.0,
        search_time_limit: float = 3.0,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
    ) -> None:
        if not servers:
            raise ValueError("the console needs at least one server")
        self.servers: list[Server] = []
        for index, url in enumerate(servers):
            name = str(parse_address(url))
            if any(s.name == name for s in self.servers):
                raise ValueError(f"server {name} is given twice")
            self.servers.append(Server(index, url, name))
        self.by_name = {server.name: server for server in self.servers}
        self.users = dict(users) if users is not None else None
        self.read_only = read_only
        self.signer = signer or Signer()
        self.refresh = refresh
        self.search_time_limit = search_time_limit
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.history = History(
            {s.name: s.url for s in self.servers},
            interval=sample_interval,
            window=window,
            timeout=min(timeout, 2.0),
        )
        self.collector = BeanstalkdCollector([s.url for s in self.servers])
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        self.env = _environment()

    def server(self, index: int) -> Server:
        """The server at ``index`` in the URLs; 404 when there is none."""
        if not 0 <= index < len(self.servers):
            raise HTTPException(404, f"no server number {index}")
        return self.servers[index]

    def client(self, server: Server) -> Client:
        """A new connection to ``server``, for one request."""
        return Client(server.url, timeout=self.timeout, connect_timeout=self.connect_timeout)


# -- templates -------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 0:
        return f"-{_duration(-seconds)}"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def tube_url(server: Server | int, tube: str) -> str:
    """The tube page's path (a tube name may hold ``/``, ``(``, ``$`` ...: all quoted)."""
    index = server if isinstance(server, int) else server.index
    return f"/s/{index}/tubes/{quote(tube, safe='')}"


def job_url(server: Server | int, job_id: int) -> str:
    """The job page's path."""
    index = server if isinstance(server, int) else server.index
    return f"/s/{index}/jobs/{job_id}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jackd.web", "templates"),
        # Every value is escaped, whatever the template's name: job bodies are untrusted.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = _duration
    env.filters["rate"] = _rate
    env.globals.update(
        tube_url=tube_url,
        job_url=job_url,
        states=STATES,
        version=__version__,
        default_priority=DEFAULT_PRIORITY,
        default_ttr=DEFAULT_TTR,
    )
    return env


def _render(
    request: Request, console: Console, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    session: Session = request.state.session
    flash = request.state.flash
    page = console.env.get_template(template).render(
        console=console,
        servers=console.servers,
        read_only=console.read_only,
        user=request.state.user,
        login=console.users is not None,
        csrf=session.csrf_token(console.signer),
        csrf_field=CSRF_FIELD,
        flash=flash if isinstance(flash, dict) else None,
        path=request.url.path,
        static=lambda name: f"/static/{name}?v={__version__}",
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    if flash is not None:
        # Shown once: the next page has no message.
        response.headers.append(
            "set-cookie", cookie_header(FLASH_COOKIE, "", secure=False, max_age=0).decode()
        )
    return response


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TubeLine:
    """One tube on one server in the overview: every stats-tube number, its rates, its chart."""

    server: Server
    stats: TubeStats
    rates: Rates
    chart: Chart


@dataclass(frozen=True)
class JobView:
    """A job to show: its stats and its body as a person reads it."""

    stats: JobStats
    kind: str
    text: str
    size: int
    shown: int


#: Control characters other than tab, newline and carriage return: text holding them is
#: shown as hex, since a page would hide or mangle them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _job_view(stats: JobStats, body: bytes) -> JobView:
    shown = body[:BODY_LIMIT]
    kind, text = describe_body(shown)
    if kind != "binary" and _CONTROL.search(text):
        kind, text = "binary", hex_dump(shown)
    return JobView(stats, kind, text, len(body), len(shown))


def _overview(console: Console, pattern: str) -> tuple[list[ServerRow], list[TubeLine]]:
    before, latest = console.history.current()
    rows = view(before, latest)
    wanted = {row.name for row in filter_tubes(rows.tubes, pattern)}
    now = console.history.now()
    lines = []
    for snap in latest.servers:
        earlier = before.server(snap.server) if before is not None else None
        server = console.by_name[snap.server]
        for name, stats in sorted(snap.tubes.items()):
            if name not in wanted:
                continue
            samples = console.history.series(snap.server, name)
            lines.append(
                TubeLine(
                    server,
                    stats,
                    tube_rates(earlier, snap, name),
                    chart(samples, now, console.history.window),
                )
            )
    return list(rows.servers), lines


def _front_jobs(client: Client, tube: str) -> dict[str, JobView | None]:
    client.use(tube)
    peeks = {
        "ready": client.peek_ready,
        "delayed": client.peek_delayed,
        "buried": client.peek_buried,
    }
    fronts: dict[str, JobView | None] = {}
    for state, peek in peeks.items():
        try:
            job = peek()
            fronts[state] = _job_view(client.stats_job(job.id), job.body)
        except NotFoundError:
            fronts[state] = None  # none in that state, or it went between peek and stats
    return fronts


async def _with_server(console: Console, server: Server, work: Callable[[Client], Any]) -> Any:
    """Run ``work`` on a fresh connection to ``server`` in a thread; 502 if it is unreachable."""

    def run() -> Any:
        with console.client(server) as client:
            return work(client)

    try:
        return await run_in_threadpool(run)
    except (ConnectionLostError, OSError, TimeoutError) as exc:
        raise HTTPException(502, f"cannot reach {server.name}: {exc}") from None


# -- pages -----------------------------------------------------------------------------------


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def overview(request: Request) -> Response:
    """Every server, and every tube of every server with its numbers and chart."""
    console = _console(request)
    pattern = request.query_params.get("filter", "")
    servers, lines = await run_in_threadpool(_overview, console, pattern)
    template = "_live.html" if request.url.path.startswith("/fragments/") else "overview.html"
    fragment_url = "/fragments/overview" + (f"?{urlencode({'filter': pattern})}" if pattern else "")
    return _render(
        request,
        console,
        template,
        server_rows=servers,
        lines=lines,
        pattern=pattern,
        fragment_url=fragment_url,
        refresh_ms=int(console.refresh * 1000),
        window=console.history.window,
    )


async def tube_page(request: Request) -> Response:
    """One tube on one server: its numbers, its next job of each state, and the actions."""
    console = _console(request)
    server = console.server(request.path_params["server"])
    tube = _tube(request.path_params["tube"])

    def read(client: Client) -> tuple[TubeStats | None, dict[str, JobView | None]]:
        try:
            stats = client.stats_tube(tube)
        except NotFoundError:
            return None, {}
        return stats, _front_jobs(client, tube)

    stats, fronts = await _with_server(console, server, read)
    return _render(
        request,
        console,
        "tube.html",
        status=200 if stats is not None else 404,
        server=server,
        tube=tube,
        stats=stats,
        fronts=fronts,
    )


async def job_page(request: Request) -> Response:
    """One job by id on one server: its stats, body and actions."""
    console = _console(request)
    server = console.server(request.path_params["server"])
    job_id: int = request.path_params["job_id"]

    def read(client: Client) -> JobView | None:
        try:
            stats = client.stats_job(job_id)
            return _job_view(stats, client.peek(job_id).body)
        except NotFoundError:
            return None

    job = await _with_server(console, server, read)
    return _render(
        request,
        console,
        "job.html",
        status=200 if job is not None else 404,
        server=server,
        job_id=job_id,
        job=job,
    )


async def find_job(request: Request) -> Response:
    """The job lookup form's target: on to the job's page."""
    console = _console(request)
    server = console.server(_int(request.query_params.get("server", "0"), "server", 0))
    job_id = _int(request.query_params.get("id", ""), "job id", 1)
    return RedirectResponse(job_url(server, job_id), status_code=303)


async def search_page(request: Request) -> Response:
    """Jobs whose body contains a text, in a tube and state, by a bounded scan."""
    console = _console(request)
    params = request.query_params
    text = params.get("text", "")
    tube = params.get("tube", "")
    state = params.get("state", "any")
    if state not in (*STATES, "any"):
        raise HTTPException(400, f"state must be one of {', '.join(STATES)} or any")
    server = console.server(_int(params.get("server", "0"), "server", 0))
    start = _int(params.get("start", "1") or "1", "start", 1)
    ignore_case = params.get("ignore_case") == "1"
    result: SearchResult | None = None
    if text and tube:
        tube = _tube(tube)
        states = STATES if state == "any" else (state,)
        result = await _with_server(
            console,
            server,
            lambda client: search(
                client,
                tube,
                text,
                states,
                start=start,
                time_limit=console.search_time_limit,
                ignore_case=ignore_case,
            ),
        )
    _, latest = await run_in_threadpool(console.history.current)
    known = sorted({name for snap in latest.servers for name in snap.tubes})
    more = None
    if result is not None and result.stopped != "end":
        more = "/search?" + urlencode(
            {
                "server": server.index,
                "tube": tube,
                "state": state,
                "text": text,
                "start": result.last_id + 1,
                **({"ignore_case": "1"} if ignore_case else {}),
            }
        )
    return _render(
        request,
        console,
        "search.html",
        server=server,
        tube=tube,
        state=state,
        text=text,
        ignore_case=ignore_case,
        result=result,
        more=more,
        known_tubes=known,
        time_limit=console.search_time_limit,
    )


async def export(request: Request) -> Response:
    """The tube's jobs in the chosen states as JSON lines, as ``jackd export`` writes them.

    A read: it walks the ids with ``stats-job`` and ``peek`` and changes nothing.
    """
    console = _console(request)
    server = console.server(request.path_params["server"])
    tube = _tube(request.query_params.get("tube", ""))
    states = _states(request.query_params.getlist("state"))
    try:
        client = await run_in_threadpool(console.client, server)
    except (ConnectionLostError, OSError, TimeoutError) as exc:
        raise HTTPException(502, f"cannot reach {server.name}: {exc}") from None

    def lines() -> Iterator[str]:
        try:
            scan = Scan(client, frozenset({tube}), states, server=server.name)
            for record in scan:
                yield json.dumps(record.to_json(), ensure_ascii=False) + "\n"
        finally:
            client.close()

    filename = re.sub(r"[^A-Za-z0-9._-]", "_", tube) + ".jsonl"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


async def metrics(request: Request) -> Response:
    """Prometheus metrics of every server, read now."""
    console = _console(request)
    body = await run_in_threadpool(generate_latest, console.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# -- logging in ------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    """The login form, and its POST: a signed session cookie for a right password."""
    console = _console(request)
    next_path = safe_next(request.query_params.get("next"))
    if console.users is None:
        return RedirectResponse("/", status_code=303)
    if request.method == "GET":
        return _render(request, console, "login.html", next_path=next_path, error=None)
    async with request.form() as form:
        session: Session = request.state.session
        if not session.check_csrf(console.signer, _text(form, CSRF_FIELD)):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        user, password = _text(form, "user"), _text(form, "password")
        next_path = safe_next(_text(form, "next"))
    users = console.users
    if not await run_in_threadpool(check_password, users, user, password):
        await anyio.sleep(LOGIN_FAILURE_DELAY)
        return _render(
            request,
            console,
            "login.html",
            status=401,
            next_path=next_path,
            error="Wrong user name or password.",
        )
    response = RedirectResponse(next_path, status_code=303)
    _set_session(request, response, console, Session.new(user))
    return response


def _set_session(request: Request, response: Response, console: Console, session: Session) -> None:
    response.headers.append(
        "set-cookie",
        cookie_header(
            SESSION_COOKIE,
            session.to_cookie(console.signer),
            secure=request.url.scheme == "https",
            max_age=SESSION_SECONDS,
        ).decode("latin-1"),
    )


async def logout(request: Request) -> Response:
    """End the session (POST with the CSRF token)."""
    console = _console(request)
    async with request.form() as form:
        session: Session = request.state.session
        if not session.check_csrf(console.signer, _text(form, CSRF_FIELD)):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    response = RedirectResponse("/login" if console.users is not None else "/", status_code=303)
    _set_session(request, response, console, Session.new())
    return response


# -- actions ---------------------------------------------------------------------------------


class ActionError(Exception):
    """An action that could not be done: its message is shown on the page it returns to."""


ActionFunc = Callable[[Client, FormData, Mapping[str, Any]], str]


def _action(func: ActionFunc) -> Callable[[Request], Awaitable[Response]]:
    """Make an action endpoint: POST only, refused (403) when read-only or without the token.

    The refusals come before the action reads anything else of the form, so a refused
    request changes nothing. ``func`` runs in a thread with a fresh connection to the
    server of the URL and returns the message to show; the browser then goes back to the
    form's ``back`` page (a path on this site), or the tube's page.
    """

    async def endpoint(request: Request) -> Response:
        console = _console(request)
        if console.read_only:
            raise HTTPException(403, "this console is read-only: actions are turned off")
        server = console.server(request.path_params["server"])
        async with request.form(max_files=1, max_fields=50) as form:
            session: Session = request.state.session
            if not session.check_csrf(console.signer, _text(form, CSRF_FIELD)):
                raise HTTPException(403, "missing or wrong CSRF token: reload the page")
            tube = _text(form, "tube")
            back = safe_next(_text(form, "back"), tube_url(server, tube) if tube else "/")
            try:
                message = await _with_server(
                    console, server, lambda client: func(client, form, request.path_params)
                )
                flash = {"ok": True, "text": message}
            except HTTPException as exc:
                if exc.status_code != 502:
                    raise
                flash = {"ok": False, "text": exc.detail}
            except (ActionError, JackdError, ValueError, TypeError) as exc:
                flash = {"ok": False, "text": str(exc) or type(exc).__name__}
        response = RedirectResponse(back, status_code=303)
        response.headers.append(
            "set-cookie",
            cookie_header(
                FLASH_COOKIE, console.signer.sign("flash", flash), secure=False, max_age=60
            ).decode("latin-1"),
        )
        return response

    endpoint.__doc__ = func.__doc__
    endpoint.__name__ = func.__name__
    return endpoint


def _text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def _int(text: str, what: str, low: int = 0, high: int = 2**32 - 1) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise HTTPException(400, f"{what} must be a whole number, not {text[:40]!r}") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{what} must be from {low} to {high}")
    return value


def _number(form: FormData, name: str, default: int, what: str, low: int = 0) -> int:
    text = _text(form, name).strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ActionError(f"{what} must be a whole number, not {text[:40]!r}") from None
    if not low <= value <= 2**32 - 1:
        raise ActionError(f"{what} must be from {low} to {2**32 - 1}")
    return value


def _tube(name: str) -> str:
    try:
        tube_name(name)
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from None
    return name


def _form_tube(form: FormData, field: str = "tube") -> str:
    name = _text(form, field)
    try:
        tube_name(name)
    except ValueError as exc:
        raise ActionError(str(exc)) from None
    return name


def _states(chosen: Sequence[str]) -> tuple[str, ...]:
    states = tuple(s for s in STATES if s in chosen) or STATES
    wrong = [s for s in chosen if s not in STATES]
    if wrong:
        raise HTTPException(400, f"states are {', '.join(STATES)}, not {', '.join(wrong)}")
    return states


@_action
def put_job(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Put a job into the tube: body, priority, delay and TTR from the form."""
    tube = _form_tube(form)
    # A textarea sends CRLF line breaks; the body is what was typed, with plain newlines.
    body = _text(form, "body").replace("\r\n", "\n")
    priority = _number(form, "priority", DEFAULT_PRIORITY, "priority")
    delay = _number(form, "delay", 0, "delay")
    ttr = _number(form, "ttr", DEFAULT_TTR, "TTR", low=1)
    client.use(tube)
    job_id = client.put(body.encode("utf-8"), priority, delay, ttr)
    return f"Put job {job_id} into {tube}."


@_action
def kick(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Kick N jobs of the tube (or all): buried ones, or delayed ones when none is buried."""
    tube = _form_tube(form)
    bound = KICK_ALL if _text(form, "all") else _number(form, "count", 1, "count", low=1)
    client.use(tube)
    kicked = client.kick(bound)
    return f"Kicked {kicked} job{'s' if kicked != 1 else ''} in {tube}."


@_action
def clear(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Delete every job of the tube in one state (the form must confirm it)."""
    tube = _form_tube(form)
    state = _text(form, "state")
    if state not in STATES:
        raise ActionError(f"state must be one of {', '.join(STATES)}")
    if _text(form, "confirm") != "yes":
        raise ActionError(f"Nothing deleted: tick the box to confirm deleting every {state} job.")
    deleted = clear_jobs(client, [tube], [state])[(tube, state)]
    return f"Deleted {deleted} {state} job{'s' if deleted != 1 else ''} from {tube}."


@_action
def pause(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Pause the tube for some seconds: no job is handed out of it meanwhile."""
    tube = _form_tube(form)
    seconds = _number(form, "seconds", 60, "pause", low=1)
    client.pause_tube(tube, seconds)
    return f"Paused {tube} for {_duration(seconds)}."


@_action
def resume(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """End the tube's pause."""
    tube = _form_tube(form)
    client.pause_tube(tube, 0)
    return f"Resumed {tube}."


@_action
def move(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Move jobs (chosen states, up to a limit) to another tube, keeping pri, TTR and delay."""
    tube = _form_tube(form)
    target = _form_tube(form, "target")
    chosen = form.getlist("state")
    states = tuple(s for s in STATES if s in chosen) or STATES
    limit_text = _text(form, "limit").strip()
    limit = _number(form, "limit", 0, "limit", low=1) if limit_text else None
    try:
        result = move_jobs(client, tube, target, states, limit=limit)
    except RuntimeError as exc:
        raise ActionError(str(exc)) from None
    detail = ", ".join(f"{result.moved[s]} {s}" for s in states)
    message = f"Moved {result.total} jobs from {tube} to {target} ({detail})."
    if result.reserved:
        message += f" {result.reserved} reserved by workers stay in {tube}."
    if result.duplicates:
        message += f" {result.duplicates} originals went while moving: those are now twice."
    return message


@_action
def import_file(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Put back the jobs of an uploaded export file, each in its state, into this tube."""
    tube = _form_tube(form)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ActionError("choose a file exported by jackd export or this console")
    records = _read_records(upload)
    own_tubes = _text(form, "own_tubes") == "yes"
    counts = import_jobs(client, records, tube=None if own_tubes else tube)
    detail = ", ".join(f"{counts[s]} {s}" for s in STATES)
    where = "their own tubes" if own_tubes else tube
    return f"Imported {sum(counts.values())} jobs into {where} ({detail})."


def _read_records(upload: UploadFile) -> list[JobRecord]:
    # The whole file is checked before anything is put, as jackd import does.
    records = []
    upload.file.seek(0)
    for number, raw in enumerate(upload.file, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ActionError(f"line {number} of {upload.filename} is not UTF-8") from None
        if not line.strip():
            continue
        try:
            records.append(JobRecord.from_json(json.loads(line)))
        except ValueError as exc:
            raise ActionError(
                f"nothing imported: line {number} of {upload.filename}: {exc}"
            ) from None
    return records


@_action
def kick_job(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Kick one buried or delayed job to ready."""
    job_id: int = params["job_id"]
    try:
        client.kick_job(job_id)
    except NotFoundError:
        raise ActionError(f"job {job_id} is not there, or not buried or delayed") from None
    return f"Kicked job {job_id}."


@_action
def delete_job(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Delete one job (ready, delayed or buried; a reserved one belongs to its worker)."""
    job_id: int = params["job_id"]
    try:
        client.delete(job_id)
    except NotFoundError:
        raise ActionError(f"job {job_id} is not there, or reserved by a worker") from None
    return f"Deleted job {job_id}."


@_action
def bury_one(client: Client, form: FormData, params: Mapping[str, Any]) -> str:
    """Bury one ready or delayed job, keeping its priority."""
    job_id: int = params["job_id"]
    try:
        was = bury_job(client, job_id)
    except NotFoundError:
        raise ActionError(f"job {job_id} is not there") from None
    if was == "reserved":
        raise ActionError(f"job {job_id} is reserved by a worker: left alone")
    if was == "buried":
        return f"Job {job_id} was buried already."
    return f"Buried job {job_id}."


# -- errors ----------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    console = _console(request)
    return _render(
        request,
        console,
        "error.html",
        status=exc.status_code,
        status_code=exc.status_code,
        message=exc.detail,
    )


# -- the app ---------------------------------------------------------------------------------

#: Every action: its path and its function. Each is a POST; none has a GET.
ACTIONS: tuple[tuple[str, Callable[[Request], Awaitable[Response]]], ...] = (
    ("/s/{server:int}/put", put_job),
    ("/s/{server:int}/kick", kick),
    ("/s/{server:int}/clear", clear),
    ("/s/{server:int}/pause", pause),
    ("/s/{server:int}/resume", resume),
    ("/s/{server:int}/move", move),
    ("/s/{server:int}/import", import_file),
    ("/s/{server:int}/jobs/{job_id:int}/kick", kick_job),
    ("/s/{server:int}/jobs/{job_id:int}/delete", delete_job),
    ("/s/{server:int}/jobs/{job_id:int}/bury", bury_one),
)


def create_app(
    servers: Sequence[str],
    *,
    users: Mapping[str, str] | None = None,
    read_only: bool = False,
    allowed_hosts: Sequence[str] | None = (),
    sample_interval: float = 2.0,
    window: float = 3600.0,
    refresh: float = 2.0,
    search_time_limit: float = 3.0,
    secret: bytes | None = None,
) -> Starlette:
    """The console as an ASGI app, for uvicorn or any ASGI server.

    ``servers`` are beanstalkd addresses as ``jackd.connect`` takes them. ``users`` maps
    user names to password hashes (``security.hash_password``); with none, nobody logs in,
    so serve it on a loopback address only (``jackd web`` refuses anything else). Without
    users, requests must name a loopback address or one of ``allowed_hosts`` in their Host
    header (None: any Host, for a console behind a proxy that checks it). ``read_only``
    hides and refuses every action. The background sampler takes a snapshot every
    ``sample_interval`` seconds and keeps ``window`` seconds for the charts; the overview
    refreshes every ``refresh`` seconds. ``secret`` signs the cookies (default: random, so
    sessions end when the console restarts).
    """
    console = Console(
        servers,
        users=users,
        read_only=read_only,
        signer=Signer(secret),
        sample_interval=sample_interval,
        window=window,
        refresh=refresh,
        search_time_limit=search_time_limit,
    )
    hosts = None if users is not None or allowed_hosts is None else frozenset(allowed_hosts)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.history.start()
        try:
            yield
        finally:
            await run_in_threadpool(console.history.stop)
            console.collector.close()

    routes: list[BaseRoute] = [
        Route("/", overview),
        Route("/fragments/overview", overview),
        Route("/s/{server:int}/tubes/{tube:path}", tube_page),
        Route("/s/{server:int}/jobs/{job_id:int}", job_page),
        Route("/s/{server:int}/export", export),
        Route("/jobs", find_job),
        Route("/search", search_page),
        Route("/metrics", metrics),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        *(Route(path, func, methods=["POST"]) for path, func in ACTIONS),
        Mount("/static", StaticFiles(packages=[("jackd.web", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SecurityMiddleware,
                signer=console.signer,
                users=console.users,
                allowed_hosts=hosts,
            )
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.console = console
    return app
