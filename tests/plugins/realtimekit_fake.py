"""A fake Cloudflare RealtimeKit server: a real HTTP server on 127.0.0.1 (`serve`), its state, and the knobs a
test turns. It can be told to fail (`fail_next`, `slow_next`, `malformed_next`), logs every request (`requests`,
`calls(...)`), and finishes a recording's upload (`complete_upload`). The API it answers is in
realtimekit_api.py, the webhooks it sends in realtimekit_webhooks.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.plugins.realtimekit_api import RealtimeKitApi, iso, utc_now
from tests.plugins.realtimekit_webhooks import WebhookSender, new_key

ACCOUNT_ID = "acc0123456789abcdef0123456789ab"
APP_ID = "app0123456789abcdef0123456789ab"
API_TOKEN = "fake-api-token-with-realtime-permission"
HOST_PRESET = "group_call_host"
LEARNER_PRESET = "group_call_participant"
PRESETS = (HOST_PRESET, LEARNER_PRESET, "webinar_presenter", "webinar_viewer")


@dataclass
class Fault:
    status: int | None = None  # answer with this status (None: the normal answer)
    body: bytes | None = None  # the raw body to send instead
    retry_after: str | None = None
    delay: float = 0.0  # seconds to wait before answering
    act: bool = False  # do the work first (the provider acted, then the answer failed)
    path_contains: str = ""
    method: str | None = None
    remaining: int = 1

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.path_contains in path and (self.method in (None, method))


@dataclass
class LoggedRequest:
    method: str
    path: str  # relative to {K} for API routes, else the full path
    query: dict[str, list[str]]
    json: Any
    headers: dict[str, str]
    status: int = 0


@dataclass
class FakeRealtimeKit(RealtimeKitApi, WebhookSender):
    """What RealtimeKit would hold for one account and app, and the knobs a test turns (`start_live` marks a
    meeting live, so ending it kicks everyone out)."""

    url: str = ""
    account_id: str = ACCOUNT_ID
    app_id: str = APP_ID
    api_token: str = API_TOKEN
    presets: list[str] = field(default_factory=lambda: list(PRESETS))
    key: rsa.RSAPrivateKey = field(default_factory=new_key)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------------------------------------ state
    def reset(self) -> None:
        with self.lock:
            self.meetings: dict[str, dict[str, Any]] = {}
            self.participants: dict[str, dict[str, dict[str, Any]]] = {}
            self.recordings: dict[str, dict[str, Any]] = {}
            self.webhooks: dict[str, dict[str, Any]] = {}
            self.live: set[str] = set()
            self.faults: list[Fault] = []
            self.requests: list[LoggedRequest] = []
            self.tokens_issued: list[str] = []
            self.links_issued: list[str] = []  # recording links handed out by GET recordings/{id}, each signed afresh
            self.presets = list(PRESETS)
            self.api_token = API_TOKEN

    @property
    def prefix(self) -> str:
        return f"/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    @property
    def key_url(self) -> str:
        return f"{self.url}/.well-known/webhooks.json"

    def calls(self, method: str | None = None, path_contains: str = "") -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method) and path_contains in r.path]

    # ------------------------------------------------------------------------------------------ faults
    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        retry_after: str | None = None,
        body: Any = None,
        path_contains: str = "",
        method: str | None = None,
        act: bool = False,
    ) -> None:
        """The next `n` matching calls answer `status` (with the RealtimeKit error envelope unless `body`)."""
        raw = json.dumps(
            body
            if body is not None
            else {"success": False, "error": {"code": status, "message": f"fake failure {status}"}}
        ).encode()
        with self.lock:
            self.faults.append(
                Fault(
                    status=status,
                    body=raw,
                    retry_after=retry_after,
                    remaining=n,
                    path_contains=path_contains,
                    method=method,
                    act=act,
                )
            )

    def slow_next(self, seconds: float, n: int = 1, *, path_contains: str = "", method: str | None = None) -> None:
        """The next `n` matching calls do their work, then answer only after `seconds` (beyond a client timeout)."""
        with self.lock:
            self.faults.append(Fault(delay=seconds, act=True, remaining=n, path_contains=path_contains, method=method))

    def malformed_next(
        self, n: int = 1, *, status: int = 200, path_contains: str = "", method: str | None = None
    ) -> None:
        with self.lock:
            self.faults.append(
                Fault(status=status, body=b"<html>not json{", remaining=n, path_contains=path_contains, method=method)
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    # ------------------------------------------------------------------------------------------ recordings
    def complete_upload(self, recording_id: str, *, expires_in: timedelta = timedelta(days=7)) -> dict[str, Any]:
        with self.lock:
            rec = self.recordings[recording_id]
            rec.update(
                status="UPLOADED",
                download_url=f"{self.url}/files/{recording_id}.mp4",
                download_url_expiry=iso(utc_now() + expires_in),
                file_size=1234567,
            )
            return dict(rec)

    def start_live(self, meeting_id: str) -> None:
        with self.lock:
            self.live.add(meeting_id)

    # ------------------------------------------------------------------------------------------ serving
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, dict]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        payload: Any = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = body.decode(errors="replace")
        relative = path[len(self.prefix) :] if path.startswith(self.prefix) else path
        entry = LoggedRequest(method, relative, query, payload, headers)
        with self.lock:
            self.requests.append(entry)
        fault = self._take_fault(method, relative)
        extra: dict[str, str] = {}
        if fault is not None and not fault.act:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.retry_after:
                extra["Retry-After"] = fault.retry_after
            entry.status = fault.status or 200
            return entry.status, fault.body or b"", extra
        status, answer = self._route(method, path, relative, query, headers, payload)
        raw = json.dumps(answer).encode()
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                status, raw = fault.status, fault.body or raw
            if fault.retry_after:
                extra["Retry-After"] = fault.retry_after
        entry.status = status
        return status, raw, extra


def _handler_for(fake: FakeRealtimeKit):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client's connection reuse is real

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, raw, extra = fake.handle(self.command, self.path, headers, body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a timeout test)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up mid-answer (timeout tests) is expected


@contextmanager
def serve(fake: FakeRealtimeKit) -> Iterator[FakeRealtimeKit]:
    """Serve `fake` on a free port of 127.0.0.1 (its `url`) until the block ends."""
    server = _Server(("127.0.0.1", 0), _handler_for(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-realtimekit", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
