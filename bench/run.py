"""Benchmark People API against a bare baseline with wrk: `python3 bench/run.py --help`.

For each database it loads the rows, starts the service exactly as production does
(gunicorn with the checked-in gunicorn.conf.py, `api:create_app()`, APP_ENV=production,
a real write token, a metrics folder of its own) and the baseline (bench/baseline.py, same
gunicorn settings, same durability), then runs the wrk scenarios on both, interleaved, at
each number of connections, and reports medians. After every run of the service it checks
the service's request counter (bench/counter.py) against what wrk completed.
Results go to bench/results/latest.json and latest.md.
"""

import argparse
import contextlib
import json
import os
import runpy
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as `python3 bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.counter import counter_matches, requests_counted, settled_count

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".venv"
RESULTS = BENCH / "results"
SCENARIOS = ("get", "put", "mix", "list", "list_deep")
# The targets: service/baseline ratios, and absolute limits.
TARGETS = {
    "get": {"rps": 0.75, "p99": 1.5},
    "put": {"rps": 0.6},
    "mix": {},
    "list": {"rps": 0.7},
    "list_deep": {"rps": 0.7},
}
# The listing's scenarios run bench/list.lua on a path of each server's: the first page of
# 100 in id order, and the page after the row at DEEP_FRACTION of the table (900,000 of
# 1,000,000), reached by the cursor the service would have handed out there.
LIST_SCENARIOS = {"list": "list", "list_deep": "list"}
DEEP_FRACTION = 0.9
LIST_PAGE = 100
RSS_LIMIT_MB = 70
GROWTH_LIMIT = 0.20
SERVICE_APP = "api:create_app()"
BASELINE_APP = "bench.baseline:create_app()"
# The server on which the benchmarks create and drop their own databases.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LOCALES = ("NYC", "LDN", "SF", "BER", "TYO", "Zürich")


def list_path(scenario, rows, service):
    """The path a list scenario asks each server for."""
    path = f"/resources/data?limit={LIST_PAGE}"
    if scenario == "list":
        return path
    position = int(rows * DEEP_FRACTION)
    if not service:
        return f"{path}&after={position}"
    from api.cursors import encode_cursor, query_digest

    return f"{path}&cursor={encode_cursor(query_digest({}, 'id'), position, None)}"


def say(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def use_virtualenv():
    """Run under the project's .venv, which has the service's packages."""
    python = VENV / "bin" / "python"
    if not python.exists():
        sys.exit("[bench] no .venv: run `python3 dev.py test` once to create it")
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(python, [str(python), *sys.argv])


def ensure_tool(name):
    """A command from the Debian package of the same name (wrk, valgrind), installed if
    missing and this is root on Debian."""
    if shutil.which(name):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"[bench] {name} is missing: install it (Debian: `sudo apt-get install {name}`)")
    say(f"installing {name} (Debian package)")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", name]):
        subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_concurrency(environment):
    """Workers and threads as the checked-in gunicorn.conf.py computes them."""
    saved = dict(os.environ)
    os.environ.update(environment)
    # Set, so that reading the file makes no temporary metrics folder of its own.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tempfile.gettempdir()) / "unused")
    try:
        settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return settings.get("workers", 1), settings.get("threads", 1)


def generated_people(count):
    for number in range(1, count + 1):
        yield f"person {number}", number % 151, LOCALES[number % len(LOCALES)]


class SqliteDatabase:
    kind = "sqlite"

    def __init__(self, folder, label):
        self.path = folder / f"{label}.db"
        self.url = f"sqlite:///{self.path}"

    def load(self, rows):
        connection = sqlite3.connect(self.path)
        with connection:
            connection.executemany(
                "INSERT INTO people (name, age, locale) VALUES (?, ?, ?)", generated_people(rows)
            )
        connection.execute("ANALYZE")
        connection.close()

    def drop(self):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class PostgresDatabase:
    kind = "postgres"

    def __init__(self, server_url, label):
        import psycopg

        self.server_url = server_url
        self.name = f"people_bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = server_url.rsplit("/", 1)[0] + f"/{self.name}"

    def load(self, rows):
        import psycopg

        with psycopg.connect(self.url) as connection:
            with connection.cursor().copy("COPY people (name, age, locale) FROM STDIN") as copy:
                for row in generated_people(rows):
                    copy.write_row(row)
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE people")

    def drop(self):
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def flask_command(database_url, environment, *arguments):
    command = [str(VENV / "bin" / "flask"), "--app", "api", *arguments]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**environment, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"[bench] {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def prepared_database(kind, rows, label, options, environment):
    """A fresh, migrated database holding `rows` people and a write token."""
    if kind == "sqlite":
        database = SqliteDatabase(options.workdir, label)
    else:
        database = PostgresDatabase(options.postgres_url, label)
    try:
        started = time.monotonic()
        flask_command(database.url, environment, "db", "upgrade")
        database.load(rows)
        output = flask_command(
            database.url, environment, "tokens", "create", "bench", "--role", "write"
        )
        database.token = output.strip().splitlines()[-1]
        output = flask_command(
            database.url, environment, "tokens", "create", "bench-metrics", "--role", "metrics"
        )
        database.metrics_token = output.strip().splitlines()[-1]
        say(f"{kind}: {rows:,} rows loaded in {time.monotonic() - started:.1f} s")
        yield database
    finally:
        database.drop()


class Server:
    def __init__(self, label, process, base_url, metrics_token=None, service=False):
        self.label = label
        self.service = service
        self.process = process
        self.base_url = base_url
        self.metrics_token = metrics_token  # the service's; the baseline has no metrics

    def worker_pids(self):
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def cpu_seconds(self):
        """User plus system CPU time the workers have used so far."""
        ticks = 0
        for pid in self.worker_pids():
            # Fields 14 and 15 of /proc/<pid>/stat, after the ")" that ends the name.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def peak_worker_rss_mb(self):
        """VmHWM, the peak resident set, of the largest worker."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return round(max(peaks), 1)


def wait_until_answering(server, deadline_seconds=30):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"[bench] {server.label} exited with {server.process.returncode}")
        try:
            urllib.request.urlopen(server.base_url + "/", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"[bench] {server.label} did not answer within {deadline_seconds} s")


# Extra gunicorn command-line options for both servers (--gunicorn-option): for trying a
# setting before it goes into gunicorn.conf.py; empty means exactly the checked-in config.
GUNICORN_OPTIONS = []


@contextlib.contextmanager
def serving(label, app, database, environment, workdir):
    """gunicorn with the checked-in config, on a free loopback port.

    Each server gets a metrics folder of its own, as each production server has one:
    gunicorn.conf.py empties the folder when gunicorn starts, so a shared one would lose
    the first server's numbers when the second starts.
    """
    port = free_port()
    metrics_folder = workdir / f"metrics-{label}"
    metrics_folder.mkdir()
    command = [str(VENV / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", *GUNICORN_OPTIONS]
    command += ["--bind", f"127.0.0.1:{port}", app]
    with open(workdir / f"{label}.log", "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **environment,
                "DATABASE_URL": database.url,
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_folder),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    metrics_token = database.metrics_token if app == SERVICE_APP else None
    server = Server(
        label, process, f"http://127.0.0.1:{port}", metrics_token, service=app == SERVICE_APP
    )
    try:
        wait_until_answering(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_wrk(server, scenario, seconds, connections, options, database, rows):
    """One wrk run; returns the summary the Lua `done` hook prints.

    For the service it also checks that its request counter grew by the requests wrk
    completed (`counter_ok`).
    """
    command = ["wrk", "--latency", "-t", str(options.wrk_threads), "-c", str(connections)]
    script = LIST_SCENARIOS.get(scenario, scenario)
    command += ["-d", f"{seconds}s", "--timeout", "5s", "-s", f"{script}.lua"]
    command += [server.base_url, str(rows), database.token]
    if scenario in LIST_SCENARIOS:
        command.append(list_path(scenario, rows, server.service))
    if server.metrics_token:
        counted_before = requests_counted(server.base_url, server.metrics_token)
    cpu_before = server.cpu_seconds()
    result = subprocess.run(
        command, cwd=BENCH, capture_output=True, text=True, timeout=seconds + 60
    )
    cpu_seconds = server.cpu_seconds() - cpu_before
    if result.returncode != 0:
        sys.exit(f"[bench] wrk failed:\n{result.stdout}{result.stderr}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    summary = json.loads(line)
    counter = {}
    if server.metrics_token:
        counted = settled_count(server.base_url, server.metrics_token) - counted_before
        counter["counted"] = round(counted)
        # A request wrk gave up on (a socket error) may still be answered and counted.
        unanswered = connections + summary["socket_errors"]
        counter["counter_ok"] = counter_matches(counted, summary["requests"], unanswered)
        if not counter["counter_ok"]:
            say(
                f"{server.label}: the request counter grew by {counted:.0f}, "
                f"wrk completed {summary['requests']} requests"
            )
    return {
        "requests": summary["requests"],
        **counter,
        "rps": round(summary["requests"] / (summary["duration_us"] / 1e6), 1),
        "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "non_2xx": summary["non_2xx"],
        "socket_errors": summary["socket_errors"],
        # The workers' CPU time per request: unlike req/s, hardly moved by other load.
        "cpu_us": round(cpu_seconds / max(summary["requests"], 1) * 1e6),
    }


def production_environment(workdir):
    """What a production deployment sets; anything it turns on is on for the service.

    APP_ENV=production is how the app knows it is deployed. Each server gets its own
    metrics folder (serving), as each production server has its own.
    """
    return {
        **os.environ,
        "APP_ENV": "production",
        # The benchmark's SQLite file is on this machine's own disk.
        "SQLITE_PERSISTENT_DISK": "1",
        "INSTANCE_PATH": str(workdir / "instance"),
        # The one benchmark token makes thousands of requests a second: production's default
        # limits would refuse nearly all. `--service-env RATE_LIMIT=...` measures them.
        "RATE_LIMIT": "off",
    }


def summarise(runs):
    """Medians over the rounds, and the sums of the error counts."""
    return {
        "rps": round(statistics.median(run["rps"] for run in runs), 1),
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 2),
        "p99_ms": round(statistics.median(run["p99_ms"] for run in runs), 2),
        "cpu_us": round(statistics.median(run["cpu_us"] for run in runs)),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
        "runs": runs,
    }


def compare(kind, options, environment):
    """Service and baseline on the same data, interleaved round by round."""
    results = {"scenarios": []}
    rows = options.rows
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(
            prepared_database(kind, options.rows, kind, options, environment)
        )
        servers = {
            "service": stack.enter_context(
                serving(f"{kind}-service", SERVICE_APP, database, environment, options.workdir)
            ),
            "baseline": stack.enter_context(
                serving(f"{kind}-baseline", BASELINE_APP, database, environment, options.workdir)
            ),
        }
        for name, server in servers.items():
            warmup = run_wrk(
                server, "mix", options.warmup, options.connections[0], options, database, rows
            )
            results[f"{name}_warmup"] = warmup
        runs = {
            (connections, scenario): {"service": [], "baseline": []}
            for connections in options.connections
            for scenario in options.scenarios
        }
        for round_number in range(options.rounds):
            # Alternate who goes first, so a drift in the machine's load favours neither.
            order = ["service", "baseline"] if round_number % 2 == 0 else ["baseline", "service"]
            for connections, scenario in runs:
                for name in order:
                    server = servers[name]
                    seconds = options.duration
                    run = run_wrk(server, scenario, seconds, connections, options, database, rows)
                    runs[connections, scenario][name].append(run)
                    say(
                        f"{kind} {scenario} {connections} connections {name} round "
                        f"{round_number + 1}: {run['rps']:.0f} req/s, p99 {run['p99_ms']:.1f} ms, "
                        f"non-2xx {run['non_2xx']}"
                    )
        for (connections, scenario), by_server in runs.items():
            service, baseline = summarise(by_server["service"]), summarise(by_server["baseline"])
            results["scenarios"].append(
                {
                    "connections": connections,
                    "scenario": scenario,
                    "service": service,
                    "baseline": baseline,
                    "ratio": {
                        "rps": round(service["rps"] / baseline["rps"], 2),
                        "p50": round(service["p50_ms"] / baseline["p50_ms"], 2),
                        "p99": round(service["p99_ms"] / baseline["p99_ms"], 2),
                        # Requests per CPU second, service/baseline: the req/s ratio that a
                        # saturated machine would show, without the noise of other load.
                        "cpu": round(baseline["cpu_us"] / service["cpu_us"], 2),
                    },
                }
            )
        results["peak_worker_rss_mb"] = {
            name: server.peak_worker_rss_mb() for name, server in servers.items()
        }
    return results


def growth(kind, options, environment):
    """The service's GET on a small and on a large table, interleaved."""
    sizes = (options.growth_small, options.growth_large)
    runs = {size: [] for size in sizes}
    with contextlib.ExitStack() as stack:
        servers = {}
        for size in sizes:
            label = f"growth{size}"
            database = stack.enter_context(
                prepared_database(kind, size, label, options, environment)
            )
            server = stack.enter_context(
                serving(f"{kind}-{label}", SERVICE_APP, database, environment, options.workdir)
            )
            servers[size] = (server, database)
            run_wrk(server, "get", options.warmup, options.connections[0], options, database, size)
        for round_number in range(options.rounds):
            order = sizes if round_number % 2 == 0 else sizes[::-1]
            for size in order:
                server, database = servers[size]
                run = run_wrk(
                    server, "get", options.duration, options.connections[0], options, database, size
                )
                runs[size].append(run)
                say(f"{kind} growth {size:,} rows: {run['rps']:.0f} req/s")
    small, large = summarise(runs[sizes[0]]), summarise(runs[sizes[1]])
    return {
        "small_rows": sizes[0],
        "large_rows": sizes[1],
        "small": small,
        "large": large,
        "rps_change": round(large["rps"] / small["rps"] - 1, 3),
        "p99_change": round(large["p99_ms"] / small["p99_ms"] - 1, 3),
    }


def verdict(passed):
    return "yes" if passed else "**no**"


def counter_checks(results, growth_result=None):
    """Whether the service's request counter agreed with wrk, for each run of the service."""
    runs = [results["service_warmup"]]
    runs += [run for result in results["scenarios"] for run in result["service"]["runs"]]
    if growth_result:
        runs += growth_result["small"]["runs"] + growth_result["large"]["runs"]
    return [run["counter_ok"] for run in runs]


def markdown(report):
    """The readable table: medians, ratios and whether each target is met."""
    lines = [
        f"{report['date']}, `{report['command']}`: {report['cpus']} CPUs, "
        f"{report['settings']['workers']} workers x {report['settings']['threads']} threads, "
        f"{' and '.join(map(str, report['settings']['connections']))} wrk connections, "
        f"{report['rounds']} rounds of "
        f"{report['duration']} s (medians), {report['rows']:,} rows"
        + "".join(f", `{option}`" for option in report["settings"]["gunicorn_options"])
        + ".",
        "",
        "| database | connections | scenario | service req/s | baseline req/s | ratio "
        "| service p50 / p99 ms | baseline p50 / p99 ms | p99 ratio "
        "| CPU µs/request service / baseline (ratio) | non-2xx | target met |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, results in report["databases"].items():
        for result in results["scenarios"]:
            scenario = result["scenario"]
            service, baseline, ratio = result["service"], result["baseline"], result["ratio"]
            target = TARGETS[scenario]
            errors = service["non_2xx"] + service["socket_errors"]
            passed = errors == 0
            passed &= ratio["rps"] >= target.get("rps", 0)
            passed &= ratio["p99"] <= target.get("p99", float("inf"))
            lines.append(
                f"| {kind} | {result['connections']} | {scenario} | {service['rps']:.0f} "
                f"| {baseline['rps']:.0f} "
                f"| {ratio['rps']:.2f} | {service['p50_ms']:.1f} / {service['p99_ms']:.1f} "
                f"| {baseline['p50_ms']:.1f} / {baseline['p99_ms']:.1f} | {ratio['p99']:.2f} "
                f"| {service['cpu_us']} / {baseline['cpu_us']} ({ratio['cpu']:.2f}) "
                f"| {errors} / {baseline['non_2xx'] + baseline['socket_errors']} "
                f"| {verdict(passed)} |"
            )
    lines.append("")
    for kind, results in report["databases"].items():
        rss = results["peak_worker_rss_mb"]
        lines.append(
            f"- {kind}: peak RSS of one worker {rss['service']} MB (baseline "
            f"{rss['baseline']} MB), limit {RSS_LIMIT_MB} MB: "
            f"{verdict(rss['service'] <= RSS_LIMIT_MB)}"
        )
        checks = counter_checks(results, report.get("growth", {}).get(kind))
        lines.append(
            f"- {kind}: the service's request counter (from /metrics) grew by the requests "
            f"wrk completed, within those in flight, in {sum(checks)} of {len(checks)} runs "
            f"(warm-up included): {verdict(all(checks))}"
        )
    for kind, results in report["databases"].items():
        lines += depth_lines(kind, results["scenarios"])
    for kind, result in report.get("growth", {}).items():
        change = result["rps_change"]
        lines.append(
            f"- {kind} growth: GET {result['small']['rps']:.0f} req/s at "
            f"{result['small_rows']:,} rows, {result['large']['rps']:.0f} at "
            f"{result['large_rows']:,} ({change:+.0%} req/s, p99 {result['p99_change']:+.0%}), "
            f"limit {GROWTH_LIMIT:.0%}: {verdict(abs(change) < GROWTH_LIMIT)}"
        )
    return "\n".join(lines) + "\n"


def depth_lines(kind, scenarios):
    """The service's deep list page against its first, at each number of connections."""
    by_key = {(result["connections"], result["scenario"]): result for result in scenarios}
    lines = []
    for (connections, scenario), result in by_key.items():
        first = by_key.get((connections, "list")) if scenario == "list_deep" else None
        if first is None:
            continue
        change = result["service"]["rps"] / first["service"]["rps"] - 1
        lines.append(
            f"- {kind} list depth ({connections} connections): the page after row "
            f"{DEEP_FRACTION:.0%} of the table {result['service']['rps']:.0f} req/s, the first "
            f"page {first['service']['rps']:.0f} ({change:+.0%}), limit {GROWTH_LIMIT:.0%}: "
            f"{verdict(abs(change) < GROWTH_LIMIT)}"
        )
    return lines


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="people loaded (100,000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per server")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=",".join(SCENARIOS)
    )
    parser.add_argument(
        "--connections",
        help="wrk connection counts, each a run of every scenario (default: workers x "
        "threads, and 64, as a platform's router holds many client connections)",
    )
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--gunicorn-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="extra gunicorn option for both servers, to try a setting (repeatable), "
        "e.g. --gunicorn-option=--worker-connections=32",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the servers (repeatable), e.g. --service-env REDIS_URL=redis://...",
    )
    parser.add_argument(
        "--growth", action="store_true", help="also run GET at 10,000 and 1,000,000 rows"
    )
    parser.add_argument("--growth-small", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument("--growth-large", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="server on which the benchmark creates and drops its own databases",
    )
    options = parser.parse_args()
    options.databases = [kind for kind in options.databases.split(",") if kind]
    options.scenarios = [scenario for scenario in options.scenarios.split(",") if scenario]
    unknown = set(options.databases) - {"sqlite", "postgres"} | set(options.scenarios) - set(
        SCENARIOS
    )
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    if options.connections is not None:
        counts = options.connections.split(",")
        if not all(count.isdigit() and int(count) > 0 for count in counts):
            parser.error("--connections takes positive whole numbers, such as 8,64")
        options.connections = [int(count) for count in counts]
    if not all("=" in setting for setting in options.service_env):
        parser.error("--service-env takes NAME=VALUE")
    return options


def main():
    use_virtualenv()
    options = parse_arguments()
    ensure_tool("wrk")
    GUNICORN_OPTIONS.extend(options.gunicorn_option)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="people-bench-") as workdir:
        options.workdir = Path(workdir)
        environment = production_environment(options.workdir)
        environment.update(setting.split("=", 1) for setting in options.service_env)
        workers, threads = gunicorn_concurrency(environment)
        # gthread takes at most `threads` connections a worker, so more only queue: as
        # they do behind a platform's router, which holds many client connections.
        options.connections = options.connections or [workers * threads, 64]
        report = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python3 bench/run.py", *sys.argv[1:]]),
            "cpus": os.cpu_count(),
            "rows": options.rows,
            "rounds": options.rounds,
            "duration": options.duration,
            "scenarios": options.scenarios,
            "settings": {
                "workers": workers,
                "threads": threads,
                "connections": options.connections,
                "gunicorn_options": options.gunicorn_option,
                "service_env": options.service_env,
            },
            "databases": {},
        }
        for kind in options.databases:
            report["databases"][kind] = compare(kind, options, environment)
        if options.growth:
            report["growth"] = {
                kind: growth(kind, options, environment) for kind in options.databases
            }
    report["seconds"] = round(time.monotonic() - started)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    say(f"done in {report['seconds']} s; bench/results/latest.json and latest.md written")


if __name__ == "__main__":
    main()
