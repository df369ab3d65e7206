"""`flask people import|export` as real processes: a progress bar on a terminal and only a
summary in a pipe; an import killed halfway (SIGTERM, SIGINT) leaves nothing stored."""

import os
import pty
import signal
import subprocess
import sys

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.server


def command(*args):
    return [sys.executable, "-m", "flask", "--app", "api", "people", *args]


def environment(database_url, tmp_path):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }


def write_csv(path, rows):
    with path.open("w") as file:
        file.write("name,age,locale\n")
        file.writelines(f"Person {i},{i % 151},L{i % 9}\n" for i in range(rows))


def run_on_terminal(args, env):
    """Run with stdout and stderr on a pseudo-terminal; (exit status, all it wrote)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not data:
            break
        output += data
    os.close(controller)
    return process.wait(timeout=120), output.decode()


def test_progress_bar_on_a_terminal_only(app, database_url, tmp_path):
    path = tmp_path / "people.csv"
    write_csv(path, 30_000)
    env = environment(database_url, tmp_path)
    status, output = run_on_terminal(command("import", str(path)), env)
    assert status == 0, output
    assert "Importing" in output and "rows, " in output and "/s" in output and "%" in output
    assert output.rstrip().endswith("Imported 30000 people; skipped 0 invalid rows.")

    status, output = run_on_terminal(command("export", str(tmp_path / "out.csv")), env)
    assert status == 0, output
    assert "Exporting" in output and "rows, " in output

    piped = subprocess.run(
        command("import", str(path)), cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert piped.returncode == 0
    assert piped.stdout == b"Imported 30000 people; skipped 0 invalid rows.\n"
    assert piped.stderr == b""
    piped = subprocess.run(
        command("export", "--locale", "L1"), cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert piped.returncode == 0
    assert piped.stderr == b"Exported 6668 people.\n"  # two imports of 30,000: 2 x 3,334


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_import_killed_halfway_stores_nothing(
    app, database_url, tmp_path, stored_people, signal_number
):
    env = environment(database_url, tmp_path)
    process = subprocess.Popen(
        command("import", "--format", "csv", "-"),
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write(b"name,age,locale\n")
        # A write returns once the pipe took it, so the importer has read all but the
        # pipe's and its own buffers (about 100 KB) of these 3 MB: many batches stored in
        # its open transaction.
        for i in range(100_000):
            process.stdin.write(f"Person {i},{i % 151},NYC\n".encode())
        process.stdin.flush()
        assert process.poll() is None  # still importing
        process.send_signal(signal_number)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            try:
                stream.close()
            except BrokenPipeError:
                pass
    # SIGTERM: 128 + 15, as a shell reports it; Ctrl-C: click's "Aborted!" and 1.
    assert process.returncode == (143 if signal_number == signal.SIGTERM else 1)
    assert stored_people() == []
    # The database is usable afterwards: nothing locked, nothing half-written.
    path = tmp_path / "people.csv"
    write_csv(path, 10)
    result = subprocess.run(command("import", str(path)), cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 0
    assert len(stored_people()) == 10
