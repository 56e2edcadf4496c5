"""The RealtimeKit HTTP client (see shared/reference/cloudflare-realtimekit.md) and how its answers read.

`RealtimeKitClient` speaks HTTP: one `requests.Session` (connection reuse), a timeout on every call, retries
with exponential backoff and jitter on 429 / 5xx / network errors (honouring `Retry-After`), never on other
4xx. RealtimeKit has no idempotency key, so a create that may have gone through (a timeout, a 5xx after the
provider acted) is looked up before it is sent again: meetings carry a marker in their title, participants
are found by `custom_participant_id` (our user id).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from portal.config import Settings
from portal.core.clock import now_utc
from portal.video.models import RecordingStatus
from portal.video.port import ProviderError

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 8.0
MAX_LIST_PAGES = 50  # a listing stops here (5,000 meetings at 100 a page)
MAX_RETRY_AFTER_SECONDS = 30.0  # a longer wait is not spent inside a web request or a job: fail retryable instead
USER_AGENT = "training-portal/0.1 (+RealtimeKit client)"

# RealtimeKit recording status -> the portal's RecordingStatus.
RECORDING_STATUSES = {
    "INVOKED": RecordingStatus.RECORDING.value,
    "RECORDING": RecordingStatus.RECORDING.value,
    "PAUSED": RecordingStatus.RECORDING.value,
    "UPLOADING": RecordingStatus.UPLOADING.value,
    "UPLOADED": RecordingStatus.READY.value,
    "ERRORED": RecordingStatus.FAILED.value,
}


def map_recording_status(status: str | None) -> str:
    """The portal's status for a RealtimeKit recording status; an unknown one is reported, not guessed."""
    try:
        return RECORDING_STATUSES[(status or "").upper()]
    except KeyError:
        raise ProviderError(f"RealtimeKit reported an unknown recording status {status!r}", retryable=False) from None


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time from RealtimeKit (`...Z` or with an offset) as aware UTC; None if absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 is before the first UTC instant
        return None


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now_utc()).total_seconds(), 0.0)


def error_message(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from either error envelope: `{error:{code,message}}` or the v4 `{errors:[{code,message}]}`."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        return _str(error.get("code")), _str(error.get("message"))
    if isinstance(error, str):
        return None, error
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return _str(errors[0].get("code")), _str(errors[0].get("message"))
    return None, _str(body.get("message"))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class RealtimeKitClient:
    """HTTP client for `{base}/accounts/{account_id}/realtime/kit/{app_id}`. Every method returns `data`."""

    def __init__(
        self,
        *,
        base_url: str,
        account_id: str,
        app_id: str,
        api_token: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.prefix = f"{base_url.rstrip('/')}/accounts/{account_id}/realtime/kit/{app_id}"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.sleep = sleep
        self.http = requests.Session()
        self.http.headers.update(
            {"Authorization": f"Bearer {api_token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RealtimeKitClient:
        return cls(
            base_url=settings.CLOUDFLARE_API_BASE,
            account_id=settings.CLOUDFLARE_ACCOUNT_ID,
            app_id=settings.CLOUDFLARE_APP_ID,
            api_token=settings.CLOUDFLARE_API_TOKEN,
            timeout=settings.VIDEO_TIMEOUT_SECONDS,
            max_retries=settings.VIDEO_MAX_RETRIES,
        )

    # ------------------------------------------------------------------------------------------ transport
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        before_retry: Callable[[], Any] | None = None,
    ) -> Any:
        """One API call with retries. `before_retry` (for creates) may find what a failed attempt already made:
        when it returns something, that is the result and nothing is sent again."""
        label = f"{method} {path}"
        attempt = 0
        while True:
            try:
                return self._once(method, path, json=json, params=params, label=label)
            except _Retry as retry:
                attempt += 1
                if attempt > self.max_retries or (retry.wait is not None and retry.wait > MAX_RETRY_AFTER_SECONDS):
                    raise ProviderError(
                        f"RealtimeKit {label}: {retry.reason} (gave up after {attempt} attempts)",
                        retryable=True,
                        status=retry.status,
                    ) from None
                delay = retry.wait if retry.wait is not None else self._backoff(attempt)
                log.info("RealtimeKit %s: %s; retry %d in %.2fs", label, retry.reason, attempt, delay)
                self.sleep(delay)
                if before_retry is not None:
                    found = before_retry()
                    if found is not None:
                        return found

    def _backoff(self, attempt: int) -> float:
        ceiling = min(MAX_BACKOFF_SECONDS, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret

    def _once(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None, label: str) -> Any:
        try:
            response = self.http.request(method, self.prefix + path, json=json, params=params, timeout=self.timeout)
        except requests.Timeout:
            raise _Retry(f"no answer within {self.timeout:g}s") from None
        except requests.RequestException as exc:
            raise _Retry(f"network error ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            _code, message = error_message(body)
            raise _Retry(
                f"HTTP {status}{': ' + message if message else ''}",
                status=status,
                wait=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 400:
            _code, message = error_message(body)
            detail = message or response.reason or "no message"
            raise ProviderError(f"RealtimeKit {label}: HTTP {status}: {detail}", retryable=False, status=status)
        if not isinstance(body, dict) or body.get("success") is False or "data" not in body:
            _code, message = error_message(body)
            raise ProviderError(
                f"RealtimeKit {label}: HTTP {status} with an unreadable body{': ' + message if message else ''}",
                retryable=True,
                status=status,
            )
        return body["data"]

    # ------------------------------------------------------------------------------------------ meetings
    def create_meeting(self, title: str, *, record_on_start: bool = False) -> dict[str, Any]:
        found = self.find_meeting(title)
        if found is not None:
            return found
        return self.request(
            "POST",
            "/meetings",
            json={"title": title, "record_on_start": record_on_start},
            before_retry=lambda: self.find_meeting(title),
        )

    def find_meeting(self, title: str) -> dict[str, Any] | None:
        """An ACTIVE meeting with exactly this title (titles carry our unique marker)."""
        meetings = self.request("GET", "/meetings", params={"search": title, "status": "ACTIVE", "per_page": 50})
        for meeting in meetings if isinstance(meetings, list) else []:
            if (
                isinstance(meeting, dict)
                and meeting.get("title") == title
                and meeting.get("status", "ACTIVE") == "ACTIVE"
            ):
                return meeting
        return None

    def list_meetings(self, *, search: str, status: str = "ACTIVE", per_page: int = 100) -> list[dict[str, Any]]:
        """Every meeting whose title matches `search`, page by page."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            chunk = self.request(
                "GET",
                "/meetings",
                params={"search": search, "status": status, "per_page": per_page, "page_no": page},
            )
            chunk = chunk if isinstance(chunk, list) else []
            found.extend(m for m in chunk if isinstance(m, dict) and m.get("id"))
            if len(chunk) < per_page or page >= MAX_LIST_PAGES:
                return found
            page += 1

    def deactivate_meeting(self, meeting_id: str) -> dict[str, Any]:
        return self.request("PATCH", f"/meetings/{meeting_id}", json={"status": "INACTIVE"})

    def kick_all(self, meeting_id: str) -> dict[str, Any] | None:
        """End the live session for everyone (also stops its recording). None when no session is live."""
        try:
            return self.request("POST", f"/meetings/{meeting_id}/active-session/kick-all")
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise

    # ------------------------------------------------------------------------------------------ participants
    def add_participant(
        self, meeting_id: str, *, custom_participant_id: str, preset_name: str, name: str
    ) -> dict[str, Any]:
        body = {"custom_participant_id": custom_participant_id, "preset_name": preset_name, "name": name}

        def already_added() -> dict[str, Any] | None:
            found = self.find_participant(meeting_id, custom_participant_id)
            if found is None:
                return None
            return {**found, "token": self.refresh_token(meeting_id, found["id"])}

        return self.request("POST", f"/meetings/{meeting_id}/participants", json=body, before_retry=already_added)

    def find_participant(self, meeting_id: str, custom_participant_id: str) -> dict[str, Any] | None:
        page = 1
        while page <= 50:
            found = self.request(
                "GET", f"/meetings/{meeting_id}/participants", params={"page_no": page, "per_page": 100}
            )
            if not isinstance(found, list) or not found:
                return None
            for participant in found:
                if isinstance(participant, dict) and participant.get("custom_participant_id") == custom_participant_id:
                    return participant
            if len(found) < 100:
                return None
            page += 1
        return None

    def refresh_token(self, meeting_id: str, participant_id: str) -> str:
        data = self.request("POST", f"/meetings/{meeting_id}/participants/{participant_id}/token")
        token = data.get("token") if isinstance(data, dict) else None
        if not token:
            raise ProviderError("RealtimeKit returned no token", retryable=True)
        return token

    # ------------------------------------------------------------------------------------------ recordings
    def start_recording(self, meeting_id: str) -> dict[str, Any]:
        active = self.active_recording(meeting_id)
        if active is not None:
            return active
        return self.request(
            "POST",
            "/recordings",
            json={"meeting_id": meeting_id},
            before_retry=lambda: self.active_recording(meeting_id),
        )

    def active_recording(self, meeting_id: str) -> dict[str, Any] | None:
        try:
            data = self.request("GET", f"/recordings/active-recording/{meeting_id}")
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return data if isinstance(data, dict) and data.get("id") else None

    def stop_recording(self, recording_id: str) -> dict[str, Any]:
        return self.request("PUT", f"/recordings/{recording_id}", json={"action": "stop"})

    def get_recording(self, recording_id: str) -> dict[str, Any]:
        return self.request("GET", f"/recordings/{recording_id}")

    # ------------------------------------------------------------------------------------------ webhooks
    def register_webhook(self, *, name: str, url: str, events: list[str]) -> tuple[str, dict[str, Any]]:
        """Make sure RealtimeKit posts `events` to `url`: ("created" | "updated" | "unchanged", the webhook)."""
        existing = self.request("GET", "/webhooks")
        for hook in existing if isinstance(existing, list) else []:
            if isinstance(hook, dict) and hook.get("url") == url:
                if set(hook.get("events") or []) >= set(events) and hook.get("enabled", True):
                    return "unchanged", hook
                merged = sorted(set(hook.get("events") or []) | set(events))
                return "updated", self.request(
                    "PATCH", f"/webhooks/{hook['id']}", json={"events": merged, "enabled": True}
                )
        return "created", self.request(
            "POST", "/webhooks", json={"name": name, "url": url, "events": events, "enabled": True}
        )

    # ------------------------------------------------------------------------------------------ presets
    def list_presets(self) -> list[dict[str, Any]]:
        presets: list[dict[str, Any]] = []
        for page in range(1, 21):
            found = self.request("GET", "/presets", params={"page_no": page, "per_page": 100})
            if not isinstance(found, list):
                raise ProviderError("RealtimeKit GET /presets: the answer is not a list", retryable=False)
            presets.extend(p for p in found if isinstance(p, dict))
            if len(found) < 100:
                break
        return presets


class _Retry(Exception):
    def __init__(self, reason: str, *, status: int | None = None, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait
