"""Structured logs: one JSON object a line on stdout, one line for every request."""

import json
import logging
import re
import secrets
import sys
import time

from flask import current_app, g, has_request_context, request
from flask.logging import default_handler

# Heroku's router sends ids of 20 to 200 characters; anything else is replaced, so a
# client cannot put arbitrary text (or a very long one) into every log line.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+/=-]{1,200}")


class JsonFormatter(logging.Formatter):
    """time, level, message, the request id, a request's fields, and any traceback."""

    def format(self, record):
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
        entry.update(getattr(record, "fields", ()))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is when it writes, as logging's last resort does."""

    def __init__(self):
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stdout


def start_request():
    incoming = request.headers.get("X-Request-ID")
    valid = incoming and REQUEST_ID.fullmatch(incoming)
    g.request_id = incoming if valid else secrets.token_hex(16)
    g.request_started = time.perf_counter()


def log_request(response):
    """The access log line (never the token itself, only its name)."""
    response.headers["X-Request-ID"] = g.request_id
    rule = request.url_rule
    fields = {
        "method": request.method,
        "path": request.path,
        "route": None if rule is None else rule.rule,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 3),
        "token": g.get("token_name"),
    }
    current_app.logger.info("request", extra={"fields": fields})
    return response


def init_logging(app):
    """JSON lines on stdout for the app's logger; Flask's stderr handler goes."""
    logger = logging.getLogger(app.name)
    logger.removeHandler(default_handler)
    if not any(isinstance(handler, StdoutHandler) for handler in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Alembic's logging set-up gives the root logger a handler; do not write twice.
    logger.propagate = False
    app.before_request(start_request)
    app.after_request(log_request)
