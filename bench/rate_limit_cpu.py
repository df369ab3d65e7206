"""CPU a rate-limit check adds to an authenticated GET, in-process: `python3
bench/rate_limit_cpu.py [REDIS_URL]` (default: the local Redis on 127.0.0.1:6379).

One app per setting, in one process, on one migrated SQLite file with one person: limits off,
limits counted in memory, and limits counted in Redis (high enough never to refuse). The
settings take turns, `ROUNDS` times; for each, the least process CPU per GET of any round
(`time.process_time`, which leaves out other processes on a busy machine, Redis's own too)
and the least wall time (which includes waiting for Redis's answer). It prints one JSON line
on stderr (stdout has the request log: send it to /dev/null).
"""

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as `python3 bench/rate_limit_cpu.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flask_migrate import upgrade

from api import create_app
from api.auth import issue_token

ROUNDS = 7
REQUESTS = 2000
HIGH_LIMITS = "1000000/second;100000000/minute"
PERSON = {"name": "Ada", "age": 36, "locale": "LDN"}


def build(database_url, folder, **settings):
    return create_app(
        {"DATABASE_URL": database_url, "INSTANCE_PATH": folder, "LOG_FLUSH_MS": 1000, **settings}
    )


def measure(client, headers):
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    for _ in range(REQUESTS):
        client.get("/resources/data/1", headers=headers)
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    return cpu / REQUESTS * 1e6, wall / REQUESTS * 1e6


def main(redis_url):
    with tempfile.TemporaryDirectory(prefix="rate-limit-cpu-") as folder:
        run(redis_url, folder)


def run(redis_url, folder):
    database_url = f"sqlite:///{folder}/people.db"
    setup = build(database_url, folder)
    with setup.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        secret = issue_token(f"bench-{uuid.uuid4().hex[:8]}", "write")
    headers = {"Authorization": f"Bearer {secret}"}
    setup.test_client().put("/resources/data/", json=PERSON, headers=headers)
    apps = {
        "off": build(database_url, folder, RATE_LIMIT="off"),
        "memory": build(database_url, folder, RATE_LIMIT=HIGH_LIMITS),
        "redis": build(database_url, folder, RATE_LIMIT=HIGH_LIMITS, REDIS_URL=redis_url),
    }
    clients = {name: app.test_client() for name, app in apps.items()}
    best = {name: [float("inf"), float("inf")] for name in apps}
    for client in clients.values():  # warm up: caches, connections, scripts
        assert client.get("/resources/data/1", headers=headers).status_code == 200
    for _ in range(ROUNDS):
        for name, client in clients.items():
            cpu, wall = measure(client, headers)
            best[name] = [min(best[name][0], cpu), min(best[name][1], wall)]
    print(
        json.dumps(
            {
                name: {"cpu_us": round(cpu, 1), "wall_us": round(wall, 1)}
                for name, (cpu, wall) in best.items()
            }
        ),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0")
