"""The RealtimeKit client against the fake server: envelopes, retries, timeouts, no duplicate creates."""

from __future__ import annotations

import pytest

from portal.config import ConfigError, load_settings
from portal.video.cloudflare.client import (
    RealtimeKitClient,
    error_message,
    map_recording_status,
    retry_after_seconds,
)
from portal.video.cloudflare.provider import meeting_title
from portal.video.port import ProviderError
from tests.plugins.realtimekit_fake import API_TOKEN


@pytest.fixture
def rtk(fake_rtk):
    sleeps: list[float] = []
    client = RealtimeKitClient(
        base_url=fake_rtk.url,
        account_id=fake_rtk.account_id,
        app_id=fake_rtk.app_id,
        api_token=API_TOKEN,
        timeout=0.5,
        max_retries=3,
        backoff_base=0.01,
        sleep=sleeps.append,
    )
    client.sleeps = sleeps
    yield client
    client.http.close()


def test_create_meeting_sends_bearer_token_and_returns_the_meeting(rtk, fake_rtk):
    meeting = rtk.create_meeting("Kata basics [tp-x-s1]")
    assert meeting["id"] in fake_rtk.meetings
    assert meeting["status"] == "ACTIVE"
    create = fake_rtk.calls("POST", "/meetings")[0]
    assert create.status == 201
    assert create.headers["authorization"] == f"Bearer {API_TOKEN}"
    assert create.json == {"title": "Kata basics [tp-x-s1]", "record_on_start": False}


def test_create_meeting_reuses_a_meeting_with_the_same_marker_instead_of_creating_another(rtk, fake_rtk):
    first = rtk.create_meeting("Kata [tp-x-s7]")
    second = rtk.create_meeting("Kata [tp-x-s7]")
    assert first["id"] == second["id"]
    assert len(fake_rtk.meetings) == 1


def test_a_timeout_after_the_provider_created_the_meeting_does_not_create_a_second_one(rtk, fake_rtk):
    fake_rtk.slow_next(1.5, path_contains="/meetings", method="POST")
    meeting = rtk.create_meeting("Slow [tp-x-s2]")
    assert len(fake_rtk.meetings) == 1
    assert meeting["id"] in fake_rtk.meetings
    assert len(fake_rtk.calls("POST", "/meetings")) == 1


def test_a_500_after_the_provider_acted_does_not_create_a_second_meeting(rtk, fake_rtk):
    fake_rtk.fail_next(1, status=502, path_contains="/meetings", method="POST", act=True)
    rtk.create_meeting("Acted [tp-x-s3]")
    assert len(fake_rtk.meetings) == 1


def test_5xx_is_retried_with_growing_backoff_then_succeeds(rtk, fake_rtk):
    fake_rtk.fail_next(2, status=503, path_contains="/presets")
    presets = rtk.list_presets()
    assert {p["name"] for p in presets} >= {"group_call_host", "group_call_participant"}
    assert len(fake_rtk.calls("GET", "/presets")) == 3
    assert len(rtk.sleeps) == 2
    assert 0.005 <= rtk.sleeps[0] <= 0.01 and 0.01 <= rtk.sleeps[1] <= 0.02


def test_429_waits_as_long_as_retry_after_says(rtk, fake_rtk):
    fake_rtk.fail_next(1, status=429, retry_after="2", path_contains="/presets")
    rtk.list_presets()
    assert rtk.sleeps == [2.0]


def test_a_retry_after_longer_than_the_limit_fails_at_once_as_retryable(rtk, fake_rtk):
    fake_rtk.fail_next(1, status=429, retry_after="600", path_contains="/presets")
    with pytest.raises(ProviderError) as caught:
        rtk.list_presets()
    assert caught.value.retryable and caught.value.status == 429
    assert rtk.sleeps == []


def test_persistent_5xx_gives_up_after_max_retries_with_a_retryable_error(rtk, fake_rtk):
    fake_rtk.fail_next(10, status=500, path_contains="/presets")
    with pytest.raises(ProviderError) as caught:
        rtk.list_presets()
    assert caught.value.retryable
    assert "HTTP 500" in str(caught.value) and "gave up after 4 attempts" in str(caught.value)
    assert len(fake_rtk.calls("GET", "/presets")) == 4


def test_other_4xx_is_never_retried_and_says_what_the_provider_said(rtk, fake_rtk):
    with pytest.raises(ProviderError) as caught:
        rtk.add_participant("no-such-meeting", custom_participant_id="5", preset_name="group_call_host", name="A")
    assert caught.value.retryable is False and caught.value.status == 404
    assert "Meeting not found" in str(caught.value)
    assert len(fake_rtk.calls("POST", "/participants")) == 1
    assert rtk.sleeps == []


def test_a_wrong_token_is_a_clear_non_retryable_401_read_from_the_v4_error_shape(rtk, fake_rtk):
    fake_rtk.api_token = "rotated"
    with pytest.raises(ProviderError) as caught:
        rtk.list_presets()
    assert caught.value.status == 401 and not caught.value.retryable
    assert "Authentication error" in str(caught.value)


def test_a_malformed_success_body_is_a_retryable_error_not_a_crash(rtk, fake_rtk):
    fake_rtk.malformed_next(1, path_contains="/recordings/")
    with pytest.raises(ProviderError) as caught:
        rtk.get_recording("whatever")
    assert caught.value.retryable


def test_a_slow_answer_times_out_and_is_retried(rtk, fake_rtk):
    fake_rtk.slow_next(1.0, path_contains="/presets")
    assert rtk.list_presets()
    assert len(fake_rtk.calls("GET", "/presets")) == 2


def test_network_errors_are_retried_then_reported_as_retryable():
    client = RealtimeKitClient(
        base_url="http://127.0.0.1:9",
        account_id="a",
        app_id="b",
        api_token="t",
        timeout=0.5,
        max_retries=1,
        sleep=lambda s: None,
    )
    with pytest.raises(ProviderError) as caught:
        client.list_presets()
    client.http.close()
    assert caught.value.retryable and "network error" in str(caught.value)


def test_participants_get_a_token_and_a_refresh_gives_a_new_one_without_adding_again(rtk, fake_rtk):
    meeting = rtk.create_meeting("Room [tp-x-s4]")
    added = rtk.add_participant(
        meeting["id"], custom_participant_id="42", preset_name="group_call_participant", name="Aiko"
    )
    assert added["token"] and added["custom_participant_id"] == "42"
    fresh = rtk.refresh_token(meeting["id"], added["id"])
    assert fresh != added["token"]
    assert len(fake_rtk.participants[meeting["id"]]) == 1


def test_a_timed_out_add_participant_is_found_again_instead_of_added_twice(rtk, fake_rtk):
    meeting = rtk.create_meeting("Room [tp-x-s5]")
    fake_rtk.slow_next(1.0, path_contains="/participants", method="POST")
    added = rtk.add_participant(meeting["id"], custom_participant_id="7", preset_name="group_call_host", name="I")
    assert len(fake_rtk.participants[meeting["id"]]) == 1
    assert added["token"] in fake_rtk.tokens_issued


def test_recording_lifecycle_and_status_mapping(rtk, fake_rtk):
    meeting = rtk.create_meeting("Rec [tp-x-s6]")
    started = rtk.start_recording(meeting["id"])
    assert map_recording_status(started["status"]) == "recording"
    again = rtk.start_recording(meeting["id"])  # the active recording is found, no second one
    assert again["id"] == started["id"] and len(fake_rtk.recordings) == 1
    stopped = rtk.stop_recording(started["id"])
    assert map_recording_status(stopped["status"]) == "uploading"
    fake_rtk.complete_upload(started["id"])
    done = rtk.get_recording(started["id"])
    assert map_recording_status(done["status"]) == "ready" and done["download_url"]


@pytest.mark.parametrize(
    ("rtk_status", "portal_status"),
    [
        ("INVOKED", "recording"),
        ("RECORDING", "recording"),
        ("UPLOADING", "uploading"),
        ("UPLOADED", "ready"),
        ("ERRORED", "failed"),
    ],
)
def test_recording_statuses_map_to_the_portals(rtk_status, portal_status):
    assert map_recording_status(rtk_status) == portal_status


def test_an_unknown_recording_status_is_an_error_not_a_guess():
    with pytest.raises(ProviderError):
        map_recording_status("EXPLODED")


def test_both_error_envelopes_are_read():
    assert error_message({"success": False, "error": {"code": 500, "message": "boom"}}) == ("500", "boom")
    assert error_message({"success": False, "errors": [{"code": 10000, "message": "auth"}]}) == ("10000", "auth")
    assert error_message("junk") == (None, None)


def test_retry_after_reads_seconds_and_http_dates(clock):
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Tue, 01 Dec 2026 09:00:30 GMT") == 30.0
    assert retry_after_seconds("soon") is None


def test_meeting_titles_carry_a_marker_per_portal_and_session():
    a = meeting_title("Kata", 1, "https://portal.example")
    assert a.startswith("Kata [tp-") and a.endswith("-s1]")
    assert a != meeting_title("Kata", 1, "https://other.example")
    assert a != meeting_title("Kata", 2, "https://portal.example")


def test_cloudflare_provider_without_credentials_stops_the_app_naming_them():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"ENV": "test", "SECRET_KEY": "x" * 40, "VIDEO_PROVIDER": "cloudflare", "CLOUDFLARE_APP_ID": "app"},
            environ={},
        )
    message = str(caught.value)
    assert "PORTAL_CLOUDFLARE_ACCOUNT_ID" in message and "PORTAL_CLOUDFLARE_API_TOKEN" in message
    assert "PORTAL_CLOUDFLARE_APP_ID" not in message


def test_the_app_factory_refuses_to_start_with_cloudflare_and_no_credentials(make_app):
    with pytest.raises(ConfigError, match="PORTAL_CLOUDFLARE_API_TOKEN"):
        make_app(VIDEO_PROVIDER="cloudflare", CLOUDFLARE_ACCOUNT_ID="acc", CLOUDFLARE_APP_ID="app")
