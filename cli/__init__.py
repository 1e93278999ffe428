"""The `sanzhida` command line: one module per command group, gathered into one click group here.

Development commands (`serve`, `dev run`, `fake-wechat`, `seed demo`) live in `devtools/cli.py`
and join through the `sanzhida.commands` entry points, so nothing here imports the dev tools.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from cli import (
    archive,
    backup,
    classifier,
    database,
    figures,
    media,
    messages,
    reports,
    schedule,
    settings,
    spreadsheets,
    staff,
    wechat,
)

PLUGIN_GROUP = "sanzhida.commands"


class RootGroup(click.Group):
    """The root group; development commands join from the entry points when a command is first looked up.

    Loading them lazily (as `flask` does) lets `devtools.cli` import `cli` modules without a circle.
    """

    plugins_loaded = False

    def load_plugins(self) -> None:
        """Add each command registered under the `sanzhida.commands` entry points, once."""
        if not self.plugins_loaded:
            self.plugins_loaded = True
            for plugin in entry_points(group=PLUGIN_GROUP):
                self.add_command(plugin.load(), plugin.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, the development ones included."""
        self.load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """One command by name, the development ones included."""
        self.load_plugins()
        return super().get_command(ctx, cmd_name)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """三直达 Sanzhida: the civil-affairs service desk on WeChat."""


for command in (
    database.db,
    settings.config_group,
    wechat.wechat_group,
    messages.outbox_group,
    messages.inbound_group,
    messages.inbox_group,
    media.media_group,
    spreadsheets.import_group,
    spreadsheets.export_group,
    staff.staff_group,
    schedule.scheduler_group,
    classifier.classifier_group,
    figures.figures_group,
    reports.report_group,
    backup.backup_command,
    backup.restore_command,
    archive.archive_group,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
