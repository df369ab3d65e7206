"""Start-up check: refuse settings that would lose data or be unsafe in production."""

import click
from flask.helpers import get_debug_flag
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from api.ratelimit import parse_limits
from api.security import parse_networks
from config import APP_ENVIRONMENTS, Config


class UnsafeSettingsError(click.ClickException):
    """Settings the app will not start with; the message says why and what to set.

    A ClickException, like Flask's own NoAppException, so `flask --app api ...` prints
    "Error: <reason>" and exits 1 instead of a traceback.
    """


def settings_problems(settings):
    """One sentence per problem with these settings (a mapping such as `app.config`)."""
    app_env = settings.get("APP_ENV")
    if app_env not in APP_ENVIRONMENTS:
        return [f"APP_ENV must be one of {', '.join(APP_ENVIRONMENTS)}, not {app_env!r}."]
    problems = format_problems(settings)
    if app_env == "production":
        problems += production_problems(settings)
    return problems


def format_problems(settings):
    """Settings that cannot be read at all, in any environment."""
    problems = []
    try:
        parse_networks(settings.get("ALLOWED_NETWORKS"))
    except ValueError as error:
        problems.append(
            f"ALLOWED_NETWORKS must be comma-separated CIDR blocks such as 10.0.0.0/8 or "
            f"2001:db8::/32: {error}."
        )
    for name in ("RATE_LIMIT", "AUTH_FAILURE_RATE_LIMIT"):
        try:
            parse_limits(settings.get(name))
        except ValueError:
            problems.append(
                f"{name} must be limits such as '50/second;2000/minute' (or 'off'), "
                f"not {settings.get(name)!r}."
            )
    return problems


def production_problems(settings):
    problems = []
    url = settings.get("DATABASE_URL")
    if not url:
        problems.append(
            "no database is configured, and the default SQLite file would be lost with the "
            "server's disk: set DATABASE_URL (the Heroku Postgres add-on does) or the RDS_* "
            "variables (an RDS database attached to Elastic Beanstalk does)."
        )
    elif _backend(url) == "sqlite" and (
        settings.get("ON_HEROKU") or not settings.get("SQLITE_PERSISTENT_DISK")
    ):
        problems.append(
            "DATABASE_URL points at SQLite, whose file would be lost when the platform "
            "replaces the disk (every Heroku dyno restart, every Elastic Beanstalk instance "
            "replacement): use Postgres. On a single server whose disk survives restarts "
            "(not a Heroku dyno), SQLITE_PERSISTENT_DISK=1 allows it."
        )
    if settings.get("DEBUG"):
        problems.append("FLASK_DEBUG is on: debug mode must never serve the public; unset it.")
    return problems


def _backend(url):
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:  # not a URL at all: the engine reports that, with its own message
        return None


def check_settings(settings):
    """Raise UnsafeSettingsError listing every problem, or return quietly."""
    problems = settings_problems(settings)
    if problems:
        mode = settings.get("APP_ENV")
        raise UnsafeSettingsError(f"refusing to start (APP_ENV={mode}): " + " ".join(problems))


def environment_settings():
    """The settings an app built now would check, without building one (gunicorn's master)."""
    settings = {name: getattr(Config, name) for name in dir(Config) if name.isupper()}
    settings["DEBUG"] = get_debug_flag()
    return settings
