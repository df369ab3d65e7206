"""The contract from outside: schemathesis against a live gunicorn serving its own document.

All of schemathesis's checks (no 5xx; statuses, content types, bodies and headers as the
document says; valid data accepted, invalid refused; missing auth refused; deleted people
gone) on the examples, coverage and fuzzing phases and the stateful phase, which follows
the document's links (create -> get -> patch/replace -> delete), on SQLite and on Postgres,
with a write token (and a metrics token for /metrics). tests/fuzz_hooks.py holds the few
rules JSON Schema cannot say. Bounded: FUZZ_EXAMPLES cases per operation and phase, and
FUZZ_SECONDS at most for each run.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import make_token
from tests.servers import ROOT, gunicorn

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.server

FUZZ_EXAMPLES = 100
FUZZ_SECONDS = 60
# Besides schemathesis's defaults: 412 (If-Match names another version: the state, not the
# data, decides) and 414 (gunicorn's request-line limit, which a long valid list query can
# pass) are right answers to valid requests too; 414 is also a right refusal.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "414", "429", "5xx"]
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429"]

CONFIG = """\
seed = 20261201
max-time = {seconds}
workers = 1

[generation]
max-examples = {examples}
database = "none"

[auth.openapi.bearer]
bearer = "{write_token}"

[checks.positive_data_acceptance]
expected-statuses = {accepted}

[checks.negative_data_rejection]
expected-statuses = {refused}

[[operations]]
include-operation-id = "getMetrics"
headers = {{ Authorization = "Bearer {metrics_token}" }}
"""


def test_schemathesis_finds_no_disagreement(make_app, database_url, database_kind, tmp_path):
    app = make_app(database_url)
    write_token, metrics_token = make_token(app), make_token(app, "scraper", role="metrics")
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.format(
            seconds=FUZZ_SECONDS,
            examples=FUZZ_EXAMPLES,
            write_token=write_token,
            metrics_token=metrics_token,
            accepted=ACCEPTED,
            refused=REFUSED,
        ).replace("'", '"')
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks"}
    with gunicorn(database_url, tmp_path / "server.log") as base_url:
        command = [
            os.path.join(os.path.dirname(sys.executable), "schemathesis"),
            "--config-file", str(config),
            "run", f"{base_url}/openapi.json",
            "--checks", "all",
            "--no-color",
        ]  # fmt: skip
        run = subprocess.run(
            command,
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=FUZZ_SECONDS * 4 + 60,
        )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"schemathesis-{database_kind}.txt").write_text(run.stdout + run.stderr)
    summary = run.stdout[-20000:]
    assert run.returncode == 0, summary
    assert "No issues found" in summary, summary
    for phase in ("Coverage", "Fuzzing", "Stateful"):  # none of them skipped
        assert f"✅ {phase}" in summary.split("SUMMARY")[-1], summary
