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

db = SQLAlchemy(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))
auth = HTTPTokenAuth(scheme="Bearer", realm="people-api")
