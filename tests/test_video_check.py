"""`portal video check` against the fake RealtimeKit server."""

from __future__ import annotations

import pytest

from tests.plugins.realtimekit_fake import API_TOKEN


@pytest.fixture
def run_check(portal_command, fake_rtk):
    def run(**overrides: str):
        args = overrides.pop("args", ["video", "check"])
        settings = {
            "VIDEO_PROVIDER": "cloudflare",
            "CLOUDFLARE_ACCOUNT_ID": fake_rtk.account_id,
            "CLOUDFLARE_APP_ID": fake_rtk.app_id,
            "CLOUDFLARE_API_TOKEN": API_TOKEN,
            "CLOUDFLARE_API_BASE": fake_rtk.url,
            "CLOUDFLARE_WEBHOOK_KEY_URL": fake_rtk.key_url,
            "VIDEO_TIMEOUT_SECONDS": "2",
        }
        return portal_command(*args, **{**settings, **overrides})

    return run


def test_check_confirms_the_token_and_both_presets(run_check, fake_rtk):
    result = run_check()
    assert result.exit_code == 0, result.output
    assert "OK: the API token works" in result.output
    assert "preset 'group_call_host'" in result.output and "preset 'group_call_participant'" in result.output
    assert "webhook signing key" in result.output and "FAIL" not in result.output
    assert fake_rtk.calls("GET", "/presets")[0].headers["authorization"] == f"Bearer {API_TOKEN}"


def test_check_says_plainly_when_the_token_is_wrong(run_check):
    result = run_check(CLOUDFLARE_API_TOKEN="wrong-token")
    assert result.exit_code == 1
    assert "the API token was refused (HTTP 401)" in result.output
    assert "wrong-token" not in result.output


def test_check_names_a_preset_that_does_not_exist(run_check):
    result = run_check(CLOUDFLARE_LEARNER_PRESET="webinar-learner")
    assert result.exit_code == 1
    assert "FAIL: preset 'webinar-learner' (PORTAL_CLOUDFLARE_LEARNER_PRESET) does not exist" in result.output
    assert "OK: preset 'group_call_host'" in result.output


def test_check_says_when_the_webhook_key_cannot_be_read(run_check, fake_rtk):
    result = run_check(CLOUDFLARE_WEBHOOK_KEY_URL=f"{fake_rtk.url}/no-key-here")
    assert result.exit_code == 1 and "PORTAL_CLOUDFLARE_WEBHOOK_KEY_URL" in result.output


def test_check_names_a_wrong_app(run_check):
    result = run_check(CLOUDFLARE_APP_ID="not-our-app")
    assert result.exit_code == 1 and "PORTAL_CLOUDFLARE_APP_ID" in result.output


def test_check_reports_an_unreachable_provider(run_check):
    result = run_check(CLOUDFLARE_API_BASE="http://127.0.0.1:9")
    assert result.exit_code == 1 and "could not be reached" in result.output


def test_check_with_missing_credentials_names_them(run_check):
    result = run_check(CLOUDFLARE_API_TOKEN="")
    assert result.exit_code != 0 and "PORTAL_CLOUDFLARE_API_TOKEN" in result.output


def test_check_with_the_local_provider_has_nothing_to_check(run_check):
    result = run_check(VIDEO_PROVIDER="local")
    assert result.exit_code == 0 and "local" in result.output


def test_register_webhook_subscribes_the_portal_once(run_check, fake_rtk):
    first = run_check(args=["video", "register-webhook"], BASE_URL="https://portal.example")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("created") and "https://portal.example/webhooks/cloudflare" in first.output
    [hook] = fake_rtk.webhooks.values()
    assert set(hook["events"]) == {
        "meeting.started",
        "meeting.ended",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "recording.statusUpdate",
    }
    again = run_check(args=["video", "register-webhook"], BASE_URL="https://portal.example")
    assert again.exit_code == 0 and again.output.startswith("unchanged") and len(fake_rtk.webhooks) == 1
    hook["events"] = ["meeting.ended"]
    fixed = run_check(args=["video", "register-webhook"], BASE_URL="https://portal.example")
    assert fixed.output.startswith("updated") and "recording.statusUpdate" in hook["events"]


def test_register_webhook_with_a_wrong_token_fails_plainly(run_check, fake_rtk):
    result = run_check(args=["video", "register-webhook"], CLOUDFLARE_API_TOKEN="nope")
    assert result.exit_code == 1 and "HTTP 401" in result.output and fake_rtk.webhooks == {}


def test_an_unknown_provider_stops_the_command_naming_the_registered_ones(run_check):
    result = run_check(VIDEO_PROVIDER="zoom")
    assert result.exit_code != 0 and "'zoom'" in result.output and "cloudflare, local" in result.output
