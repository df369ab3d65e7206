"""One error shape for the whole app: RFC 9457 problem details."""

from http import HTTPStatus

import sqlalchemy as sa
from flask import current_app
from werkzeug.exceptions import HTTPException, InternalServerError

from api.metrics import metrics

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ValidationError(Exception):
    """A body that parsed but holds invalid fields: 422 with one entry a field."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class ParameterError(Exception):
    """A query string with unknown or invalid parameters: 400 with one entry a parameter."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def problem_response(status, detail, headers=None, **extensions):
    """Build a problem+json response; extension members follow the standard ones."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    response = current_app.response_class(
        current_app.json.dumps(body) + "\n", status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    for name, value in headers or []:
        if name.lower() not in ("content-type", "content-length"):
            response.headers.add(name, value)
    return response


def handle_http_exception(error):
    """Routing 404/405, 413, 415, abort() and the like, keeping headers such as Allow."""
    return problem_response(error.code, error.description, error.get_headers())


def handle_validation_error(error):
    return problem_response(422, "The request body has invalid fields.", errors=error.errors)


def handle_parameter_error(error):
    return problem_response(400, "The query string has invalid parameters.", errors=error.errors)


def handle_unexpected_error(error):
    """Log the traceback; the client gets the problem shape and no internals."""
    current_app.logger.exception("unhandled error", exc_info=error)
    return problem_response(500, InternalServerError.description)


def handle_database_unavailable(error):
    """A database that is down, full or locked is a temporary condition, not a bug: 503."""
    current_app.logger.error("database unavailable: %s", getattr(error, "orig", None) or error)
    return database_problem()


def handle_database_error(error):
    """Any other database error: still a 503, never a 500 (a pooler that lost a prepared
    statement says ProgrammingError), but with the traceback, since it may be a bug."""
    current_app.logger.exception("database error", exc_info=error)
    return database_problem()


def database_problem():
    metrics.count_database_error()
    return problem_response(
        503,
        "The database is unavailable; retry shortly.",
        headers=[("Retry-After", "1")],
    )


def register_error_handlers(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(ParameterError, handle_parameter_error)
    app.register_error_handler(sa.exc.OperationalError, handle_database_unavailable)
    app.register_error_handler(sa.exc.InterfaceError, handle_database_unavailable)
    # No free connection in the worker's pool within DATABASE_POOL_TIMEOUT.
    app.register_error_handler(sa.exc.TimeoutError, handle_database_unavailable)
    app.register_error_handler(sa.exc.DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)
