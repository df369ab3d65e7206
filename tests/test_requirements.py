"""What production installs: requirements.txt holds the service alone, and is enough."""

import re
import subprocess
import sys

import pytest

from tests.contract import drive_contract
from tests.deployment import (
    ROOT,
    platform_environment,
    procfile_processes,
    run_command,
    web_process,
)
from tests.servers import free_port, request

# Test, lint and docs tools the suite uses; none of them belongs on a dyno or an instance.
TEST_TOOLS = {
    "pytest", "hypothesis", "ruff", "pyyaml", "iniconfig", "pluggy", "pygments",
    "openapi-spec-validator", "schemathesis", "selenium",
}  # fmt: skip
PIN = re.compile(r"([A-Za-z0-9_.-]+)(\[[a-z0-9_,-]+\])?==[0-9][0-9A-Za-z.+-]*")


def pinned_names(path):
    """The normalised package names a requirements file pins; every entry must be pinned."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r "):
            continue
        match = PIN.fullmatch(line)
        assert match, f"{path.name}: {line!r} is not pinned with =="
        names.add(match.group(1).lower().replace("_", "-"))
    return names


def test_runtime_requirements_hold_no_test_tool():
    runtime = pinned_names(ROOT / "requirements.txt")
    assert {"flask", "gunicorn", "psycopg", "sqlalchemy"} <= runtime
    assert not runtime & TEST_TOOLS


def test_dev_requirements_are_the_runtime_ones_plus_the_tools():
    dev_file = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev_file.read_text().splitlines()
    tools = pinned_names(dev_file)
    assert TEST_TOOLS <= tools
    assert not tools & pinned_names(ROOT / "requirements.txt")  # each pin lives in one file


@pytest.mark.server
def test_the_app_serves_from_a_virtualenv_made_from_requirements_txt_alone(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", ROOT / "requirements.txt"], check=True, timeout=300)
    frozen = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert not {line.split("==")[0] for line in frozen.split()} & TEST_TOOLS

    # The Procfile's release and web commands, as a platform runs them, with that venv only.
    processes = procfile_processes(ROOT / "Procfile")
    env = platform_environment(
        tmp_path,
        path=f"{venv / 'bin'}:/usr/bin:/bin",
        DATABASE_URL=f"sqlite:///{tmp_path}/people.db",
        INSTANCE_PATH=str(tmp_path / "instance"),
        PORT=str(free_port()),
    )
    release = run_command(processes["release"], env)
    assert release.returncode == 0, release.stderr
    created = run_command("flask --app api tokens create ops --role write", env)
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.splitlines()[-1]}"}
    with web_process(processes["web"], env, tmp_path) as (base_url, _):
        assert request(base_url, "GET", "/healthz").status == 200
        drive_contract(base_url, headers)
