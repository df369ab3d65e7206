"""Bulk import and export timings: `python3 bench/bulk.py [--rows 1000000] [--repeat 2]`.

Generates CSV and NDJSON files of people in a temporary folder, imports each into a fresh
SQLite file and a fresh Postgres database (BENCH_POSTGRES_URL, default the machine's
server) with `flask people import`, then exports what the CSV imports stored with
`flask people export` and over HTTP through gunicorn (the checked-in gunicorn.conf.py,
APP_ENV=production, one worker), as CSV and as NDJSON.

Every line gives the wall time, the process's CPU time (user + system, from the kernel's
accounting of that child, which the other work on a shared machine does not inflate), the
rows a second of wall time, the process's peak RSS (for HTTP: the serving worker's, and the
time to the first byte of the body) and the 1-minute load average when it ended. Everything
runs at 100,000 rows and at the full count, so that a memory growing with the rows would
show. `--compare-inserts` instead times COPY against executemany on Postgres.
"""

import argparse
import datetime
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import types
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as `python3 bench/bulk.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run import (
    POSTGRES_URL,
    ROOT,
    SERVICE_APP,
    VENV,
    flask_command,
    production_environment,
    serving,
    use_virtualenv,
)

LOCALES = ("NYC", "Paris", "東京", "São Paulo")
# A first, small export (1 person in 151: both chunk sizes at 100,000 rows and more),
# before the worker is measured.
WARM_UP = "?age_max=0"
MEDIA_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
HEADER = "database  run            rows        wall s   CPU s   rows/s     peak RSS  load"


def write_files(folder, rows):
    names = (f'Person {i}, "the {i % 7}th" 😀' for i in range(rows))
    csv_path, ndjson_path = folder / f"people-{rows}.csv", folder / f"people-{rows}.ndjson"
    with csv_path.open("w", encoding="utf-8") as csv_file, ndjson_path.open("w") as ndjson:
        csv_file.write("name,age,locale\n")
        for i, name in enumerate(names):
            locale = LOCALES[i % len(LOCALES)]
            quoted = '"' + name.replace('"', '""') + '"'
            csv_file.write(f"{quoted},{i % 151},{locale}\n")
            document = {"name": name, "age": i % 151, "locale": locale}
            ndjson.write(json.dumps(document, ensure_ascii=False) + "\n")
    return {"csv": csv_path, "ndjson": ndjson_path}


def timed(database_url, *arguments):
    """Run a `flask people ...` command; (wall seconds, CPU seconds, peak RSS in MB)."""
    command = [str(VENV / "bin" / "flask"), "--app", "api", "people", *arguments]
    environment = {**os.environ, "DATABASE_URL": database_url}
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    if status != 0:
        sys.exit(f"[bench] people {' '.join(arguments)} failed ({status})")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def report(kind, run, rows, seconds, cpu, rss, extra=""):
    line = f"{kind:9} {run:14} {rows:<10,} {seconds:7.1f} {cpu:7.1f}   {rows / seconds:<9,.0f}"
    print(f"{line}  {rss:4.0f} MB  {os.getloadavg()[0]:4.1f}{extra}", flush=True)


def fresh_database(kind, folder, postgres_url):
    if kind == "sqlite":
        url = f"sqlite:///{folder}/{uuid.uuid4().hex[:8]}.db"
    else:
        import psycopg

        name = f"people_bulk_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    flask_command(url, dict(os.environ), "db", "upgrade")
    return url


def drop(url, postgres_url):
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def http_export(server, token, file_format, query=""):
    """GET every person (that the query matches) through the server; (wall seconds,
    seconds to the first byte of the body, lines)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": MEDIA_TYPES[file_format],
        "X-Forwarded-Proto": "https",  # as the platform's proxy says (production refuses HTTP)
    }
    start = time.monotonic()
    try:
        connection.request("GET", f"/resources/data{query}", headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            sys.exit(f"[bench] HTTP export answered {response.status}")
        chunk = response.read1(64 * 1024)
        first_byte = time.monotonic() - start
        lines = 0
        while chunk:
            lines += chunk.count(b"\n")
            chunk = response.read1(64 * 1024)
        return time.monotonic() - start, first_byte, lines
    finally:
        connection.close()


def http_exports(kind, url, rows, folder):
    """Both formats through one gunicorn; the serving worker's CPU and peak RSS."""
    environment = {**production_environment(folder), "WEB_CONCURRENCY": "1"}
    output = flask_command(url, environment, "tokens", "create", "bulk-bench", "--role", "read")
    token = output.strip().splitlines()[-1]
    database = types.SimpleNamespace(url=url, metrics_token=None)
    label = f"bulk-{uuid.uuid4().hex[:8]}"
    with serving(label, SERVICE_APP, database, environment, folder) as server:
        http_export(server, token, "ndjson", WARM_UP)  # the worker imports what it needs
        (worker,) = server.worker_pids()
        print(f"{kind:9} (worker's peak RSS before the exports: {rss_mb(worker, 'VmHWM'):.0f} MB)")
        for file_format in ("csv", "ndjson"):
            cpu_before = server.cpu_seconds()
            seconds, first_byte, lines = http_export(server, token, file_format)
            expected = rows + (file_format == "csv")  # the CSV header
            if lines != expected:  # the whole export, not a page or a truncated stream
                sys.exit(f"[bench] the HTTP export gave {lines} lines, not {expected}")
            cpu = server.cpu_seconds() - cpu_before
            peak = rss_mb(worker, "VmHWM")
            extra = f"  first byte {first_byte * 1000:.0f} ms"
            report(kind, f"HTTP {file_format}", rows, seconds, cpu, peak, extra)


def rss_mb(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key}")


def compare_inserts(postgres_url, rows, repeat):
    """COPY (what api/queries.py uses) against executemany of INSERTs, batches of
    BATCH_SIZE, the same rows, interleaved, into a fresh migrated database."""
    import psycopg

    from api import queries
    from api.bulk import BATCH_SIZE

    columns = ", ".join(queries.BULK_COLUMNS)
    insert = f"INSERT INTO people ({columns}) VALUES ({', '.join(['%s'] * 5)})"
    now = datetime.datetime.now(datetime.UTC)
    people = [(f'Person {i}, "the {i % 7}th" 😀', i % 151, "NYC", now, now) for i in range(rows)]

    def copy(cursor, batch):
        with cursor.copy(queries.COPY_PEOPLE) as copying:
            for person in batch:
                copying.write_row(person)

    def executemany(cursor, batch):
        cursor.executemany(insert, batch)

    with tempfile.TemporaryDirectory() as temporary:
        url = fresh_database("postgres", Path(temporary), postgres_url)
        try:
            for _ in range(repeat):
                for label, method in (("COPY", copy), ("executemany", executemany)):
                    with psycopg.connect(url) as connection:
                        connection.execute("TRUNCATE people")
                        connection.commit()
                        start, cpu = time.monotonic(), time.process_time()
                        with connection.cursor() as cursor:
                            for first in range(0, rows, BATCH_SIZE):
                                method(cursor, people[first : first + BATCH_SIZE])
                        connection.commit()
                        seconds = time.monotonic() - start
                        cpu = time.process_time() - cpu
                    print(
                        f"postgres  {label:12} {rows:,} rows: {seconds:.1f} s wall, {cpu:.1f} s "
                        f"of the client's CPU, load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        finally:
            drop(url, postgres_url)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each figure")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--formats", default="csv,ndjson", help="of the imports")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP exports")
    parser.add_argument(
        "--compare-inserts", action="store_true", help="time COPY against executemany only"
    )
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
    )
    options = parser.parse_args()
    use_virtualenv()
    if options.compare_inserts:
        compare_inserts(options.postgres_url, options.rows, options.repeat)
        return
    sizes = sorted({min(100_000, options.rows), options.rows})
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        files = {size: write_files(folder, size) for size in sizes}
        print(HEADER)
        for _ in range(options.repeat):
            for kind in options.databases.split(","):
                for file_format in options.formats.split(","):
                    for size in sizes:
                        run(kind, file_format, size, files[size], folder, options)


def run(kind, file_format, size, files, folder, options):
    """One import, and after each of the first format's the exports of what it stored
    (at two sizes, so that a memory growing with the rows would show)."""
    url = fresh_database(kind, folder, options.postgres_url)
    try:
        seconds, cpu, rss = timed(url, "import", str(files[file_format]))
        report(kind, f"import {file_format}", size, seconds, cpu, rss)
        if file_format == options.formats.split(",")[0]:
            seconds, cpu, rss = timed(url, "export", str(folder / "export.csv"))
            report(kind, "export csv", size, seconds, cpu, rss)
            if not options.no_http:
                http_exports(kind, url, size, folder)
    finally:
        drop(url, options.postgres_url)


if __name__ == "__main__":
    main()
