"""gunicorn settings, the same on Heroku, Elastic Beanstalk and a local run."""

import glob
import os
import tempfile

from gunicorn.glogging import Logger


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
errorlog = "-"
# No preload_app: each worker builds its own app, and so its own database engine,
# after the fork; no connection is ever shared between processes.
preload_app = False
# Heroku sets FORWARDED_ALLOW_IPS='*', which makes gunicorn take SCRIPT_NAME and PATH_INFO
# from request headers of those names (its default forwarder_headers) from anyone: a client
# could move its own request's path, so that the log shows another one, or get gunicorn's
# HTML 400. No proxy in front sets them; X-Forwarded-Proto is still taken from trusted ones.
forwarder_headers = ""
# Nor does gunicorn take the scheme from X-Forwarded-Proto (for FORWARDED_ALLOW_IPS): the app
# takes it from the trusted proxy hops, as it takes the client's address (api/proxies.py), so
# that REQUIRE_HTTPS cannot be passed with a header a client wrote.
secure_scheme_headers = {}
# gunicorn's control socket lives in the home folder by default, where parallel
# servers would share it; nothing here uses it.
control_socket_disable = True


# --- Metrics and logs (issue 4) ------------------------------------------------------------
# The app writes one JSON line per request to stdout, with its route, status, duration, token
# name and request id (api/logs.py); gunicorn's access log would repeat every request in
# another format. gunicorn's own messages (start, worker boot and exit, timeouts) stay on
# stderr.
accesslog = None


class NoAccessLog(Logger):
    """gunicorn's logger, minus the access log, whatever --access-logfile says.

    Heroku's Python buildpack sets GUNICORN_CMD_ARGS="--access-logfile -" on every dyno, and
    that variable (like the command line) overrides this file: `accesslog = None` alone
    left half of stdout as gunicorn's plain access lines among the app's JSON ones. Those
    settings do not name a logger class, so this one holds, and after a reload (SIGHUP) too.
    """

    @property
    def access_log_enabled(self):
        return False

    def access(self, resp, req, environ, request_time):
        pass


logger_class = NoAccessLog

# Every worker keeps its metrics in files here, and a scrape adds up all the files.
# prometheus_client picks that mode when it is first imported, in a worker after the fork,
# so the folder must be in the environment already: set it when this file is read.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="people-api-metrics-")


def remove_metric_files():
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def on_starting(server):
    """Check the settings, then empty the metrics folder, once in the master.

    Unsafe production settings stop gunicorn with one line on stderr ("Error: ...",
    exit status 1: gunicorn prints a RuntimeError that way) instead of every worker
    failing to boot with a traceback. Metric files left by an earlier server would add
    to this one's counts.
    """
    from api.settings_check import UnsafeSettingsError, check_settings, environment_settings

    try:
        check_settings(environment_settings())
    except UnsafeSettingsError as error:
        raise RuntimeError(error.message) from None
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    remove_metric_files()


def child_exit(server, worker):
    """A dead worker's counters stay in the sums; its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    remove_metric_files()
    try:
        os.rmdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    except OSError:
        pass  # not empty: the folder holds something else too, so it is not ours to remove
