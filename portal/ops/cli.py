"""`portal run`: serve the portal on embedded defaults."""

from __future__ import annotations

import click

from portal.cli import with_app


@click.command(help="Apply migrations and serve the portal.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    from waitress import serve

    from portal import create_app
    from portal.core import migrate

    app = create_app()
    with app.app_context():
        migrate.upgrade()
    click.echo(f"Training Portal on http://{host}:{port}/")
    serve(app, host=host, port=port, threads=8)


OPS_COMMANDS = [run]
_ = with_app
