"""Instructions a request costs the service and the baseline, counted by valgrind:
`python3 bench/instructions.py --help`.

On a shared machine the same code's req/s ratio (bench/run.py) moves by 0.1 or more from
one run to the next. The number of instructions a request executes does not move with the
machine's load, so a change in the request path shows here as a figure that repeats. It is
not the whole story: it leaves out gunicorn, the kernel and the time spent waiting for
memory, which bench/run.py measures.

Each app runs in a process of its own, as a gunicorn worker would build it (the checked-in
settings, APP_ENV=production, a metrics folder), under `valgrind --tool=callgrind`. Only the
measured requests are counted: they are made inside functools.reduce, and callgrind counts
only while that function runs (--toggle-collect); start-up, imports and a warm-up of the
same requests are not. Requests are WSGI calls with the headers wrk sends (bench/common.lua).
"""

import argparse
import concurrent.futures
import functools
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python3 bench/instructions.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run import (
    POSTGRES_URL,
    ROOT,
    ensure_tool,
    list_path,
    prepared_database,
    production_environment,
    say,
    use_virtualenv,
)

SCENARIOS = ("get", "put", "list")
WARMUP = 200


def request_environs(scenario, count, rows, token, service):
    """The WSGI environs of `count` requests, as wrk's scripts make them."""
    from werkzeug.test import EnvironBuilder

    numbers = random.Random(7919)
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
    environs = []
    for number in range(count):
        if scenario == "get":
            options = {"path": f"/resources/data/{numbers.randint(1, rows)}"}
        elif scenario == "put":
            body = {"name": f"bench {number}", "age": number % 151, "locale": "NYC"}
            options = {"path": "/resources/data/", "method": "PUT", "json": body}
        else:
            options = {"path": list_path(scenario, rows, service)}
        builder = EnvironBuilder(base_url="http://127.0.0.1:8000", headers=headers, **options)
        environs.append(builder.get_environ())
    return environs


def measure_in_this_process(arguments):
    """The child's part: build the app, warm up, then make the counted requests."""
    if arguments.app == "service":
        from api import create_app
    else:
        from bench.baseline import create_app
    app = create_app()
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(int(status[:3]))

    def call(_, environ):
        response = app(environ, start_response)
        b"".join(response)
        if hasattr(response, "close"):
            response.close()

    service = arguments.app == "service"
    token = os.environ["BENCH_TOKEN"]
    scenario, rows = arguments.scenario, arguments.rows
    for environ in request_environs(scenario, WARMUP, rows, token, service):
        call(None, environ)
    environs = request_environs(scenario, arguments.requests, rows, token, service)
    functools.reduce(call, environs, None)  # what callgrind counts
    failed = [status for status in statuses if not 200 <= status < 300]
    if failed:
        sys.exit(f"[bench] {arguments.app} {arguments.scenario}: answered {failed[:5]}")


def counted_instructions(output_file):
    for line in Path(output_file).read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
            if total == 0:
                # --toggle-collect names a C function: a Python built without symbols
                # (stripped) gives callgrind nothing to match.
                sys.exit("[bench] callgrind counted nothing: no symbol functools_reduce here")
            return total
    sys.exit(f"[bench] no total in {output_file}")


def count(app, scenario, database, environment, options):
    """Instructions a request of `scenario` costs `app`, counted in a child under valgrind."""
    label = f"{database.kind}-{app}-{scenario}"
    output_file = options.workdir / f"callgrind-{label}.out"
    metrics_folder = options.workdir / f"metrics-{label}"
    metrics_folder.mkdir()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=functools_reduce",
        f"--callgrind-out-file={output_file}",
        sys.executable,
        __file__,
        "--child",
        app,
        "--scenario",
        scenario,
        "--rows",
        str(options.rows),
        "--requests",
        str(options.requests),
    ]
    child_environment = {
        **environment,
        "DATABASE_URL": database.url,
        "BENCH_TOKEN": database.token,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_folder),
        # As in a gunicorn worker: no Alembic (config.py, MIGRATION_COMMANDS).
        "SERVER_SOFTWARE": "gunicorn/bench",
        # Under valgrind a request takes some 50 times as long, so the log writer thread's
        # wake-ups (every 100 ms, api/logs.py) would be counted 50 times as often a request;
        # with this delay the lines wait, as they do in a worker between two writes.
        "LOG_FLUSH_MS": "60000",
        "PYTHONHASHSEED": "0",
    }
    result = subprocess.run(
        command, cwd=ROOT, env=child_environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if result.returncode != 0:
        sys.exit(f"[bench] {app} {scenario} failed:\n{result.stderr.decode()[-3000:]}")
    return round(counted_instructions(output_file) / options.requests)


def markdown(kind, rows, results, requests):
    lines = [
        f"`python3 bench/instructions.py --databases {kind}`: instructions a request (valgrind "
        f"callgrind, {requests} requests after a warm-up of {WARMUP}), {rows:,} rows.",
        "",
        "| database | scenario | service | baseline | baseline / service |",
        "|---|---|---:|---:|---:|",
    ]
    for scenario, counted in results.items():
        service, baseline = counted["service"], counted["baseline"]
        lines.append(
            f"| {kind} | {scenario} | {service:,} | {baseline:,} | {baseline / service:.2f} |"
        )
    return "\n".join(lines)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite", help="sqlite,postgres (sqlite)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="get,put,list")
    parser.add_argument("--rows", type=int, default=10_000, help="people loaded (10,000)")
    parser.add_argument("--requests", type=int, default=300, help="counted requests (300)")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="server on which the benchmark creates and drops its own databases",
    )
    parser.add_argument(
        "--child", choices=("service", "baseline"), dest="app", help=argparse.SUPPRESS
    )
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    if arguments.app:
        measure_in_this_process(arguments)
        return
    use_virtualenv()
    ensure_tool("valgrind")
    scenarios = [scenario for scenario in arguments.scenarios.split(",") if scenario]
    with tempfile.TemporaryDirectory(prefix="people-bench-instructions-") as folder:
        arguments.workdir = Path(folder)
        environment = production_environment(arguments.workdir)
        report = {}
        for kind in arguments.databases.split(","):
            with prepared_database(kind, arguments.rows, kind, arguments, environment) as database:
                results = {}
                # The two apps side by side: the counts do not depend on what else runs.
                with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                    for scenario in scenarios:
                        counting = {
                            app: pool.submit(count, app, scenario, database, environment, arguments)
                            for app in ("service", "baseline")
                        }
                        results[scenario] = {app: job.result() for app, job in counting.items()}
                        say(f"{kind} {scenario}: {results[scenario]}")
            report[kind] = results
            print(markdown(kind, arguments.rows, results, arguments.requests) + "\n")
        print(json.dumps(report), file=sys.stderr)


if __name__ == "__main__":
    main()
