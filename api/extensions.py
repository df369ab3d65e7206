"""Third-party extensions, created unbound here and bound to an app in the factory.

Nothing of `api` is imported here, so every module may import this one.
"""

import sqlalchemy as sa
from flask_httpauth import HTTPTokenAuth
from flask_sqlalchemy import SQLAlchemy

# Named constraints let later migrations alter them on SQLite (batch mode) and Postgres alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TokenAuth(HTTPTokenAuth):
    """flask-httpauth's bearer tokens, remembering which of the callables it runs are plain
    functions.

    For each callable it runs (the token check, the roles, the view: three a request)
    flask-httpauth asks the app, through Flask's current_app proxy, whether it is a
    coroutine function: about 5 % of a GET's instructions (callgrind). It only ever runs
    its callbacks and the views it decorates, all made before the first request, so the
    set is bounded by the routes, never by the requests (unlike a cache of every callable
    Flask runs, which per-request closures would grow without end).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plain_functions = set()

    def ensure_sync(self, f):
        if f in self.plain_functions:
            return f
        runnable = super().ensure_sync(f)
        if runnable is f:
            self.plain_functions.add(f)
        return runnable


db = SQLAlchemy(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))
auth = TokenAuth(scheme="Bearer", realm="people-api")
