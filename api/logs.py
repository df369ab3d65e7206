"""Structured logs: one JSON object a line on stdout, one line for every request."""

import atexit
import json
import logging
import os
import select
import sys
import threading
import time
from json.encoder import encode_basestring_ascii

from flask import has_request_context, request
from flask.logging import default_handler

from api.environ import REQUEST_ID


class JsonFormatter(logging.Formatter):
    """time, level, message, the request id, a request's fields, and any traceback."""

    def format(self, record):
        entry = {
            "time": timestamp(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = request.environ.get(REQUEST_ID)
        entry.update(getattr(record, "fields", ()))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


_last_second = (0, "1970-01-01T00:00:00")


def timestamp(seconds):
    """ISO 8601 in UTC with milliseconds."""
    global _last_second
    second, text = _last_second
    if int(seconds) != second:
        # strftime is a twentieth of a request's time on the GIL: once a second is enough.
        second = int(seconds)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, text)
    return f"{text}.{int(seconds % 1 * 1000):03d}Z"


# A write to stdout lets go of the GIL, and getting it back under load cost far more than the
# write: one write for every request line took a tenth of a GET's CPU time with wrk on
# Postgres (bench/run.py, writing every line against batching them). So request lines wait
# and go out together: each write holds whole lines and at most PIPE_BUF bytes, which a pipe
# (Heroku's log router, systemd) takes in one piece, so lines from several workers never mix.
BATCH_BYTES = select.PIPE_BUF
# Request threads leave the writing to the writer thread: a request thread that wrote a full
# batch itself let go of the GIL for the write and waited to get it back, about 2 % of a GET's
# CPU time under wrk (bench/run.py, 2026-12-01). Only a backlog this large (the writer thread
# falling behind a blocked stdout) makes them write, so that waiting lines stay bounded.
BACKLOG_BYTES = 64 * BATCH_BYTES


class LineWriter:
    """Lines on stdout, batched for up to `delay` seconds; urgent lines go at once.

    Lines keep their order. Batched lines still waiting when the process is killed are
    lost (a normal exit writes them), so anything from `logging` (warnings, errors,
    tracebacks) is urgent: it is written at once, after the lines waiting before it.
    """

    def __init__(self):
        self.delay = 0.1
        self.pending = []
        self.pending_bytes = 0
        self.pending_lock = threading.Lock()  # never held while writing
        self.output_lock = threading.Lock()  # keeps batches in order
        self.flusher_pid = None

    def write(self, line, urgent=False):
        with self.pending_lock:
            self.pending.append(line + "\n")
            self.pending_bytes += len(line) + 1
            first = len(self.pending) == 1
            full = self.pending_bytes >= BACKLOG_BYTES
        if urgent or full or self.delay <= 0:
            self.flush()
        elif first and self.flusher_pid != os.getpid():
            # Checked once a batch, not once a line: getpid is a system call.
            self.start_flusher()

    def flush(self):
        with self.output_lock:
            with self.pending_lock:
                lines, self.pending, self.pending_bytes = self.pending, [], 0
            # sys.stdout as it is when writing (tests and servers replace it), as logging's
            # last-resort handler does. Lines are ASCII (json.dumps), so characters are bytes.
            batch, size = [], 0
            for line in lines:
                if batch and size + len(line) > BATCH_BYTES:
                    write_whole(batch)
                    batch, size = [], 0
                batch.append(line)
                size += len(line)
            if batch:
                write_whole(batch)

    def start_flusher(self):
        """One thread a process writes what waited `delay` (after a fork too)."""
        with self.pending_lock:
            if self.flusher_pid == os.getpid():
                return
            self.flusher_pid = os.getpid()
        threading.Thread(target=self.flush_every_delay, name="log-writer", daemon=True).start()

    def flush_every_delay(self):
        while True:
            time.sleep(max(self.delay, 0.05))
            if self.pending:
                self.flush()


def write_whole(lines):
    try:
        sys.stdout.write("".join(lines))
        sys.stdout.flush()
    except (OSError, ValueError):
        # A closed or broken stdout (the log reader is gone) must not fail the requests
        # whose lines these are, nor stop the writer thread: these lines are dropped.
        pass


writer = LineWriter()
atexit.register(writer.flush)


class StdoutHandler(logging.Handler):
    """Log records as JSON lines on stdout, written at once."""

    def emit(self, record):
        try:
            writer.write(self.format(record), urgent=True)
        except Exception:
            self.handleError(record)


def log_request(logger, *, request_id, method, path, route, status, seconds, token, client):
    """The access log line (never the token itself, only its name)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    # The line the JsonFormatter would make, written directly: going through logging cost
    # about 80 µs a request, a sixth of a GET (cProfile); and put together from escaped
    # strings, which takes a third of json.dumps's time on the same dictionary (timeit).
    writer.write(
        f'{{"time": "{timestamp(time.time())}", "level": "INFO", "message": "request", '
        f'"request_id": {json_text(request_id)}, "method": {json_text(method)}, '
        f'"path": {json_text(path)}, "route": {json_text(route)}, "status": {status:d}, '
        f'"duration_ms": {round(seconds * 1000, 3)!r}, "token": {json_text(token)}, '
        f'"client": {json_text(client)}}}'
    )


def json_text(value):
    """A string (or None) as JSON: what json.dumps makes of it, ASCII only."""
    return "null" if value is None else encode_basestring_ascii(value)


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
    writer.delay = app.config["LOG_FLUSH_MS"] / 1000
