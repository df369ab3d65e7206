"""People API: a REST service for people records."""

import os

from flask import Flask

from config import Config

__version__ = "0.3.0"


class PeopleApi(Flask):
    """Flask, asking once per function whether it is a coroutine, not on every call.

    Flask and Flask-HTTPAuth pass every view, hook and callback through ensure_sync on
    each request, and its inspect check was 4 % of a GET's instructions (callgrind); the
    answer never changes.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_functions = {}

    def ensure_sync(self, func):
        try:
            return self.sync_functions[func]
        except KeyError:
            sync = self.sync_functions[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)

    def make_default_options_response(self):
        """OPTIONS on any route: 204 with Allow and no body.

        Flask's default is a 200 with an empty text/html body; a client asking which
        methods a URL has expects no content. It needs no token: Allow tells nothing the
        README does not, and CORS preflights never carry credentials.
        """
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


def create_app(config=None):
    """Build the app; `config` (a mapping) overrides the environment's settings."""
    config = config or {}
    app = PeopleApi(__name__, instance_path=config.get("INSTANCE_PATH") or Config.INSTANCE_PATH)
    app.config.from_object(Config)
    app.config.from_mapping(config)

    from api.settings_check import check_settings

    # Before anything is created: unsafe production settings stop here, with the reason.
    check_settings(app.config)

    app.json.sort_keys = False
    os.makedirs(app.instance_path, exist_ok=True)

    from api.database import (
        close_request_session,
        configure_sqlite,
        database_uri,
        engine_options,
        ping_idle_connections,
        readiness_engine,
    )
    from api.extensions import db, metrics

    uri = database_uri(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app, uri)
    db.init_app(app)
    # Teardowns run last-registered first, so this one comes before Flask-SQLAlchemy's.
    app.teardown_appcontext(close_request_session)
    if app.config["MIGRATION_COMMANDS"]:
        # Imported here: Flask-Migrate brings Alembic, about 10 MB in every process.
        from flask_migrate import Migrate

        directory = os.path.join(os.path.dirname(app.root_path), "migrations")
        Migrate(app, db, directory=directory, render_as_batch=True, compare_type=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_SYNCHRONOUS"])
        else:
            ping_idle_connections(db.engine, app.config["DATABASE_PING_IDLE_SECONDS"])
    app.extensions["readiness_engine"] = readiness_engine(app, uri)
    metrics.init_app(app)

    from api.auth import init_token_cache

    init_token_cache(app)

    from api.routing import IdConverter

    # Before the routes that use it: a rule reads its converters when it is added.
    app.url_map.converters["id"] = IdConverter

    from api.people import bp as people_bp

    app.register_blueprint(people_bp)

    from api.health import bp as health_bp

    app.register_blueprint(health_bp)

    from api.errors import register_error_handlers

    register_error_handlers(app)

    from api.cli import tokens_cli

    app.cli.add_command(tokens_cli)

    from api.logs import init_logging

    init_logging(app)

    from api.access import record_requests

    record_requests(app)
    return app
