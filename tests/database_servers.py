"""A private Postgres cluster and a PgBouncer, started by a test on free loopback ports.

Both refuse to run as root, so as root (CI) they run as the `postgres` user that
Debian's packages create, in a folder of their own under the system's temporary folder.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.helpers import terminate, wait_for_server
from tests.servers import free_port

SERVICE_USER = "postgres"


def as_service_user():
    """Popen arguments that drop root for the servers; nothing when not root."""
    return {"user": SERVICE_USER, "group": SERVICE_USER} if os.geteuid() == 0 else {}


@contextlib.contextmanager
def service_folder(prefix):
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, SERVICE_USER, SERVICE_USER)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def postgres_binaries():
    """Debian keeps initdb and postgres out of PATH, under one folder per version."""
    initdbs = Path("/usr/lib/postgresql").glob("*/bin/initdb")
    versions = sorted(initdbs, key=lambda path: int(path.parts[-3]))
    if not versions:
        raise RuntimeError("no initdb under /usr/lib/postgresql: `python3 dev.py test` installs it")
    return versions[-1].parent


def connect_when_up(url, process, deadline_seconds=30):
    """An autocommit connection, once the server takes one; fails early if it died."""
    return wait_for_server(
        process,
        lambda: psycopg.connect(url, autocommit=True, connect_timeout=2),
        deadline_seconds,
        "the server",
        ignore=(psycopg.OperationalError,),
    )


class Cluster:
    """A running private Postgres: an admin connection and the app role's URL."""

    def __init__(self, port, admin):
        self.port = port
        self.admin = admin
        self.app_url = f"postgresql://people@127.0.0.1:{port}/people"


@contextlib.contextmanager
def private_postgres(app_connections=20, superuser_connections=3):
    """A new cluster whose `people` role (no superuser) may open `app_connections`.

    That is how a hosted plan's limit looks from the app: the connections beyond it are
    reserved for superusers. Postgres counts superusers' connections against the others'
    share too, so there is one more for the admin connection a test watches with.
    """
    binaries = postgres_binaries()
    port = free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "max_connections": app_connections + superuser_connections + 1,
        "superuser_reserved_connections": superuser_connections,
        "fsync": "off",  # a throw-away cluster: nothing here must survive a power cut
        "shared_buffers": "16MB",
    }
    with service_folder("people-api-postgres-") as folder:
        data = folder / "data"
        subprocess.run(
            [binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            cwd=folder,
            check=True,
            capture_output=True,
            **as_service_user(),
        )
        command = [binaries / "postgres", "-D", data, "-p", str(port)]
        command += ["-c", f"unix_socket_directories={folder}"]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with open(folder / "postgres.log", "wb") as log:
            process = subprocess.Popen(
                command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, **as_service_user()
            )
        try:
            admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
            with connect_when_up(admin_url, process) as admin:
                admin.execute("CREATE ROLE people LOGIN")
                admin.execute("CREATE DATABASE people OWNER people")
                yield Cluster(port, admin)
        finally:
            process.send_signal(signal.SIGINT)  # fast shutdown: ends the sessions left
            terminate(process)


@contextlib.contextmanager
def pgbouncer(postgres_port, pool_size=4):
    """PgBouncer in transaction mode before the Postgres on 127.0.0.1:`postgres_port`;
    yields its own port.

    A small pool, so that many client connections share few server connections, as on a
    hosted pooler.
    """
    port = free_port()
    with service_folder("people-api-pgbouncer-") as folder:
        (folder / "users.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={postgres_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            "max_client_conn = 200\n"
        )
        with open(folder / "pgbouncer.log", "wb") as log:
            process = subprocess.Popen(
                [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", folder / "pgbouncer.ini"],
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                **as_service_user(),
            )
        try:
            url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
            connect_when_up(url, process).close()
            yield port
        finally:
            terminate(process)
