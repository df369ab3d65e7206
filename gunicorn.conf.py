"""gunicorn settings, the same on Heroku, Elastic Beanstalk and a local run."""

import os

# Heroku sets PORT; Elastic Beanstalk's nginx proxies to 8000 and sets none.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A worker takes no more connections than it has threads, so keep-alive clients
# spread over the workers instead of piling onto one.
worker_connections = threads
# Below the Heroku router's 30 s limit, so a stuck request ends in our logs, not theirs.
timeout = 25
graceful_timeout = 20
accesslog = "-"
# No preload_app: each worker builds its own app, and so its own database engine,
# after the fork; no connection is ever shared between processes.
preload_app = False
# gunicorn's control socket lives in the home folder by default, where parallel
# servers would share it; nothing here uses it.
control_socket_disable = True
