"""Fixtures for video tests: a fake Cloudflare RealtimeKit server (a real HTTP server on 127.0.0.1) and an app
that talks to it.

- `fake_rtk`: the server, emptied before each test. It answers the `{K}` routes with RealtimeKit's envelopes and
  status codes, checks `Authorization: Bearer`, issues opaque tokens, runs recordings through
  INVOKED -> RECORDING -> stop -> UPLOADING -> (complete_upload) UPLOADED, can be told to fail
  (`fail_next`, `slow_next`, `malformed_next`), logs every request (`requests`, `calls(...)`), publishes its
  own RSA-2048 key at /.well-known/webhooks.json and sends signed webhooks (`send_webhook`).
- `cloudflare_app`: make_app(VIDEO_PROVIDER="cloudflare", ...) pointed at the fake, its app context pushed for
  the test (db.session, make_session and friends then work on it).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ACCOUNT_ID = "acc0123456789abcdef0123456789ab"
APP_ID = "app0123456789abcdef0123456789ab"
API_TOKEN = "fake-api-token-with-realtime-permission"
HOST_PRESET = "group_call_host"
LEARNER_PRESET = "group_call_participant"
PRESETS = (HOST_PRESET, LEARNER_PRESET, "webinar_presenter", "webinar_viewer")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


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
class FakeRealtimeKit:
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
                download_url_expiry=_iso(_now() + expires_in),
                file_size=1234567,
            )
            return dict(rec)

    def fail_recording(self, recording_id: str) -> None:
        with self.lock:
            self.recordings[recording_id]["status"] = "ERRORED"

    def start_live(self, meeting_id: str) -> None:
        with self.lock:
            self.live.add(meeting_id)

    # ------------------------------------------------------------------------------------------ webhooks
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def rotate_key(self) -> None:
        self.key = new_key()

    def sign(self, body: bytes, key: rsa.RSAPrivateKey | None = None) -> str:
        signature = (key or self.key).sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def meeting_payload(self, meeting_id: str) -> dict[str, Any]:
        meeting = self.meetings.get(meeting_id, {"title": "unknown"})
        return {
            "id": meeting_id,
            "sessionId": f"sess-{meeting_id[:8]}",
            "title": meeting.get("title"),
            "roomName": meeting_id,
            "status": "LIVE",
            "createdAt": meeting.get("created_at"),
            "startedAt": _iso(_now()),
            "organizedBy": {"id": self.app_id, "name": "Training Portal"},
        }

    def meeting_event(self, event: str, meeting_id: str, **extra: Any) -> dict[str, Any]:
        return {"event": event, "meeting": self.meeting_payload(meeting_id), **extra}

    def participant_event(
        self, event: str, meeting_id: str, user_id: int | str, *, at: datetime | None = None, name: str = "Someone"
    ) -> dict[str, Any]:
        at = at or _now()
        participant = {
            "peerId": uuid.uuid4().hex,
            "userDisplayName": name,
            "customParticipantId": str(user_id),
            "clientSpecificId": str(user_id),
            "joinedAt": _iso(at),
        }
        if event.endswith("Left"):
            participant["leftAt"] = _iso(at)
        return {"event": event, "meeting": self.meeting_payload(meeting_id), "participant": participant}

    def recording_event(self, recording_id: str, status: str | None = None) -> dict[str, Any]:
        rec = dict(self.recordings[recording_id])
        status = status or rec["status"]
        return {
            "event": "recording.statusUpdate",
            "meeting": self.meeting_payload(rec["meeting_id"]),
            "recording": {
                "id": recording_id,
                "recordingId": recording_id,
                "status": status,
                "downloadUrl": rec.get("download_url") if status == "UPLOADED" else None,
                "audioDownloadUrl": None,
                "downloadUrlExpiry": rec.get("download_url_expiry") if status == "UPLOADED" else None,
                "startedTime": rec.get("started_time"),
                "stoppedTime": rec.get("stopped_time"),
                "fileSize": str(rec.get("file_size") or ""),
                "outputFileName": rec["output_file_name"],
                "meetingId": rec["meeting_id"],
                "recordingDuration": 60,
                "organizationId": self.app_id,
                "roomUUID": rec["meeting_id"],
            },
        }

    def webhook_request(
        self,
        payload: dict[str, Any] | bytes,
        *,
        delivery_id: str | None = None,
        webhook_id: str = "wh-portal",
        signature: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of a signed delivery; `signature=""` leaves the header out."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "rtk-uuid": delivery_id or str(uuid.uuid4()),
            "rtk-webhook-id": webhook_id,
        }
        sig = self.sign(body, key) if signature is None else signature
        if sig:
            headers["rtk-signature"] = sig
        return body, headers

    def send_webhook(self, target: Any, payload: dict[str, Any] | bytes, **options: Any):
        """Deliver to the portal: `target` is a Flask test client, or the base URL of a running portal.
        Returns the response (Flask's TestResponse or a requests.Response)."""
        body, headers = self.webhook_request(payload, **options)
        if isinstance(target, str):
            return requests.post(f"{target.rstrip('/')}/webhooks/cloudflare", data=body, headers=headers, timeout=10)
        return target.post("/webhooks/cloudflare", data=body, headers=headers)

    # ------------------------------------------------------------------------------------------ routes
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

    def _route(self, method, path, relative, query, headers, payload) -> tuple[int, Any]:
        if path == "/.well-known/webhooks.json" and method == "GET":
            return 200, {"success": True, "data": {"publicKey": self.public_pem()}, "message": ""}
        if headers.get("authorization") != f"Bearer {self.api_token}":
            return 401, {
                "success": False,
                "errors": [{"code": 10000, "message": "Authentication error"}],
                "messages": [],
                "result": None,
            }
        if not path.startswith(self.prefix):
            return 404, _error(404, "No route for that URI")
        segments = [s for s in relative.split("/") if s]
        with self.lock:
            return self._api(method, segments, query, payload if isinstance(payload, dict) else {})

    def _api(self, method: str, seg: list[str], query, body: dict[str, Any]) -> tuple[int, Any]:
        match (method, seg):
            case ("GET", ["webhooks"]):
                return 200, _page(list(self.webhooks.values()), query)
            case ("POST", ["webhooks"]):
                if not body.get("url") or not body.get("events"):
                    return 400, _error(400, "name, url and events are required")
                hook = {
                    "id": str(uuid.uuid4()),
                    "name": body.get("name"),
                    "url": body["url"],
                    "events": body["events"],
                    "enabled": body.get("enabled", True),
                    "created_at": _iso(_now()),
                    "updated_at": _iso(_now()),
                }
                self.webhooks[hook["id"]] = hook
                return 201, _ok(hook)
            case ("PATCH", ["webhooks", webhook_id]):
                if webhook_id not in self.webhooks:
                    return 404, _error(404, "Webhook not found")
                self.webhooks[webhook_id].update({k: v for k, v in body.items() if k != "id"})
                return 200, _ok(self.webhooks[webhook_id])
            case ("GET", ["presets"]):
                data = [{"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, n)), "name": n} for n in self.presets]
                return 200, _page(data, query)
            case ("POST", ["meetings"]):
                meeting_id = str(uuid.uuid4())
                now = _iso(_now())
                self.meetings[meeting_id] = {
                    "id": meeting_id,
                    "title": body.get("title"),
                    "status": "ACTIVE",
                    "record_on_start": bool(body.get("record_on_start")),
                    "persist_chat": False,
                    "live_stream_on_start": False,
                    "session_keep_alive_time_in_secs": 60,
                    "summarize_on_end": False,
                    "transcribe_on_end": False,
                    "created_at": now,
                    "updated_at": now,
                }
                self.participants[meeting_id] = {}
                return 201, _ok(self.meetings[meeting_id])
            case ("GET", ["meetings"]):
                found = list(self.meetings.values())
                if query.get("search"):
                    found = [m for m in found if query["search"][0].lower() in (m["title"] or "").lower()]
                if query.get("status"):
                    found = [m for m in found if m["status"] == query["status"][0]]
                return 200, _page(found, query)
            case ("GET", ["meetings", meeting_id]):
                if meeting_id not in self.meetings:
                    return 404, _error(404, "Meeting not found")
                return 200, _ok(self.meetings[meeting_id])
            case ("PATCH", ["meetings", meeting_id]):
                if meeting_id not in self.meetings:
                    return 404, _error(404, "Meeting not found")
                if body.get("status") not in (None, "ACTIVE", "INACTIVE"):
                    return 400, _error(400, "status must be ACTIVE or INACTIVE")
                self.meetings[meeting_id].update({k: v for k, v in body.items() if k != "id"}, updated_at=_iso(_now()))
                return 200, _ok(self.meetings[meeting_id])
            case ("POST", ["meetings", meeting_id, "participants"]):
                return self._add_participant(meeting_id, body)
            case ("GET", ["meetings", meeting_id, "participants"]):
                if meeting_id not in self.meetings:
                    return 404, _error(404, "Meeting not found")
                listed = [{k: v for k, v in p.items() if k != "token"} for p in self.participants[meeting_id].values()]
                return 200, _page(listed, query)
            case ("POST", ["meetings", meeting_id, "participants", participant_id, "token"]):
                participant = self.participants.get(meeting_id, {}).get(participant_id)
                if participant is None:
                    return 404, _error(404, "Participant not found")
                if self.meetings[meeting_id]["status"] != "ACTIVE":
                    return 400, _error(400, "Meeting is inactive")
                participant["token"] = self._token()
                return 200, _ok({"token": participant["token"]})
            case ("POST", ["meetings", meeting_id, "active-session", "kick-all"]):
                if meeting_id not in self.live:
                    return 404, _error(404, "No active session")
                self.live.discard(meeting_id)
                for rec in self.recordings.values():
                    if rec["meeting_id"] == meeting_id and rec["status"] in ("INVOKED", "RECORDING", "PAUSED"):
                        rec.update(
                            status="UPLOADING",
                            stopped_time=_iso(_now()),
                            stop_reason={"reason": "API_CALL", "caller": {}},
                        )
                return 200, _ok({"action": "kick-all", "kicked_participants_count": 0})
            case ("POST", ["recordings"]):
                return self._start_recording(body)
            case ("GET", ["recordings", "active-recording", meeting_id]):
                active = self._active(meeting_id)
                return (200, _ok(active)) if active else (404, _error(404, "No active recording"))
            case ("PUT", ["recordings", recording_id]):
                rec = self.recordings.get(recording_id)
                if rec is None:
                    return 404, _error(404, "Recording not found")
                action = body.get("action")
                if action == "stop":
                    if rec["status"] not in ("INVOKED", "RECORDING", "PAUSED"):
                        return 400, _error(400, f"Recording is {rec['status']}")
                    rec.update(
                        status="UPLOADING", stopped_time=_iso(_now()), stop_reason={"reason": "API_CALL", "caller": {}}
                    )
                elif action in ("pause", "resume"):
                    rec["status"] = "PAUSED" if action == "pause" else "RECORDING"
                else:
                    return 400, _error(400, "action must be stop, pause or resume")
                return 200, _ok(dict(rec))
            case ("GET", ["recordings", recording_id]):
                rec = self.recordings.get(recording_id)
                return (200, _ok(dict(rec))) if rec else (404, _error(404, "Recording not found"))
        return 404, _error(404, "No route for that URI")

    def _token(self) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens_issued.append(token)
        return token

    def _add_participant(self, meeting_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return 404, _error(404, "Meeting not found")
        if meeting["status"] != "ACTIVE":
            return 400, _error(400, "Meeting is inactive")
        if not body.get("custom_participant_id") or not body.get("preset_name"):
            return 400, _error(400, "preset_name and custom_participant_id are required")
        if body["preset_name"] not in self.presets:
            return 400, _error(400, f"Preset {body['preset_name']} not found")
        participant_id = str(uuid.uuid4())
        now = _iso(_now())
        participant = {
            "id": participant_id,
            "token": self._token(),
            "custom_participant_id": body["custom_participant_id"],
            "preset_name": body["preset_name"],
            "name": body.get("name"),
            "picture": body.get("picture"),
            "created_at": now,
            "updated_at": now,
        }
        self.participants[meeting_id][participant_id] = participant
        return 201, _ok(dict(participant))

    def _active(self, meeting_id: str) -> dict[str, Any] | None:
        for rec in self.recordings.values():
            if rec["meeting_id"] == meeting_id and rec["status"] in ("INVOKED", "RECORDING", "PAUSED"):
                return dict(rec)
        return None

    def _start_recording(self, body: dict[str, Any]) -> tuple[int, Any]:
        meeting_id = body.get("meeting_id")
        if not meeting_id:
            return 400, _error(400, "meeting_id is required")
        if meeting_id not in self.meetings:
            return 404, _error(404, "Meeting not found")
        if self._active(meeting_id) and not body.get("allow_multiple_recordings"):
            return 400, _error(400, "A recording is already running for this meeting")
        recording_id = str(uuid.uuid4())
        rec = {
            "id": recording_id,
            "meeting_id": meeting_id,
            "status": "INVOKED",
            "invoked_time": _iso(_now()),
            "started_time": None,
            "stopped_time": None,
            "output_file_name": f"{recording_id}.mp4",
            "download_url": None,
            "audio_download_url": None,
            "download_url_expiry": None,
            "start_reason": {"reason": "API_CALL", "caller": {}},
        }
        self.recordings[recording_id] = rec
        answer = dict(rec)
        rec.update(status="RECORDING", started_time=_iso(_now()))  # the recorder comes up right after
        return 200, _ok(answer)


def _ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


def _page(items: list[Any], query: dict[str, list[str]]) -> dict[str, Any]:
    page = int((query.get("page_no") or ["1"])[0])
    per_page = int((query.get("per_page") or ["20"])[0])
    chunk = items[(page - 1) * per_page : page * per_page]
    start = (page - 1) * per_page
    return {
        "success": True,
        "data": chunk,
        "paging": {"start_offset": start, "end_offset": start + len(chunk), "total_count": len(items)},
    }


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


@pytest.fixture(scope="session")
def _rtk_server() -> Iterator[FakeRealtimeKit]:
    fake = FakeRealtimeKit()
    server = _Server(("127.0.0.1", 0), _handler_for(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-realtimekit", daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_rtk(_rtk_server) -> FakeRealtimeKit:
    """The fake RealtimeKit server, emptied for this test."""
    _rtk_server.reset()
    return _rtk_server


def _fresh_request_globals() -> None:
    from flask import g

    for name in ("_login_user", "csrf_token"):
        g.pop(name, None)


def cloudflare_settings(fake: FakeRealtimeKit, **overrides: Any) -> dict[str, Any]:
    return {
        "VIDEO_PROVIDER": "cloudflare",
        "CLOUDFLARE_ACCOUNT_ID": fake.account_id,
        "CLOUDFLARE_API_TOKEN": API_TOKEN,
        "CLOUDFLARE_APP_ID": fake.app_id,
        "CLOUDFLARE_API_BASE": fake.url,
        "CLOUDFLARE_WEBHOOK_KEY_URL": fake.key_url,
        "CLOUDFLARE_HOST_PRESET": HOST_PRESET,
        "CLOUDFLARE_LEARNER_PRESET": LEARNER_PRESET,
        "VIDEO_TIMEOUT_SECONDS": 1.0,
        "VIDEO_MAX_RETRIES": 2,
        **overrides,
    }


@pytest.fixture
def cloudflare_app(make_app, fake_rtk, db) -> Iterator[Any]:
    """An app whose video provider is the fake RealtimeKit; its context is pushed for the test. Retries back
    off for milliseconds here (the backoff itself is tested on the client)."""
    from flask import Flask

    from portal.video import get_provider

    app: Flask = make_app(**cloudflare_settings(fake_rtk))
    # The test keeps this app's context pushed, and Flask reuses a pushed context for test-client requests, so
    # `g` would carry one request's signed-in user and CSRF token into the next client's request.
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with app.app_context():
        provider = get_provider()
        provider.client.backoff_base = 0.01
        provider.client.sleeps = []
        real_sleep = provider.client.sleep

        def recorded_sleep(seconds: float) -> None:
            provider.client.sleeps.append(seconds)
            real_sleep(min(seconds, 0.05))

        provider.client.sleep = recorded_sleep
        try:
            yield app
        finally:
            provider.client.http.close()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()  # this app's pool dies with the test (an open connection left to GC warns)
