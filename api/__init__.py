"""People API: a REST service for people records."""

import os

from flask import Flask

from api.access import record_requests
from api.auth import init_token_cache
from api.bodies import drain_unread_bodies
from api.cli import register_commands
from api.cors import allow_cross_origin_requests
from api.database import init_database
from api.errors import register_error_handlers
from api.headers import harden_responses
from api.logs import init_logging
from api.metrics import metrics
from api.proxies import trust_proxies
from api.ratelimit import init_rate_limits
from api.routing import IdConverter
from api.security import guard_requests
from api.settings_check import check_settings
from config import Config

__version__ = "0.3.0"


class PeopleApi(Flask):
    """Flask, answering OPTIONS with 204 and Allow.

    Flask's default is a 200 with an empty text/html body; a client asking which methods
    a URL has expects no content. It needs no token: Allow tells nothing the README does
    not, and CORS preflights never carry credentials.
    """

    def make_default_options_response(self):
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


def create_app(config=None):
    """Build the app; `config` (a mapping) overrides the environment's settings."""
    config = config or {}
    app = PeopleApi(__name__, instance_path=config.get("INSTANCE_PATH") or Config.INSTANCE_PATH)
    load_settings(app, config)
    init_database(app)
    metrics.init_app(app)
    init_token_cache(app)
    init_rate_limits(app)
    register_blueprints(app)
    allow_cross_origin_requests(app)
    register_error_handlers(app)
    register_commands(app)
    init_logging(app)
    guard_requests(app)  # inside the next two, so that its refusals get their headers, logs
    harden_responses(app)
    record_requests(app)
    trust_proxies(app)  # outside the request wrapper, which logs the address it finds
    drain_unread_bodies(app)  # outside it too: the drain's time is not the app's
    return app


def load_settings(app, config):
    """The environment's settings, then the caller's; unsafe production settings stop here,
    before anything is created, with the reason."""
    app.config.from_object(Config)
    app.config.from_mapping(config)
    check_settings(app.config)
    app.json.sort_keys = False
    os.makedirs(app.instance_path, exist_ok=True)


def register_blueprints(app):
    # Before the routes that use it: a rule reads its converters when it is added.
    app.url_map.converters["id"] = IdConverter

    from api.people import bp as people_bp

    app.register_blueprint(people_bp)

    from api.health import bp as health_bp

    app.register_blueprint(health_bp)

    from api.openapi import bp as openapi_bp

    app.register_blueprint(openapi_bp)

    from api.docs import bp as docs_bp

    app.register_blueprint(docs_bp)
