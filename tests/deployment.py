"""Run the repository's deploy commands the way Heroku and Elastic Beanstalk run them."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import poll
from tests.servers import ROOT, wait_for_http

# The virtualenv running the suite; the platforms put theirs first on PATH the same way.
VENV_BIN = Path(sys.executable).parent
# Heroku runs process commands with bash, and so does Elastic Beanstalk (its /bin/sh is
# bash on Amazon Linux). bash replaces itself with a lone command, so signals reach gunicorn.
SHELL = ["bash", "-c"]


def procfile_processes(path):
    """The Procfile's process types, as {name: command}."""
    processes = {}
    for line in path.read_text().splitlines():
        name, separator, command = line.partition(":")
        if separator and name.strip():
            processes[name.strip()] = command.strip()
    return processes


def platform_environment(home, path=None, **variables):
    """A clean environment, as a platform gives: nothing inherited from the test run."""
    search_path = path or f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    return {"PATH": search_path, "HOME": str(home), "LANG": "C.UTF-8", **variables}


def run_command(command, env, timeout=60):
    """Run a one-off command (release phase, container command) through a shell."""
    return subprocess.run(
        [*SHELL, command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stop(process, timeout=30):
    """SIGTERM the process group, as a platform does; SIGKILL only past the deadline."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_web(command, env, log_folder):
    """Start a long-running command; its stdout and stderr go to separate log files."""
    with (
        open(log_folder / "stdout.log", "wb") as stdout,
        open(log_folder / "stderr.log", "wb") as stderr,
    ):
        return subprocess.Popen(
            [*SHELL, command],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )


@contextlib.contextmanager
def web_process(command, env, log_folder):
    """A web command serving on 127.0.0.1:$PORT; yields (base_url, process)."""
    process = start_web(command, env, log_folder)
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:
        try:
            wait_for_http(base_url, process)
        except (RuntimeError, TimeoutError) as error:
            log = (log_folder / "stderr.log").read_text()
            raise AssertionError(f"{error}; stderr:\n{log}") from error
        yield base_url, process
    finally:
        stop(process)


def wait_for_log(path, text, count=1, deadline_seconds=10):
    """Poll a log file until `text` appears `count` times; return the log."""

    def log_with_text():
        log = path.read_text()
        return log.count(text) >= count and log

    return poll(log_with_text, deadline_seconds, f"{count} x {text!r} in {path.name}")
