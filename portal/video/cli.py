import click


@click.group(help="The video provider.")
def video() -> None:
    pass
