"""Benchmark: the join-panel poll over HTTP, against the production server layout, versus a bare Flask route.

The server is what `portal run` serves: the portal app under waitress with 8 threads (portal.ops.launcher), in a
process of its own, with one extra route (`/bench/bare`, a view returning "ok") in the same app and process as the
baseline. The load comes from wrk (16 connections, 2 threads) when it is installed, else from a process of Python
threads with keep-alive connections. Runs are interleaved (bare, then each poll kind, round after round) and the
median of the rounds is kept, so the machine's ups and downs hit every figure alike.

Poll kinds, for a signed-in member holding a seat and for an anonymous visitor, of a public session 30 minutes out
with 1,000 seats taken and a waitlist:
- `304`: the steady state of an open page: the browser sends the ETag of the panel it shows (If-None-Match)
  and nothing changed, so the answer is a bodiless 304;
- `200`: the panel rendered in full (a poll after something changed, or a first load).

On SQLite (a temporary file) and on PostgreSQL (127.0.0.1:5432, database `portal_bench_poll`, created if absent;
skipped with a message when PostgreSQL is not there).

    .venv/bin/python bench/poll_http.py [--seconds 3] [--rounds 3] [--connections 16] [--only sqlite|postgresql]

The server gets a redis-server of its own (bench/mail_common.RedisServer): signing in needs the sign-in limits, and
the signed-in user is kept per process under the sign-in generation in Redis (portal/accounts/sessions.py).

A second baseline, `bare signed-in`, is the bare route asking who is signed in (accounts loads the user from the
session cookie): the least any request of a member costs, so the member's figures can be read against both.

`member 304 before` is the member's unchanged poll on a second server process (same database, Redis and sign-in)
that keeps no session's seats beside the snapshot (`queries._SEAT_MAP_MAX = -1`): the member's own seat is read on
every poll, one statement, as before issue 13's last step; interleaved with the others, so the gain is measured in
one run.

The last line: req/s of each kind and its ratio to the bare route (target >= 0.5x for the 304 polls).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "portal_bench_poll"
SECRET = "bench-poll-secret-" + "k" * 40
PASSWORD = "bench poll password"
SEATS = 1000
# the browser's User-Agent, on the sign-in and on every poll as a browser sends it (Flask-Login's session protection
# compares it with the sign-in's: a poll with another one would rewrite the session cookie each time)
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) bench-poll"
WAITLIST = 50


# ------------------------------------------------------------------------------------------------ the server
def settings(database_url: str, instance: str, redis_url: str = "redis://127.0.0.1:1/0") -> dict[str, object]:
    return {
        "ENV": "development",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": instance,
        # sign-in limits and the sign-in generation (portal.accounts.sessions): a redis-server of the bench's own
        "REDIS_URL": redis_url,
        "BASE_URL": "http://127.0.0.1",
    }


def serve(database_url: str, instance: str, port: int, threads: int, redis_url: str, seat_per_poll: bool) -> None:
    """The server process: the app as `portal run` builds it, plus the bare route, under waitress.
    `seat_per_poll`: the comparison server, keeping no session's seats (every member poll reads the member's own
    seat, one statement, as before the seats were kept beside the snapshot)."""
    import logging

    from flask import Response
    from flask_login import current_user  # noqa: TID251 - the bench asks what a view asks
    from waitress import serve as waitress_serve

    from portal.app import create_app
    from portal.seats import queries

    if seat_per_poll:
        queries._SEAT_MAP_MAX = -1  # no session's seats are kept: the member's own seat is read on every poll
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" warnings under load
    app = create_app(settings(database_url, instance, redis_url))
    app.add_url_rule("/bench/bare", "bench_bare", lambda: Response("ok", mimetype="text/plain"))
    # the same, but it asks who is signed in (accounts loads the user): what any member's request costs at least
    app.add_url_rule(
        "/bench/bare-user",
        "bench_bare_user",
        lambda: Response("yes" if current_user.is_authenticated else "no", mimetype="text/plain"),
    )
    waitress_serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def build(database_url: str, instance: str) -> tuple[int, str]:
    """Migrate and fill the database; return (the session's id, the seated member's email)."""
    from portal.accounts.models import User
    from portal.app import create_app
    from portal.core import migrate
    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.seats.models import Seat
    from portal.training.models import TrainingSession

    app = create_app(settings(database_url, instance))
    now = now_utc()
    with app.app_context():
        migrate.upgrade()
        instructor = User(email="i@example.org", name="Instructor", role="instructor", password_hash="!")  # noqa: S106 - never signs in
        member = User(email="member@example.org", name="Member", role="member", timezone="UTC")
        member.set_password(PASSWORD)
        db.session.add_all([instructor, member])
        db.session.flush()
        users = [
            {"email": f"m{i}@example.org", "name": f"M{i}", "role": "member", "password_hash": "!", "timezone": "UTC"}
            for i in range(SEATS + WAITLIST - 1)
        ]
        db.session.execute(sa.insert(User), users)
        others = list(db.session.scalars(sa.select(User.id).where(User.id.not_in([instructor.id, member.id]))))
        session = TrainingSession(
            title="Peak seminar",
            instructor_id=instructor.id,
            capacity=SEATS,
            seats_taken=SEATS,
            is_public=True,
            members_only=False,
        )
        session.set_schedule(now + timedelta(minutes=40), 60)
        db.session.add(session)
        db.session.flush()
        db.session.execute(
            sa.insert(Seat),
            [
                {
                    "session_id": session.id,
                    "user_id": uid,
                    "status": "confirmed" if i < SEATS else "waitlisted",
                    "confirmed_at": now if i < SEATS else None,
                    "waitlisted_at": None if i < SEATS else now + timedelta(microseconds=i),
                    "created_at": now,
                    "updated_at": now,
                }
                for i, uid in enumerate([member.id, *others])
            ],
        )
        db.session.commit()
        return session.id, member.email


def sign_in(port: int, email: str) -> str:
    """Sign in through the real form; the Cookie header of the signed-in browser."""
    import requests

    base = f"http://127.0.0.1:{port}"
    browser = requests.Session()
    browser.headers["User-Agent"] = USER_AGENT
    form = browser.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = browser.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, timeout=10)
    assert "/login" not in answer.url, "the bench member could not sign in"
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            status, _, _ = request(port, "/bench/bare", {})
            if status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 60 s")


def request(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """One GET on a fresh connection: status, headers (lower-case names), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ the load
def run_wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> tuple[float, int]:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, int(bad.group(1)) if bad else 0


def python_load(port: int, path: str, headers: dict[str, str], seconds: float, connections: int) -> tuple[float, int]:
    """Fallback without wrk: `connections` keep-alive connections, each in a thread, in a separate process."""
    code = f"""
import http.client, json, threading, time
port, path, headers, seconds, n = {port}, {path!r}, {headers!r}, {seconds}, {connections}
counts, bad = [0] * n, [0] * n
stop = time.monotonic() + seconds
def run(i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.monotonic() < stop:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse(); r.read()
        counts[i] += 1
        bad[i] += r.status >= 400
threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
start = time.monotonic()
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps([sum(counts) / (time.monotonic() - start), sum(bad)]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rate, bad = json.loads(out)
    return rate, bad


# ------------------------------------------------------------------------------------------------ one database
def bench_database(name: str, database_url: str, args) -> dict[str, float] | None:
    from mail_common import RedisServer

    with tempfile.TemporaryDirectory() as instance:
        session_id, email = build(database_url, instance)
        port = free_port()
        redis_server = RedisServer(Path(instance))
        redis_server.start()
        port_before = free_port()
        servers = [
            subprocess.Popen(
                [sys.executable, __file__, "--serve", database_url, instance, str(p), redis_server.url, mode],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for p, mode in ((port, "kept"), (port_before, "seat-per-poll"))
        ]
        try:
            wait_up(port, servers[0])
            wait_up(port_before, servers[1])
            panel = f"/sessions/{session_id}/panel"
            member = {"HX-Request": "true", "User-Agent": USER_AGENT, "Cookie": sign_in(port, email)}
            anonymous = {"HX-Request": "true", "User-Agent": USER_AGENT}
            kinds: dict[str, tuple[int, str, dict[str, str]]] = {
                "bare": (port, "/bench/bare", {"User-Agent": USER_AGENT})
            }
            assert request(port, "/bench/bare-user", member)[2] == "yes"
            kinds["bare signed-in"] = (port, "/bench/bare-user", member)
            for who, headers in (("member", member), ("anonymous", anonymous)):
                status, response_headers, body = request(port, panel, headers)
                assert status == 200, (status, body[:300])
                if who == "member":
                    assert "you have a seat" in body, "the member cookie did not sign in"
                    assert "set-cookie" not in response_headers, "a member's poll rewrote the session cookie"
                etag = response_headers["etag"]
                status, _, _ = request(port, panel, {**headers, "If-None-Match": etag})
                assert status == 304, status
                kinds[f"{who} 304"] = (port, panel, {**headers, "If-None-Match": etag})
                kinds[f"{who} 200"] = (port, panel, headers)
                if who == "member":  # the same poll on the comparison server (the same sign-in: one database)
                    assert request(port_before, panel, {**headers, "If-None-Match": etag})[0] == 304
                    kinds["member 304 before"] = (port_before, panel, {**headers, "If-None-Match": etag})
            rates: dict[str, list[float]] = {kind: [] for kind in kinds}
            errors = 0
            for _ in range(args.rounds):
                for kind, (kind_port, path, headers) in kinds.items():
                    if args.wrk:
                        url = f"http://127.0.0.1:{kind_port}{path}"
                        rate, bad = run_wrk(url, headers, args.seconds, args.connections)
                    else:
                        rate, bad = python_load(kind_port, path, headers, args.seconds, args.connections)
                    rates[kind].append(rate)
                    errors += bad
            if errors:
                print(f"{name}: {errors} responses were errors")
            medians = {kind: statistics.median(values) for kind, values in rates.items()}
            bare = medians["bare"]
            print(f"\n{name}: req/s, median of {args.rounds} interleaved rounds of {args.seconds:g} s")
            for kind, rate in medians.items():
                spread = f"{min(rates[kind]):.0f}-{max(rates[kind]):.0f}"
                print(f"  {kind:<18}{rate:>9.0f} req/s  ({spread}){'' if kind == 'bare' else f'  {rate / bare:.2f}x'}")
            return medians
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(timeout=20)
            redis_server.stop()


def postgres_url() -> str | None:
    try:
        engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DATABASE}"))
            conn.execute(sa.text(f"CREATE DATABASE {PG_DATABASE}"))
        engine.dispose()
    except Exception as exc:
        print(f"PostgreSQL at 127.0.0.1:5432 is not available ({type(exc).__name__}): skipped")
        return None
    return f"{PG_SERVER}/{PG_DATABASE}"


def drop_postgres() -> None:
    engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
    engine.dispose()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), 8, sys.argv[5], seat_per_poll=sys.argv[6] == "seat-per-poll")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--no-wrk", dest="wrk", action="store_false", help="use the Python load generator")
    args = parser.parse_args()
    if args.wrk and shutil.which("wrk") is None:
        print("wrk is not installed: the Python load generator is used (apt-get install wrk for better figures)")
        args.wrk = False
    print(
        f"join-panel poll over HTTP: waitress, 8 threads; load: {'wrk' if args.wrk else 'Python threads'}, "
        f"{args.connections} connections; a session with {SEATS} seats taken and {WAITLIST} waiting"
    )
    results: dict[str, dict[str, float]] = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = bench_database("SQLite", f"sqlite:///{tmp}/bench.db", args)
    if args.only in (None, "postgresql"):
        url = postgres_url()
        if url:
            try:
                results["postgresql"] = bench_database("PostgreSQL", url, args)
            finally:
                drop_postgres()
    parts = []
    for db_name, medians in results.items():
        bare = medians["bare"]
        kinds = ("member 304", "anonymous 304", "member 200", "anonymous 200")
        figures = ", ".join(f"{kind} {medians[kind]:.0f} ({medians[kind] / bare:.2f}x)" for kind in kinds)
        signed = medians["member 304"] / medians["bare signed-in"]
        gain = medians["member 304"] / medians["member 304 before"]
        parts.append(
            f"{db_name}: bare {bare:.0f} req/s, {figures}, member 304 vs bare signed-in {signed:.2f}x, "
            f"member 304 with the seats kept vs the seat read per poll {gain:.2f}x"
        )
    print("; ".join(parts))


if __name__ == "__main__":
    main()
