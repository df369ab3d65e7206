"""Set up and run People API locally, or run its test suite: `python3 dev.py run|test`.

Needs nothing but python3: it makes the virtualenv, installs the pinned requirements,
and for the tests makes sure a Postgres server answers on 127.0.0.1:5432 and that
Prometheus's tools and nginx are there (installing Debian's packages when it can).
Standard library only, since it runs before anything is installed.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
REQUIREMENTS = ROOT / "requirements.txt"
POSTGRES_ADDRESS = ("127.0.0.1", 5432)


def say(message):
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def run(*command, **kwargs):
    say(" ".join(str(part) for part in command))
    subprocess.run(command, check=True, **kwargs)


def as_root(*command):
    """Run a system command as root, through sudo when we are not root already."""
    if os.geteuid() == 0:
        run(*command)
    elif shutil.which("sudo"):
        run("sudo", *command)
    else:
        sys.exit(f"[dev] please run as root: {' '.join(command)}")


def apt_install(*packages):
    if not shutil.which("apt-get"):
        sys.exit(f"[dev] no apt-get here: install {', '.join(packages)} by hand and retry")
    environment = ["env", "DEBIAN_FRONTEND=noninteractive"]
    as_root(*environment, "apt-get", "update", "-q")
    # Without recommends: prometheus would bring (and start) a node exporter too.
    as_root(*environment, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages)


def ensure_virtualenv():
    """Create .venv and install requirements.txt; skipped when nothing changed."""
    if not (BIN / "python").exists():
        try:
            import ensurepip  # noqa: F401  Debian ships it in a separate package
        except ImportError:
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            apt_install(f"python{version}-venv")
        run(sys.executable, "-m", "venv", VENV)
    stamp = VENV / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        run(BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
        run(BIN / "python", "-m", "pip", "install", "-q", "-r", REQUIREMENTS)
        stamp.write_text(wanted)


def postgres_answers():
    try:
        socket.create_connection(POSTGRES_ADDRESS, timeout=1).close()
        return True
    except OSError:
        return False


def ensure_postgres():
    """Use the server on 127.0.0.1:5432, or install and start Debian's one."""
    if os.environ.get("TEST_POSTGRES_URL") or postgres_answers():
        return
    say("no Postgres on 127.0.0.1:5432: starting one")
    if not shutil.which("pg_ctlcluster"):
        apt_install("postgresql")
    clusters = sorted(Path("/etc/postgresql").iterdir())
    version = clusters[-1].name
    config = clusters[-1] / "main"
    hba = config / "pg_hba.conf"
    trust = "host all postgres 127.0.0.1/32 trust"
    if trust not in hba.read_text():
        # A throw-away test server: the suite connects as postgres without a password.
        as_root("sed", "-i", f"1i {trust}", str(hba))
    # restart, not start: it also works when the package's install already started it.
    as_root("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart")
    deadline = time.monotonic() + 30
    while not postgres_answers():
        if time.monotonic() > deadline:
            sys.exit("[dev] Postgres did not start within 30 s")
        time.sleep(0.2)
    query = "SELECT 1 FROM pg_database WHERE datname = 'test'"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", query]
    exists = subprocess.run(psql, capture_output=True, text=True, check=True).stdout
    if exists.strip() != "1":
        run("createdb", "-h", "127.0.0.1", "-U", "postgres", "test")


def ensure_prometheus():
    """The metrics tests run promtool and a real Prometheus server (Debian's package)."""
    if not (shutil.which("promtool") and shutil.which("prometheus")):
        apt_install("prometheus")
        if Path("/run/systemd/system").exists():
            # The package starts a Prometheus service on port 9090; the tests start their own.
            as_root("systemctl", "disable", "--now", "prometheus")


def ensure_nginx():
    """The proxy tests put a real nginx (Debian's package) in front of gunicorn."""
    # /usr/sbin is not on every user's PATH.
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        apt_install("nginx")
        if Path("/run/systemd/system").exists():
            # The package starts nginx on port 80; the tests start their own, on free ports.
            as_root("systemctl", "disable", "--now", "nginx")
        elif Path("/run/nginx.pid").exists():
            # No systemd (a container): the package's init script started it.
            as_root("nginx", "-s", "stop")


def flask(*arguments, **kwargs):
    run(BIN / "flask", "--app", "api", *arguments, cwd=ROOT, **kwargs)


def command_run():
    ensure_virtualenv()
    flask("db", "upgrade")
    # A write token for the curl examples, made once and kept in instance/local-token.
    flask("tokens", "local")
    port = os.environ.get("PORT", "5000")
    say(f"serving on http://127.0.0.1:{port} (Ctrl-C stops); in another shell:")
    instance = os.environ.get("INSTANCE_PATH", "instance")
    say(f"  export TOKEN=$(cat {instance}/local-token)")
    gunicorn = [BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    os.chdir(ROOT)
    os.execv(gunicorn[0], [*map(str, gunicorn), "api:create_app()"])


def command_test(pytest_arguments):
    ensure_virtualenv()
    ensure_postgres()
    ensure_prometheus()
    ensure_nginx()
    run(BIN / "ruff", "check", ".", cwd=ROOT)
    run(BIN / "python", "-m", "pytest", *pytest_arguments, cwd=ROOT)


def main():
    command, *rest = sys.argv[1:] or ["help"]
    if command == "run":
        command_run()
    elif command == "test":
        command_test(rest)
    else:
        sys.exit("usage: python3 dev.py run | test [pytest arguments]")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
