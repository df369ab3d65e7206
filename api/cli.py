"""Command-line tools: `flask --app api tokens create|list|revoke|local`."""

import os
import re
from datetime import timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from api.auth import hash_secret, issue_token
from api.extensions import db
from api.models import ROLES, Token, isoformat_utc, utcnow

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
LOCAL_TOKEN_NAME = "local"

tokens_cli = AppGroup("tokens", help="Create, list and revoke API tokens.")


def find_token(name):
    return db.session.scalar(sa.select(Token).where(Token.name == name))


@tokens_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the token may do.")
@click.option(
    "--expires-in", type=click.IntRange(min=1), metavar="DAYS", help="Expire after DAYS days."
)
def create_token(name, role, expires_in):
    """Create a token; it is printed once, alone on the last line."""
    if not NAME_PATTERN.fullmatch(name):
        raise click.ClickException(
            "NAME must be 1 to 100 letters, digits or . _ @ - and start with a letter or digit."
        )
    if find_token(name) is not None:
        raise click.ClickException(f"A token named '{name}' exists already.")
    expires_at = utcnow() + timedelta(days=expires_in) if expires_in else None
    try:
        secret = issue_token(name, role, expires_at)
    except sa.exc.IntegrityError as error:  # created by someone else meanwhile
        raise click.ClickException(f"A token named '{name}' exists already.") from error
    expiry = f", expires {isoformat_utc(expires_at)}" if expires_at else ", never expires"
    click.echo(f"Created token '{name}' (role {role}{expiry}). It is shown only now:")
    click.echo(secret)


@tokens_cli.command("list")
def list_tokens():
    """List tokens: names, roles and dates, never secrets."""
    tokens = db.session.scalars(sa.select(Token).order_by(Token.name)).all()
    if not tokens:
        click.echo("No tokens.")
        return
    rows = [("NAME", "ROLE", "CREATED", "LAST USED", "EXPIRES")]
    for token in tokens:
        rows.append(
            (
                token.name,
                token.role,
                isoformat_utc(token.created_at),
                isoformat_utc(token.last_used_at) or "never",
                isoformat_utc(token.expires_at) or "never",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@tokens_cli.command("revoke")
@click.argument("name")
def revoke_token(name):
    """Revoke a token: every worker refuses it within TOKEN_CACHE_SECONDS."""
    token = find_token(name)
    if token is None:
        raise click.ClickException(f"There is no token named '{name}'.")
    db.session.delete(token)
    db.session.commit()
    seconds = current_app.config["TOKEN_CACHE_SECONDS"]
    click.echo(f"Revoked token '{name}'; every worker refuses it within {seconds} s.")


@tokens_cli.command("local")
def local_token():
    """Development only: print the local write token, creating it when needed."""
    if current_app.config.get("APP_ENV") == "production":
        raise click.ClickException("'tokens local' is for development, not production.")
    # Kept in the instance folder (not in git) so every local run can show it again.
    path = Path(current_app.instance_path, "local-token")
    secret = path.read_text().strip() if path.exists() else None
    token = find_token(LOCAL_TOKEN_NAME)
    if secret is None or token is None or token.secret_hash != hash_secret(secret):
        if token is not None:
            db.session.delete(token)
            db.session.commit()
        secret = issue_token(LOCAL_TOKEN_NAME, "write")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secret + "\n")
    click.echo(f"Local write token (also in {path}):")
    click.echo(secret)


def register_commands(app):
    """`flask tokens|people ...`, and `flask db ...` (Flask-Migrate) outside the server."""
    app.cli.add_command(tokens_cli)
    from api.people_cli import people_cli  # bulk import and export, only for the CLI

    app.cli.add_command(people_cli)
    if app.config["MIGRATION_COMMANDS"]:
        # Imported here: Flask-Migrate brings Alembic, about 10 MB in every process.
        from flask_migrate import Migrate

        directory = os.path.join(os.path.dirname(app.root_path), "migrations")
        Migrate(app, db, directory=directory, render_as_batch=True, compare_type=True)
