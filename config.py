"""Settings, read from the environment; importing this module never fails."""

import os
from urllib.parse import quote


def _int(name, default):
    """Read an integer setting, falling back to the default when unset or not a number."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _positive_int(name, default):
    """An integer setting of at least 1; unset, not a number or below 1 means the default."""
    value = _int(name, default)
    return value if value >= 1 else default


def _flag(name):
    """Read a yes/no setting: 1, true, yes or on (any case) mean yes; anything else no."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


OFF_WORDS = ("0", "false", "no", "off")


def _optional_flag(name):
    """A yes/no setting that may be left unset (None), for a default that depends on APP_ENV."""
    return _flag(name) if os.environ.get(name, "").strip() else None


def normalise_database_url(url):
    """Point Postgres URLs at the psycopg 3 driver (Heroku hands out postgres://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def rds_database_url(environ):
    """Build a Postgres URL from Elastic Beanstalk's RDS_* variables, or None."""
    if not environ.get("RDS_HOSTNAME"):
        return None
    user = quote(environ.get("RDS_USERNAME", ""), safe="")
    password = quote(environ.get("RDS_PASSWORD", ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = environ["RDS_HOSTNAME"]
    port = environ.get("RDS_PORT", "5432")
    name = quote(environ.get("RDS_DB_NAME", "ebdb"), safe="")
    return f"postgresql://{credentials}{host}:{port}/{name}"


def database_url_from(environ):
    """DATABASE_URL wins; then Elastic Beanstalk's RDS_* variables; else None."""
    return environ.get("DATABASE_URL") or rds_database_url(environ)


APP_ENVIRONMENTS = ("development", "production")


def app_environment(environ):
    """APP_ENV, lower-cased; a Heroku dyno (DYNO is set) is production unless told otherwise."""
    default = "production" if environ.get("DYNO") else "development"
    return (environ.get("APP_ENV") or default).strip().lower()


class Config:
    """Defaults for every setting; the README lists them all."""

    # "production" turns on the start-up check of api/settings_check.py.
    APP_ENV = app_environment(os.environ)

    # Where local state lives (the default SQLite file, the local token); None: ./instance.
    INSTANCE_PATH = os.environ.get("INSTANCE_PATH") or None
    # None means: a SQLite file in the instance folder (the factory knows where that is).
    DATABASE_URL = database_url_from(os.environ)
    # Bodies are tiny JSON objects; anything larger is refused with 413.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 16 * 1024)
    # A bulk create (a JSON array on PUT /resources/data/): its body limit and item count.
    BULK_MAX_CONTENT_LENGTH = _int("BULK_MAX_CONTENT_LENGTH", 1024 * 1024)
    BULK_MAX_ITEMS = _int("BULK_MAX_ITEMS", 1000)
    # Seconds a SQLite writer waits for another writer's lock before giving up.
    SQLITE_BUSY_TIMEOUT = _int("SQLITE_BUSY_TIMEOUT", 10)
    # FULL: a 2xx write survives a power cut, not only a crash of the process.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL").upper()
    # Seconds a worker trusts a verified token without asking the database again:
    # the upper bound for a revocation to reach every worker.
    TOKEN_CACHE_SECONDS = _int("TOKEN_CACHE_SECONDS", 5)
    # The `flask db` commands (Flask-Migrate). gunicorn marks the processes it starts with
    # SERVER_SOFTWARE; a server never migrates, so its workers skip Alembic's ~10 MB.
    MIGRATION_COMMANDS = not os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")
    # Postgres connections a worker may hold at once: a real cap (no overflow). A worker
    # never runs more queries at once than it has threads, so that is the default.
    DATABASE_POOL_SIZE = _positive_int("DATABASE_POOL_SIZE", _positive_int("GUNICORN_THREADS", 4))
    # Seconds a request waits for one of its worker's connections before a 503.
    DATABASE_POOL_TIMEOUT = _positive_int("DATABASE_POOL_TIMEOUT", 5)
    # Seconds a pooled connection may sit unused before it is closed (0: kept open), so
    # that idle instances leave connections to the release phase and one-off commands.
    DATABASE_CLOSE_IDLE_SECONDS = _int("DATABASE_CLOSE_IDLE_SECONDS", 60)
    DATABASE_CONNECT_TIMEOUT = _int("DATABASE_CONNECT_TIMEOUT", 5)
    # Postgres statement_timeout and lock_timeout, in seconds (0: none): a stuck query ends
    # in a 503 well before gunicorn's 25 s and the Heroku router's 30 s (README: Stuck queries).
    DATABASE_STATEMENT_TIMEOUT = _int("DATABASE_STATEMENT_TIMEOUT", 5)
    # "transaction": the database URL is a transaction-mode pooler (PgBouncer, Heroku's
    # connection pooling), which allows no server-side prepared statements nor the
    # `options` startup parameter.
    DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "").strip().lower()
    # Postgres: ping a pooled connection before use once it sat idle this many seconds;
    # 0 pings before every use (SQLAlchemy's pool_pre_ping).
    DATABASE_PING_IDLE_SECONDS = _int("DATABASE_PING_IDLE_SECONDS", 1)
    # /metrics answers without a token: only for a port that only a private network reaches.
    METRICS_OPEN = _flag("METRICS_OPEN")
    # Production on one server with a disk that survives restarts (never a Heroku dyno,
    # never an Elastic Beanstalk instance): SQLite is then allowed.
    SQLITE_PERSISTENT_DISK = _flag("SQLITE_PERSISTENT_DISK")
    # Heroku sets DYNO on every dyno; its disk is wiped on each restart.
    ON_HEROKU = bool(os.environ.get("DYNO"))
    # Seconds /readyz gives the database before it answers 503.
    READINESS_TIMEOUT = _int("READINESS_TIMEOUT", 2)
    # Request log lines wait at most this long to be written together (0: each at once).
    LOG_FLUSH_MS = _int("LOG_FLUSH_MS", 100)
    # Proxies in front that append to X-Forwarded-For (Heroku's router; Elastic Beanstalk's
    # nginx); the entry they wrote is the client's address. 0: clients connect directly.
    TRUSTED_PROXY_HOPS = _int("TRUSTED_PROXY_HOPS", 1)
    # PUT, PATCH and DELETE on a person without If-Match get a 428 (lost-update protection
    # for every client, not only those that send the ETag they read).
    REQUIRE_IF_MATCH = _flag("REQUIRE_IF_MATCH")
    # Hours an Idempotency-Key and its stored response are kept; then the key is free again.
    IDEMPOTENCY_KEY_HOURS = _positive_int("IDEMPOTENCY_KEY_HOURS", 24)
    # Refuse (403) requests that did not come over HTTPS, as the trusted proxy hop tells in
    # X-Forwarded-Proto; health probes exempt. Unset: on when APP_ENV is production.
    REQUIRE_HTTPS = _optional_flag("REQUIRE_HTTPS")
    # Strict-Transport-Security's max-age on HTTPS responses, in seconds (0: no header).
    HSTS_MAX_AGE = _int("HSTS_MAX_AGE", 365 * 24 * 3600)
    # Comma-separated CIDR blocks (IPv4, IPv6) clients may connect from; empty: anywhere.
    ALLOWED_NETWORKS = os.environ.get("ALLOWED_NETWORKS", "")
    # Requests a token may make, e.g. "50/second;2000/minute" ("off": none). Unset: that
    # example in production, none in development.
    RATE_LIMIT = os.environ.get("RATE_LIMIT")
    # Failed authentications a client address may make (unset: 10/minute in production,
    # none in development); over it, a 429 before the token is even looked up.
    AUTH_FAILURE_RATE_LIMIT = os.environ.get("AUTH_FAILURE_RATE_LIMIT")
    # The Redis that holds the rate-limit counters for every worker and instance (Heroku's
    # add-on sets REDIS_URL); unset, each worker counts alone.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Check the certificate of a rediss:// Redis. Heroku Redis's is self-signed: set 0 there.
    REDIS_VERIFY_TLS = os.environ.get("REDIS_VERIFY_TLS", "1").strip().lower() not in OFF_WORDS
    # Origins whose pages may call the API from a browser (CORS), comma-separated, such as
    # "https://app.example.com, http://localhost:3000"; "*" for any. Empty: no CORS headers.
    CORS_ORIGINS = os.environ.get("CORS_ORIGINS", "")
