"""The `fer-edge` command line: one Click group; workstation commands import TensorFlow only when run."""

from __future__ import annotations

import logging

import click

from fer_edge import __version__
from fer_edge.cli import bench, device, faces, scrape, workstation
from fer_edge.errors import FerEdgeError
from fer_edge.native_logs import quiet_native_libraries


class FerEdgeGroup(click.Group):
    """A group that turns library errors into `Error: ...` with exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FerEdgeError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=FerEdgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fer-edge")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Facial expression recognition: train on a workstation, run on a Raspberry Pi kiosk."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        quiet_native_libraries()  # before any command imports TensorFlow
        for name in ("tensorflow", "absl", "h5py", "matplotlib", "PIL"):
            logging.getLogger(name).setLevel(max(level, logging.ERROR))


for command in (*device.COMMANDS, *faces.COMMANDS, *workstation.COMMANDS, *bench.COMMANDS, *scrape.COMMANDS):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="fer-edge")
