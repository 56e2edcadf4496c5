"""The RealtimeKit API as the fake answers it: the `{K}` routes with RealtimeKit's envelopes and status codes,
behind `Authorization: Bearer`; opaque participant tokens; recordings run INVOKED -> RECORDING -> stop ->
UPLOADING (then `complete_upload` on the fake: UPLOADED). A mixin of FakeRealtimeKit, which holds the state
(`meetings`, `participants`, `recordings`, `webhooks`, `live`, `presets`, `tokens_issued`, `links_issued`) and the
lock."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RealtimeKitApi:
    """`_route` answers one request: the webhook key, or a `{K}` API call."""

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
                    "created_at": iso(utc_now()),
                    "updated_at": iso(utc_now()),
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
                now = iso(utc_now())
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
            case ("PATCH", ["meetings", meeting_id]):
                if meeting_id not in self.meetings:
                    return 404, _error(404, "Meeting not found")
                if body.get("status") not in (None, "ACTIVE", "INACTIVE"):
                    return 400, _error(400, "status must be ACTIVE or INACTIVE")
                self.meetings[meeting_id].update(
                    {k: v for k, v in body.items() if k != "id"}, updated_at=iso(utc_now())
                )
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
                            stopped_time=iso(utc_now()),
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
                        status="UPLOADING",
                        stopped_time=iso(utc_now()),
                        stop_reason={"reason": "API_CALL", "caller": {}},
                    )
                elif action in ("pause", "resume"):
                    rec["status"] = "PAUSED" if action == "pause" else "RECORDING"
                else:
                    return 400, _error(400, "action must be stop, pause or resume")
                return 200, _ok(dict(rec))
            case ("GET", ["recordings", recording_id]):
                rec = self.recordings.get(recording_id)
                return (200, _ok(self._signed(rec))) if rec else (404, _error(404, "Recording not found"))
        return 404, _error(404, "No route for that URI")

    def _signed(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A recording as GET answers it: an uploaded one's `download_url` is signed afresh for each request (as a
        provider's pre-signed link is), and each link handed out is kept in `links_issued`."""
        answer = dict(rec)
        if answer.get("download_url"):
            answer["download_url"] = f"{answer['download_url']}?signature={secrets.token_urlsafe(16)}"
            self.links_issued.append(answer["download_url"])
        return answer

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
        now = iso(utc_now())
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
            "invoked_time": iso(utc_now()),
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
        rec.update(status="RECORDING", started_time=iso(utc_now()))  # the recorder comes up right after
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
