"""Health probes for load balancers, open without a token and left out of request metrics."""

import sqlalchemy as sa
from flask import Blueprint, current_app

from api.extensions import db
from api.models import Person

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def check_liveness():
    """Liveness: the process answers; no database, no token."""
    return {"status": "alive"}


@bp.get("/readyz")
def check_readiness():
    """Readiness: 200 when the database answers in time, else the usual 503 problem."""
    probe_database(current_app.config["READINESS_TIMEOUT"])
    return {"status": "ready"}


def probe_database(timeout):
    """Read one id from the people table; a database error goes to the 503 handler."""
    engine = current_app.extensions["readiness_engine"] or db.engine
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # A lock held by a migration must not hold the probe (and a worker thread) longer.
            connection.execute(sa.text(f"SET LOCAL statement_timeout = {timeout * 1000}"))
        try:
            connection.execute(sa.select(Person.id).limit(1))
        except sa.exc.ProgrammingError as error:
            # No people table on Postgres (a database not migrated yet): not ready either.
            raise sa.exc.OperationalError(error.statement, error.params, error.orig) from error
