"""What many tests need: waiting with a deadline, servers started as processes, ending
Postgres sessions, and apps that are disposed of afterwards."""

import socket
import subprocess
import time


def poll(check, seconds, what, interval=0.05, ignore=()):
    """Call `check()` until it returns something true, and return that.

    Fails the test, naming `what`, when `seconds` pass first. Exceptions of the types in
    `ignore` count as "not yet" (a server that does not listen yet refuses connections).
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
        except ignore:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(interval)


def wait_for_server(process, ready, seconds, what, ignore=(OSError,)):
    """Poll `ready()` until the server started as `process` answers, and return what it
    returned; errors of the types in `ignore` (refused connections) mean "not yet". Fails
    at once, with the exit status, if the process ends first."""

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        return ready()

    return poll(answers, seconds, f"{what} did not answer", ignore=ignore)


def accepts_connections(port, host="127.0.0.1"):
    """True once something listens on the port (raises OSError before)."""
    with socket.create_connection((host, port), timeout=1):
        return True


def terminate(process, timeout=30):
    """SIGTERM, then SIGKILL if it has not exited by the deadline."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def end_postgres_sessions(admin, where, parameters=()):
    """pg_terminate_backend() for every session matching the SQL condition `where` on
    pg_stat_activity (never the admin connection's own); returns how many were ended."""
    return admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        f" WHERE pid <> pg_backend_pid() AND ({where})",
        parameters,
    ).fetchone()[0]
