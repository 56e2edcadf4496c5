import click


@click.command(help="Load demo users, events and sessions.")
def demo() -> None:
    pass
