"""Brute-force limits (SPEC "Accounts"): 10 failed sign-ins per account or 50 per address in 15 minutes answer 429
with Retry-After, the right password included, until the window passes; sign-up and reset requests are limited
per address; the counts live in Redis, shared by every web process (tested on two waitress processes); the client
address comes from the configured number of trusted proxies, never from a header anyone can send."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from portal.accounts import throttle
from tests.conftest import PASSWORD
from tests.plugins.browser import free_port

pytestmark = pytest.mark.usefixtures("redis_conn")


def web_sign_in(client, email: str, password: str, address: str = "127.0.0.1"):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address})


def api_sign_in(client, email: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/api/auth/token", json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_ten_failures_for_an_account_block_even_the_right_password_until_the_window_passes(client, make_user, clock):
    user = make_user()
    for attempt in range(10):  # the form and the API share the count
        sign_in = web_sign_in if attempt % 2 else api_sign_in
        assert sign_in(client, user.email, f"wrong password {attempt}").status_code == 401
        clock.shift(timedelta(seconds=30))

    blocked = api_sign_in(client, user.email, PASSWORD)
    assert blocked.status_code == 429 and blocked.json["error"]["code"] == "too_many_attempts"
    wait = int(blocked.headers["Retry-After"])
    assert 9 * 60 < wait <= 15 * 60  # the first failure leaves the window 15 minutes after it happened
    page = web_sign_in(client, user.email.upper(), PASSWORD, address="10.0.0.9")  # any case, any address
    assert page.status_code == 429 and "Too many failed sign-ins" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) > 0

    clock.shift(timedelta(seconds=wait - 5))
    assert api_sign_in(client, user.email, PASSWORD).status_code == 429
    clock.shift(timedelta(seconds=10))
    assert api_sign_in(client, user.email, PASSWORD).status_code == 200
    assert web_sign_in(client, user.email, PASSWORD).status_code == 302


def test_fifty_failures_from_one_address_block_it_for_every_account(client, make_user, clock):
    user = make_user()
    for n in range(49):  # as 49 failed sign-ins as other people from there would (without 49 password hashes)
        throttle.sign_in_failed(f"someone{n}@example.org", "203.0.113.7")
    assert api_sign_in(client, "nobody@example.org", "wrong password", address="203.0.113.7").status_code == 401
    blocked = web_sign_in(client, user.email, PASSWORD, address="203.0.113.7")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert web_sign_in(client, user.email, PASSWORD, address="203.0.113.8").status_code == 302  # another address
    clock.shift(timedelta(minutes=15, seconds=1))
    assert api_sign_in(client, user.email, PASSWORD, address="203.0.113.7").status_code == 200


def test_a_forwarded_header_does_not_change_the_address_without_trusted_proxies(client):
    for n in range(10):
        response = client.post(
            "/api/auth/password-reset", json={"email": "x@example.org"}, headers={"X-Forwarded-For": f"198.51.100.{n}"}
        )
        assert response.status_code == 202
    refused = client.post(
        "/api/auth/password-reset", json={"email": "x@example.org"}, headers={"X-Forwarded-For": "198.51.100.99"}
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    web = client.post("/password-reset", data={"email": "x@example.org"})
    assert web.status_code == 429 and "Too many reset requests" in web.get_data(as_text=True)


def test_behind_a_trusted_proxy_the_address_it_saw_counts(make_app, redis_conn):
    proxied = make_app(TRUSTED_PROXIES=1, WTF_CSRF_ENABLED=False).test_client()
    for n in range(12):  # twelve clients behind the proxy: none is limited
        response = proxied.post(
            "/api/auth/password-reset", json={"email": "x@example.org"}, headers={"X-Forwarded-For": f"198.51.100.{n}"}
        )
        assert response.status_code == 202
    for _ in range(10):  # one client: limited after ten, whatever it puts in front of the proxy's entry
        proxied.post(
            "/api/auth/password-reset", json={"email": "x@example.org"}, headers={"X-Forwarded-For": "192.0.2.1"}
        )
    spoofed = proxied.post(
        "/api/auth/password-reset",
        json={"email": "x@example.org"},
        headers={"X-Forwarded-For": "1.2.3.4, 192.0.2.1"},  # the client wrote 1.2.3.4; the proxy appended 192.0.2.1
    )
    assert spoofed.status_code == 429


def test_accounts_made_from_one_address_are_limited_not_typos(client):
    for _ in range(9):  # as nine sign-ups from there would (without nine password hashes)
        throttle.record(throttle.SIGN_UP_ADDRESS, "127.0.0.1")
    for n in range(5):  # forms with mistakes do not count
        data = {"name": f"P{n}", "email": "", "password": "", "timezone": "UTC"}
        assert client.post("/signup", data=data).status_code == 422
    tenth = {"name": "Ten", "email": "ten@example.org", "password": "a fine passphrase", "timezone": "UTC"}
    assert client.post("/signup", data=tenth).status_code == 302
    late = {"name": "Late", "email": "late@example.org", "password": "a fine passphrase", "timezone": "UTC"}
    refused = client.application.test_client().post("/signup", data=late)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many accounts" in refused.get_data(as_text=True)


def test_without_redis_sign_in_is_refused_not_let_through(client, make_user, monkeypatch):
    import redis

    user = make_user()

    def broken(*args, **kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)
    response = api_sign_in(client, user.email, PASSWORD)
    assert response.status_code == 503


# ------------------------------------------------------------------------------------------------ two processes
SERVER = """
import sys
import waitress
from portal import create_app

waitress.serve(create_app(), host="127.0.0.1", port=int(sys.argv[1]), threads=2, _quiet=True)
"""


@pytest.fixture
def two_web_processes(base_config, redis_url, tmp_path):
    """Two waitress processes serving the portal, sharing the test database and the real test Redis."""
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_DATABASE_URL": base_config["DATABASE_URL"],
        "PORTAL_REDIS_URL": redis_url,
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_BASE_URL": "http://127.0.0.1",
    }
    root = Path(__file__).resolve().parent.parent
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, cwd=root, start_new_session=True)
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, process in zip(urls, processes, strict=True):
            while True:
                assert process.poll() is None, "a web process exited"
                try:
                    requests.get(url + "/login", timeout=2)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "a web process did not start"
                    time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


def _form_sign_in(url: str, email: str, password: str) -> requests.Response:
    browser = requests.Session()
    form = browser.get(url + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return browser.post(
        url + "/login",
        data={"email": email, "password": password, "csrf_token": csrf},
        allow_redirects=False,
        timeout=10,
    )


def test_the_limits_hold_across_two_web_processes(two_web_processes, make_user):
    first, second = two_web_processes
    user = make_user()
    for n in range(5):
        response = requests.post(
            first + "/api/auth/token", json={"email": user.email, "password": f"wrong password {n}"}, timeout=10
        )
        assert response.status_code == 401
        assert _form_sign_in(second, user.email, f"wrong password {n}").status_code == 401

    for url in (first, second):
        blocked = requests.post(url + "/api/auth/token", json={"email": user.email, "password": PASSWORD}, timeout=10)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
        form = _form_sign_in(url, user.email, PASSWORD)
        assert form.status_code == 429 and int(form.headers["Retry-After"]) > 0


def test_wrong_current_passwords_count_and_the_account_forms_say_when_to_retry(client, make_user):
    user = make_user()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    for n in range(10):
        wrong = client.post("/account/password", data={"current_password": f"wrong one {n}", "new_password": "x" * 12})
        assert wrong.status_code == 422
    for url in ("/account/password", "/account/email"):
        refused = client.post(url, data={"current_password": PASSWORD, "new_password": "a brand new one"})
        assert refused.status_code == 429 and "Too many wrong passwords" in refused.get_data(as_text=True)
        assert int(refused.headers["Retry-After"]) > 0
    assert api_sign_in(client.application.test_client(), user.email, PASSWORD).status_code == 429
