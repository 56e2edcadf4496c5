"""/healthz for monitors, and the admins' health page (worker and cron alive, failed jobs, queue)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.core.queue import enqueue
from portal.ops.heartbeat import beat


def test_healthz_reports_database_and_redis_ok(client, redis_conn):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "redis": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_names_redis_when_it_is_down(make_app):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "ok", "redis": "down"}


def test_healthz_names_the_database_when_it_is_down(make_app, tmp_path):
    broken = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/portal.db")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "down", "redis": "ok"}


@pytest.mark.parametrize("role", ["member", "instructor", "board_member"])
def test_health_page_is_for_admins_only(client, login_as, role):
    login_as(role)
    assert client.get("/admin/health").status_code == 403


def test_health_page_asks_anonymous_visitors_to_sign_in(client):
    response = client.get("/admin/health")
    assert response.status_code in (302, 401)


def test_health_page_shows_live_worker_and_cron_and_failed_jobs(client, login_as, redis_conn, run_jobs, clock):
    login_as("admin")
    page = client.get("/admin/health").get_data(as_text=True)
    assert "No worker or cron process has reported yet" in page

    beat("worker:host:1", "worker")
    beat("cron:host:2", "cron")
    enqueue(_fails)
    run_jobs()
    page = client.get("/admin/health").get_data(as_text=True)
    assert "worker:host:1" in page and "cron:host:2" in page
    assert page.count('<span class="badge ok">alive</span>') == 4  # worker, cron (parts) + both rows
    assert '<span class="badge warn">1</span>' in page  # one failed job

    clock.shift(timedelta(minutes=5))  # silent for 10 heartbeats
    page = client.get("/admin/health").get_data(as_text=True)
    assert page.count("not running") == 2 and page.count(">silent<") == 2


def test_health_page_still_renders_when_redis_is_down(make_app, make_user):
    from tests.conftest import sign_in

    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    client = broken.test_client()
    with broken.app_context():
        sign_in(client, make_user("admin"))
        response = client.get("/admin/health")
    assert response.status_code == 200
    assert "Redis is down" in response.get_data(as_text=True)


def _fails():
    raise RuntimeError("this job fails on purpose")


def test_processes_silent_for_a_day_are_forgotten_by_the_daily_job(run_jobs, clock):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.ops.heartbeat import forget_silent
    from portal.ops.models import Heartbeat

    beat("worker:old:1", "worker")
    clock.shift(timedelta(days=1, minutes=1))
    beat("worker:new:2", "worker")
    enqueue(forget_silent)
    run_jobs()
    assert db.session.scalars(select(Heartbeat.name)).all() == ["worker:new:2"]
