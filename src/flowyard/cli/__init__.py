"""The ``flowyard`` command line: a thin click layer over the services and the client."""

from __future__ import annotations

import click

from flowyard import __version__
from flowyard.cli.admin import admin_group
from flowyard.cli.cluster import cluster_command
from flowyard.cli.cron import cron_group
from flowyard.cli.dirs import dirs_group
from flowyard.cli.flows import flows_group
from flowyard.cli.instances import instances_group
from flowyard.cli.logs import logs_command
from flowyard.cli.server import api_command, scheduler_command, server_command, worker_command
from flowyard.cli.trigger import trigger_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowyard")
def cli() -> None:
    """Flowyard: batch workflows behind the EnOS Batch Processing API."""


cli.add_command(server_command)
cli.add_command(api_command)
cli.add_command(scheduler_command)
cli.add_command(worker_command)
admin_group.add_command(cluster_command)
cli.add_command(admin_group, "admin")
cli.add_command(flows_group, "flows")
cli.add_command(dirs_group, "dirs")
cli.add_command(cron_group, "cron")
cli.add_command(trigger_command, "trigger")
cli.add_command(instances_group, "instances")
cli.add_command(logs_command, "logs")


def main() -> None:
    cli()
