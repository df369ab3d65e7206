"""Bulk import and export timings: `python3 bench/bulk.py [--rows 1000000]`.

Generates CSV and NDJSON files of people in a temporary folder, imports each into a fresh
SQLite file and a fresh Postgres database (BENCH_POSTGRES_URL, default the machine's
server) with `flask people import`, then exports the database with `flask people export`.
For every run it prints seconds, rows/s and the process's peak RSS, at 100,000 rows and at
the full count, so that a memory growing with the file would show.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

if __package__ in (None, ""):  # run as `python3 bench/bulk.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run import ROOT, VENV, flask_command

LOCALES = ("NYC", "Paris", "東京", "São Paulo")


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
    """Run a `flask people ...` command; (seconds, peak RSS in MB of that process)."""
    command = [str(VENV / "bin" / "flask"), "--app", "api", "people", *arguments]
    environment = {**os.environ, "DATABASE_URL": database_url}
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    if status != 0:
        sys.exit(f"[bench] people {' '.join(arguments)} failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def fresh_database(kind, folder, postgres_url):
    if kind == "sqlite":
        url = f"sqlite:///{folder}/{uuid.uuid4().hex[:8]}.db"
    else:
        name = f"people_bulk_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    flask_command(url, dict(os.environ), "db", "upgrade")
    return url


def drop(url, postgres_url):
    if url.startswith("postgresql"):
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    options = parser.parse_args()
    sizes = sorted({min(100_000, options.rows), options.rows})
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        files = {size: write_files(folder, size) for size in sizes}
        print("database  format  rows       seconds  rows/s    peak RSS")
        for kind in options.databases.split(","):
            for file_format in ("csv", "ndjson"):
                for size in sizes:
                    url = fresh_database(kind, folder, options.postgres_url)
                    try:
                        seconds, rss = timed(url, "import", str(files[size][file_format]))
                        line = f"{kind:9} {file_format:7} {size:<10,} {seconds:7.1f}"
                        print(f"{line}  {size / seconds:<9,.0f} {rss:.0f} MB", flush=True)
                        if file_format == "csv" and size == options.rows:
                            out = folder / "export.ndjson"
                            seconds, rss = timed(url, "export", str(out))
                            line = f"{kind:9} export  {size:<10,} {seconds:7.1f}"
                            print(f"{line}  {size / seconds:<9,.0f} {rss:.0f} MB", flush=True)
                    finally:
                        drop(url, options.postgres_url)


if __name__ == "__main__":
    main()
