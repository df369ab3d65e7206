"""gunicorn settings, the same on Heroku, Elastic Beanstalk and a local run."""

import os


def _positive_int(name, default):
    """An integer setting from the environment; unset, invalid or below 1 means the default."""
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= 1 else default


# The app: the factory, called once in each worker. Set here rather than in the Procfile,
# so the command line needs no shell quoting on either platform.
wsgi_app = "api:create_app()"
# Heroku sets PORT; Elastic Beanstalk's nginx proxies to 8000 and sets none.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Heroku sets WEB_CONCURRENCY from the dyno size. The default stays small on purpose:
# every worker keeps its own Postgres pool, and hobby databases allow few connections.
workers = _positive_int("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _positive_int("GUNICORN_THREADS", 4)
# A worker takes no more connections than it has threads, so keep-alive clients
# spread over the workers instead of piling onto one.
worker_connections = threads
# Below the Heroku router's 30 s limit, so a stuck worker ends in our logs, not theirs.
timeout = 25
# On SIGTERM workers stop accepting and finish the requests they hold. Heroku sends
# SIGKILL 30 s after SIGTERM, so the grace period must end before that.
graceful_timeout = 25
accesslog = "-"
errorlog = "-"
# No preload_app: each worker builds its own app, and so its own database engine,
# after the fork; no connection is ever shared between processes.
preload_app = False
# gunicorn's control socket lives in the home folder by default, where parallel
# servers would share it; nothing here uses it.
control_socket_disable = True


def on_starting(server):
    """Check the settings once in the master, before any worker is forked.

    Unsafe production settings then stop gunicorn with one line on stderr ("Error: ...",
    exit status 1: gunicorn prints a RuntimeError that way) instead of every worker
    failing to boot with a traceback.
    """
    from api.settings_check import UnsafeSettingsError, check_settings, environment_settings

    try:
        check_settings(environment_settings())
    except UnsafeSettingsError as error:
        raise RuntimeError(error.message) from None


# --- Metrics (observability issue) -------------------------------------------------
# Prometheus multiprocess mode goes here: PROMETHEUS_MULTIPROC_DIR prepared before the
# workers fork, and a child_exit(server, worker) hook that marks the dead worker's
# metric files. Not implemented in this branch.
