"""Set up and run People API locally, run its test suite, or check a running instance:
`python3 dev.py run|test|smoke URL`.

Needs nothing but python3: it makes the virtualenv, installs the pinned requirements (the
service's for `run`, the service's and the test tools' for `test`), and for the tests starts
a private, throw-away Postgres cluster and makes sure Prometheus's tools, PgBouncer, nginx
and Redis are there (installing Debian's packages when they are missing). It never changes
the configuration of a database server already on the machine. Standard library only, since it
runs before anything is installed.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
REQUIREMENTS = ROOT / "requirements.txt"  # what the service runs (and the platforms install)
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"  # that, plus the test and lint tools


def say(message):
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def run(*command, check=True, **kwargs):
    say(" ".join(str(part) for part in command))
    subprocess.run(command, check=check, **kwargs)


def as_root(*command, check=True):
    """Run a system command as root, through sudo when we are not root already."""
    if os.geteuid() == 0:
        run(*command, check=check)
    elif shutil.which("sudo"):
        run("sudo", *command, check=check)
    else:
        sys.exit(f"[dev] please run as root: {' '.join(command)}")


def apt_install(*packages):
    if not shutil.which("apt-get"):
        sys.exit(f"[dev] no apt-get here: install {', '.join(packages)} by hand and retry")
    environment = ["env", "DEBIAN_FRONTEND=noninteractive"]
    as_root(*environment, "apt-get", "update", "-q")
    # Without recommends: prometheus would bring (and start) a node exporter too.
    as_root(*environment, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages)


def ensure_virtualenv(requirements):
    """Create .venv and install a requirements file; skipped when nothing changed."""
    if not (BIN / "python").exists():
        try:
            import ensurepip  # noqa: F401  Debian ships it in a separate package
        except ImportError:
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            apt_install(f"python{version}-venv")
        run(sys.executable, "-m", "venv", VENV)
    stamp = VENV / "requirements.sha256"
    wanted = hashlib.sha256()
    for path in (requirements, REQUIREMENTS):  # the dev file includes the runtime one
        wanted.update(path.read_bytes())
    if not stamp.exists() or stamp.read_text() != wanted.hexdigest():
        run(BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
        run(BIN / "python", "-m", "pip", "install", "-q", "-r", requirements)
        stamp.write_text(wanted.hexdigest())


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def postgres_binaries():
    """The newest installed Postgres's bin folder (Debian keeps them out of PATH)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return versions[-1].parent if versions else None


class PrivatePostgres:
    """A throw-away Postgres cluster for the test suite: its own folder, a free port on
    127.0.0.1, trust authentication for the `postgres` superuser, a database `test`.

    Nothing of a system server is touched: the tests create and drop their databases here,
    and the folder is deleted afterwards. As root the server runs as the `postgres` user
    (Postgres refuses to run as root).
    """

    def __init__(self):
        if postgres_binaries() is None:
            apt_install("postgresql")
        self.bin = postgres_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="people-api-postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def as_owner(self, *command):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        run(*prefix, *command, stdout=subprocess.DEVNULL)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self.as_owner(
            self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        # fsync off: a crash of this cluster loses nothing anyone needs, and it is faster.
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.folder / "server.log"
        self.as_owner(self.bin / "pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "start")
        deadline = time.monotonic() + 30
        while not answers(self.port):
            if time.monotonic() > deadline:
                sys.exit(f"[dev] the test Postgres did not start within 30 s; see {log}")
            time.sleep(0.2)
        self.as_owner(self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "postgres", "test")

    def stop(self):
        try:
            self.as_owner(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # never started, or already gone: the folder goes either way
        shutil.rmtree(self.folder, ignore_errors=True)


# Debian packages the tests start servers from, each on free loopback ports of its own:
# package -> the programs the tests run from it. The packages start a service of their own
# (Prometheus on 9090, PgBouncer on 6432, nginx on 80, Redis on 6379), which the tests do
# not use: it is stopped again right after the install.
TEST_SERVER_PACKAGES = {
    "prometheus": ("prometheus", "promtool"),  # the metrics tests
    "pgbouncer": ("pgbouncer",),  # the pooler tests, in front of the test Postgres
    "nginx": ("nginx",),  # the proxy tests, in front of gunicorn
    "redis-server": ("redis-server",),  # the rate-limit tests' shared counters
}
# Debian packages of programs the tests run that start no service: the /docs page's
# real-browser tests (headless Chromium, driven by selenium through chromedriver).
TEST_PROGRAM_PACKAGES = {
    "chromium": ("chromium",),
    "chromium-driver": ("chromedriver",),
}


def installed(program):
    # /usr/sbin, where pgbouncer and nginx live, is not on every user's PATH.
    return bool(shutil.which(program) or Path("/usr/sbin", program).exists())


def missing_packages(packages):
    """The packages of a {package: programs} table that are not all installed."""
    return [name for name, programs in packages.items() if not all(map(installed, programs))]


def ensure_test_servers():
    missing = missing_packages(TEST_SERVER_PACKAGES)
    programs = missing_packages(TEST_PROGRAM_PACKAGES)
    if not missing and not programs:
        return
    apt_install(*missing, *programs)
    for service in missing:
        if Path("/run/systemd/system").exists():
            as_root("systemctl", "disable", "--now", service)
        elif shutil.which("service"):  # no systemd: the package's init script may have
            as_root("service", service, "stop", check=False)  # started it


def flask(*arguments, **kwargs):
    run(BIN / "flask", "--app", "api", *arguments, cwd=ROOT, **kwargs)


def command_run():
    ensure_virtualenv(REQUIREMENTS)
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
    ensure_virtualenv(DEV_REQUIREMENTS)
    ensure_test_servers()
    run(BIN / "ruff", "check", ".", cwd=ROOT)
    if os.environ.get("TEST_POSTGRES_URL"):  # a server of your own choosing
        run(BIN / "python", "-m", "pytest", *pytest_arguments, cwd=ROOT)
        return
    postgres = PrivatePostgres()
    try:
        postgres.start()
        environment = {**os.environ, "TEST_POSTGRES_URL": postgres.url}
        run(BIN / "python", "-m", "pytest", *pytest_arguments, cwd=ROOT, env=environment)
    finally:
        postgres.stop()


class SmokeFailure(Exception):
    pass


def smoke_request(base_url, method, path, token=None, body=None, headers=None):
    """(status, headers, parsed JSON or text) of one request; 4xx and 5xx included."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    call = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=15) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    except (urllib.error.URLError, OSError) as error:
        raise SmokeFailure(f"{method} {path}: no answer ({error})") from None
    text = raw.decode("utf-8", "replace")
    if answer_headers.get_content_type().endswith("json") and text:
        return status, answer_headers, json.loads(text)
    return status, answer_headers, text


def expect(what, condition, answer):
    if not condition:
        status, _, body = answer
        raise SmokeFailure(f"{what}: got {status} {str(body)[:300]}")
    print(f"ok   {what}", flush=True)


def smoke_checks(base_url, token, metrics_token):
    """Health, readiness, the document, then create, read, list, patch and delete one test
    person of its own; /metrics when a metrics token is given. SmokeFailure says what failed."""
    for path, status in (("/healthz", "alive"), ("/readyz", "ready")):
        answer = smoke_request(base_url, "GET", path)
        expect(f"GET {path} is 200 {status}", answer[0] == 200 and answer[2] == {"status": status},
               answer)
    answer = smoke_request(base_url, "GET", "/openapi.json")
    expect("GET /openapi.json is an OpenAPI 3.1 document", answer[0] == 200
           and isinstance(answer[2], dict) and answer[2].get("openapi") == "3.1.0", answer)
    name = f"smoke-test {uuid.uuid4().hex}"
    person = {"name": name, "age": 42, "locale": "SMOKE"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    answer = smoke_request(base_url, "PUT", "/resources/data", token, person, key)
    created = answer[0] == 201 and isinstance(answer[2], dict) and "Location" in answer[1]
    expect(f"PUT /resources/data creates {name!r}", created, answer)
    location = answer[1]["Location"]
    try:
        answer = smoke_request(base_url, "GET", location, token)
        etag = answer[1].get("ETag")
        expect(f"GET {location} reads it back", answer[0] == 200 and etag
               and {k: answer[2].get(k) for k in person} == person, answer)
        query = "/resources/data?" + urllib.parse.urlencode({"name_prefix": name, "count": "true"})
        answer = smoke_request(base_url, "GET", query, token)
        listed = answer[0] == 200 and [item["name"] for item in answer[2]["items"]] == [name]
        expect("GET /resources/data?name_prefix=... lists it", listed, answer)
        patch = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
        answer = smoke_request(base_url, "PATCH", location, token, {"age": 43}, patch)
        expect(f"PATCH {location} changes its age", answer[0] == 200
               and answer[2].get("age") == 43 and answer[1].get("ETag") != etag, answer)
        etag = answer[1].get("ETag")
    finally:  # the test person is deleted whatever failed since it was made
        answer = smoke_request(base_url, "DELETE", location, token, headers={"If-Match": "*"})
        expect(f"DELETE {location} deletes it", answer[0] == 200, answer)
    answer = smoke_request(base_url, "GET", location, token)
    expect(f"GET {location} is 404 now", answer[0] == 404, answer)
    if metrics_token:
        answer = smoke_request(base_url, "GET", "/metrics", metrics_token)
        expect("GET /metrics serves the metrics", answer[0] == 200
               and "people_api_info" in str(answer[2]), answer)


def command_smoke(arguments):
    """A short, self-cleaning contract check of a running instance, after a deploy."""
    if len(arguments) != 1 or not arguments[0].startswith(("http://", "https://")):
        sys.exit("usage: PEOPLE_API_TOKEN=... [PEOPLE_API_METRICS_TOKEN=...] "
                 "python3 dev.py smoke https://your-app.example.com")
    token = os.environ.get("PEOPLE_API_TOKEN")
    if not token:
        sys.exit("[smoke] set PEOPLE_API_TOKEN to a token with the write role")
    base_url = arguments[0].rstrip("/")
    try:
        smoke_checks(base_url, token, os.environ.get("PEOPLE_API_METRICS_TOKEN"))
    except SmokeFailure as failure:
        print(f"FAIL {failure}", flush=True)
        sys.exit(1)
    print(f"[smoke] {base_url} passed", flush=True)


def main():
    command, *rest = sys.argv[1:] or ["help"]
    if command == "run":
        command_run()
    elif command == "test":
        command_test(rest)
    elif command == "smoke":
        command_smoke(rest)
    else:
        sys.exit("usage: python3 dev.py run | test [pytest arguments] | smoke URL")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
