"""The server's front door: a small ASGI middleware in front of every Gradio route.

``Guard`` (installed on Gradio's FastAPI app by ``rag_qa.web.app.launch``):

- refuses a request body over ``max_body`` bytes (``max_upload`` on the upload route) with a
  413, from its Content-Length or by counting the bytes as they stream in;
- refuses the upload routes (403) unless uploads are on;
- serves the file routes (``/gradio_api/file=...``) only for an absolute local path inside
  one of ``file_roots`` (Gradio's own cache of this process, the rendered page images):
  never a URL (which Gradio would fetch, resolving its host first), never the corpus;
- slows down guessing passwords: after ``LoginLimiter.free`` failures from one client, that
  client is refused (429) for a time that doubles with each failure (at most ``max_delay``
  seconds); every failure is logged with the user name and the client address, never the
  password;
- adds the security headers (``SECURITY_HEADERS``: a Content-Security-Policy, no framing,
  no sniffing) to every response.

No Gradio here, and no Starlette either: plain ASGI callables.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote

log = logging.getLogger(__name__)

# Gradio's page needs inline scripts and styles (its own bootstrapping and theme CSS); all
# else comes from this origin (images also as data: and blob: URLs).
CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "media-src 'self' data: blob:; "
    "worker-src 'self' blob:; "
    "frame-src 'self'; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
UPLOAD_PATHS = ("/upload",)
FILE_PREFIXES = ("/file=", "/file/")
LOGIN_PATHS = ("/login",)
API_PREFIX = "/gradio_api"


def _route(path: str) -> str:
    """The path without Gradio's API prefix and a trailing slash."""
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]
    return path.rstrip("/") or "/"


class LoginLimiter:
    """Failed logins per client: from the ``free``-th failure in a row on, the client is
    locked out for ``base * 2**(n - free)`` seconds after its n-th (at most ``max_delay``). At most
    ``max_clients`` clients remembered (the least recently seen forgotten first)."""

    def __init__(
        self,
        free: int = 3,
        base: float = 1.0,
        max_delay: float = 300.0,
        max_clients: int = 10_000,
        clock=time.monotonic,
    ):
        self.free, self.base, self.max_delay = free, base, max_delay
        self.max_clients = max_clients
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait(self, client: str) -> float:
        """Seconds before ``client`` may try again (0: now)."""
        with self._lock:
            _, until = self._clients.get(client, (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, client: str) -> int:
        """Record a failure; the number of failures in a row."""
        with self._lock:
            count, _ = self._clients.pop(client, (0, 0.0))
            count += 1
            delay = 0.0
            if count >= self.free:
                delay = min(self.max_delay, self.base * 2 ** (count - self.free))
            self._clients[client] = (count, self.clock() + delay)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
            return count

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def __len__(self) -> int:
        return len(self._clients)


def client_address(scope: dict) -> str:
    """The client's address; behind a reverse proxy on this machine (the direct peer is a
    loopback address), the last X-Forwarded-For entry (the address the proxy saw)."""
    peer = (scope.get("client") or ("?", 0))[0]
    if peer in ("127.0.0.1", "::1"):
        for name, value in scope.get("headers") or ():
            if name == b"x-forwarded-for":
                last = value.decode("latin-1").split(",")[-1].strip()
                if last:
                    return last
    return peer


def file_allowed(value: str, roots: Sequence[Path]) -> bool:
    """Whether the file route may look at ``value`` (the part after ``file=``): an absolute
    local path, no URL, inside one of ``roots`` once resolved."""
    value = unquote(value)
    if not value.startswith("/") or value.startswith("//") or "://" in value or "\x00" in value:
        return False
    try:
        path = Path(value).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(path.is_relative_to(root) for root in roots)


class _TooLarge(Exception):
    pass


class Guard:
    """The ASGI middleware (see the module's docstring)."""

    def __init__(
        self,
        app,
        *,
        file_roots: Sequence[str | Path] = (),
        allow_upload: bool = False,
        max_body: int = 1024 * 1024,
        max_upload: int = 200 * 1024 * 1024,
        limiter: LoginLimiter | None = None,
    ):
        self.app = app
        self.file_roots = [Path(r).resolve() for r in file_roots]
        self.allow_upload = allow_upload
        self.max_body, self.max_upload = max_body, max_upload
        self.limiter = limiter if limiter is not None else LoginLimiter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        route = _route(scope.get("path", ""))
        if route in UPLOAD_PATHS and not self.allow_upload:
            await _reply(send, 403, "Uploads are not enabled on this server.")
            return
        for prefix in FILE_PREFIXES:
            if route.startswith(prefix) and not file_allowed(
                scope.get("path", "").split(prefix, 1)[1], self.file_roots
            ):
                await _reply(send, 403, "Not an allowed file.")
                return
        limit = self.max_upload if route in UPLOAD_PATHS else self.max_body
        length = _content_length(scope)
        if length is not None and length > limit:
            await _reply(send, 413, f"Request body over the {limit} byte limit.")
            return
        if route in LOGIN_PATHS and scope.get("method") == "POST":
            await self._login(scope, receive, send, limit)
            return
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope, receive, send, limit: int) -> None:
        """The app with the body counted as it arrives: over ``limit``, a 413 instead of
        whatever the app answers to the cut-off body."""
        seen, over, replied = 0, False, False

        async def counting():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return message

        async def refuse():
            nonlocal replied
            if not replied:
                replied = True
                await _reply(send, 413, f"Request body over the {limit} byte limit.")

        async def tracking(message):
            if over:
                await refuse()
                return
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting, tracking)
        if over:
            await refuse()

    async def _login(self, scope, receive, send, limit: int) -> None:
        """A login: refused while the client is locked out; its outcome recorded and a
        failure logged (user and client, never the password)."""
        client = client_address(scope)
        wait = self.limiter.wait(client)
        if wait > 0:
            log.warning("login refused: %s is locked out for %.0fs", client, wait)
            await _reply(send, 429, f"Too many failed logins; try again in {wait:.0f}s.",
                         [(b"retry-after", str(int(wait) + 1).encode())])  # fmt: skip
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > limit:
                await _reply(send, 413, f"Request body over the {limit} byte limit.")
                return
            if not message.get("more_body"):
                break
        user = (parse_qs(body.decode("utf-8", "replace")).get("username") or [""])[0]
        status = 0
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watching(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay, watching)
        if status == 400 or status == 401:
            count = self.limiter.failed(client)
            log.warning("failed login for user %r from %s (%d in a row)", user[:64], client, count)
        elif 200 <= status < 400:
            self.limiter.succeeded(client)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _with_headers(send):
    async def sending(message):
        if message["type"] == "http.response.start":
            names = {n.lower() for n, _ in message.get("headers") or ()}
            extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
            message = {**message, "headers": [*(message.get("headers") or ()), *extra]}
        await send(message)

    return sending


async def _reply(send, status: int, text: str, headers=()) -> None:
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
