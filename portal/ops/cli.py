"""`portal run` (everything on one machine), `portal worker` and `portal cron` (production layouts)."""

from __future__ import annotations

import click

from portal.config import ConfigError
from portal.ops.cron import cron_command as cron
from portal.ops.launcher import Launcher
from portal.ops.worker import run_worker


@click.command(
    help="Start everything at once: Redis (embedded unless PORTAL_REDIS_URL is set), migrations, "
    "the web server, one worker and the cron process. Ctrl-C stops them all."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="Web server threads.")
def run(host: str, port: int, threads: int) -> None:

    try:
        launcher = Launcher(host=host, port=port, threads=threads)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    raise SystemExit(launcher.run())


@click.command(help="Run one RQ worker (with the scheduler for delayed jobs and retries). Run as many as needed.")
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
def worker(burst: bool) -> None:

    try:
        run_worker(burst=burst)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


OPS_COMMANDS = [run, worker, cron]
