"""The store from the command line: `flask --app webapp create-editor | set-password | disable-
editor | enable-editor | remove-editor | import-stats | export-stats`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from scoring import InputError

from webapp.i18n import T
from webapp.store.stats_io import EstimateRow, export_csv
from webapp.store.db import StoreError


@click.command("create-editor")
@with_appcontext
@click.argument("name")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="the editor's password (prompted for when not given)",
)
def create_editor(name: str, password: str) -> None:
    """Create an editor account NAME (the password is stored hashed)."""
    try:
        current_app.extensions["store"].add_editor(name, password)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"editor '{name}' created")


@click.command("set-password")
@with_appcontext
@click.argument("name")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="the new password (prompted for when not given)",
)
def set_password(name: str, password: str) -> None:
    """Give editor NAME a new password; every session of NAME ends."""
    _store_call(lambda store: store.set_password(name, password))
    click.echo(f"editor '{name}': new password set; their sessions ended")


@click.command("disable-editor")
@with_appcontext
@click.argument("name")
def disable_editor(name: str) -> None:
    """Disable editor NAME: no sign-in until enabled again; every session of NAME ends."""
    _store_call(lambda store: store.set_disabled(name, True))
    click.echo(f"editor '{name}' disabled; their sessions ended")


@click.command("enable-editor")
@with_appcontext
@click.argument("name")
def enable_editor(name: str) -> None:
    """Enable editor NAME again (after disable-editor)."""
    _store_call(lambda store: store.set_disabled(name, False))
    click.echo(f"editor '{name}' enabled")


@click.command("remove-editor")
@with_appcontext
@click.argument("name")
def remove_editor(name: str) -> None:
    """Remove editor NAME's account (what they entered stays, named); their sessions end."""
    _store_call(lambda store: store.remove_editor(name))
    click.echo(f"editor '{name}' removed; their sessions ended")


def _store_call(change) -> None:
    try:
        change(current_app.extensions["store"])
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


english = T("en")  # the command line speaks English (numbers and plurals as webapp.i18n says them)


@click.command("import-stats")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--editor", default=None, help="who enters the values (default: the system user)")
def import_stats(file: Path, editor: str | None) -> None:
    """Import a CSV or XLSX FILE as one new revision; exit 1, listing every problem, if it is
    rejected."""
    who = f"{editor or getpass.getuser()} (command line)"
    try:
        rev, rows = current_app.extensions["atlas"].import_file(
            file.read_bytes(), file.name, editor=who
        )
    except InputError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        listed = english.plural("problems", len(exc.problems))
        click.echo(f"{file.name}: rejected ({listed} listed); stored data unchanged", err=True)
        sys.exit(1)
    what = "estimates" if any(isinstance(r, EstimateRow) for r in rows) else "values"
    towns = english.plural("towns", len({r.town_id for r in rows}))
    click.echo(
        f"{file.name}: {english.plural(what, len(rows))} of {towns} stored as revision {rev}"
    )
    for o in current_app.extensions["atlas"].outranked(rows, rev):
        click.echo(
            f"  not scored: {o['town']} {o['input']} {o['period']}: a value for"
            f" {o['stored_period']} ({o['stored_value']:g}) was stored before (the latest period is"
            " scored)"
        )


@click.command("export-stats")
@with_appcontext
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_stats(out: Path) -> None:
    """Write the current values to OUT (CSV in the import format: town, year, source, note,
    inputs)."""
    atlas = current_app.extensions["atlas"]
    out.write_text(export_csv(atlas.store.current(), atlas.method), encoding="utf-8")
    click.echo(f"{out}: written")


def init_app(app) -> None:
    for command in (
        create_editor,
        set_password,
        disable_editor,
        enable_editor,
        remove_editor,
        import_stats,
        export_stats,
    ):
        app.cli.add_command(command)
