"""/docs and CORS in a real browser: Debian's headless Chromium, driven by selenium through
Debian's chromedriver, against a live gunicorn.

The docs page lists the operations, takes a token in "Authorize" and runs a GET of a person
from the page. A page on a second origin (a tiny static server on another port) calls the
API with fetch and a bearer token: the browser lets it read the answer only when its origin
is in CORS_ORIGINS. A screenshot of the docs page is kept in test-artifacts/ (git-ignored).
"""

import contextlib
import json
import subprocess
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import make_token
from tests.helpers import accepts_connections, terminate, wait_for_server
from tests.servers import ROOT, free_port, gunicorn, request

pytestmark = pytest.mark.server

ARTIFACTS = ROOT / "test-artifacts"
WAIT_SECONDS = 30

CALLER = """<!doctype html>
<html><head><meta charset="utf-8"><title>caller</title></head>
<body><p id="out">waiting</p>
<script>
fetch(%(url)s, {headers: {"Authorization": "Bearer " + %(token)s, "If-None-Match": "\\"0.0\\""}})
  .then((response) => response.json().then((body) => [response, body]))
  .then(([response, body]) => {
    document.getElementById("out").textContent =
      "read " + response.status + " " + body.name + " " + response.headers.get("ETag");
  })
  .catch((error) => { document.getElementById("out").textContent = "blocked " + error; });
</script></body></html>
"""


@contextlib.contextmanager
def chromium():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)  # no sandbox: the suite may run as root
    options.add_argument("--window-size=1280,2000")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def static_server(folder):
    """A tiny static server on a free loopback port: a second origin; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_server(process, lambda: accepts_connections(port), 10, "the static server")
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(process)


def create_person(base_url, secret, name):
    response = request(
        base_url,
        "PUT",
        "/resources/data",
        json.dumps({"name": name, "age": 42, "locale": "NYC"}),
        {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    assert response.status == 201
    return response.json()["id"]


def click(driver, selector):
    element = WebDriverWait(driver, WAIT_SECONDS).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, selector))
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()
    return element


def test_the_docs_page_lists_authorizes_and_runs_a_get(make_app, sqlite_database, tmp_path):
    secret = make_token(make_app(sqlite_database))
    with gunicorn(sqlite_database, tmp_path / "server.log") as base_url, chromium() as driver:
        person_id = create_person(base_url, secret, "Docs Person")
        driver.get(f"{base_url}/docs")
        wait = WebDriverWait(driver, WAIT_SECONDS)
        wait.until(EC.presence_of_element_located((By.ID, "operations-people-getPerson")))
        listed = {
            element.get_attribute("id")
            for element in driver.find_elements(By.CSS_SELECTOR, ".opblock[id^=operations-]")
        }
        for operation in (
            "listPeople", "createPerson", "getPerson", "replacePerson", "patchPerson",
            "deletePerson",
        ):  # fmt: skip
            assert f"operations-people-{operation}" in listed

        click(driver, "button.authorize")
        field = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux input")))
        field.send_keys(secret)
        click(driver, ".modal-ux .auth-btn-wrapper button[type=submit]")
        click(driver, ".modal-ux button.btn-done")

        click(driver, "#operations-people-getPerson .opblock-summary-control")
        click(driver, "#operations-people-getPerson .try-out__btn")
        id_field = wait.until(
            EC.visibility_of_element_located(
                (By.CSS_SELECTOR, "#operations-people-getPerson input[placeholder=person_id]")
            )
        )
        id_field.send_keys(str(person_id))
        click(driver, "#operations-people-getPerson button.execute")
        live = "#operations-people-getPerson .live-responses-table"
        body = wait.until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, f"{live} .microlight"))
        )
        wait.until(lambda _: "Docs Person" in body.text)
        status = driver.find_element(By.CSS_SELECTOR, f"{live} tbody .response-col_status")
        assert status.text.strip().startswith("200")
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "docs.png"))
    log = (tmp_path / "server.log").read_text()
    assert f'"path": "/resources/data/{person_id}"' in log  # the page called this server


def test_a_page_on_another_origin_reads_the_api_only_when_allowed(
    make_app, sqlite_database, tmp_path
):
    secret = make_token(make_app(sqlite_database))
    allowed_folder, other_folder = tmp_path / "allowed", tmp_path / "other"
    allowed_folder.mkdir()
    other_folder.mkdir()
    with (
        static_server(allowed_folder) as allowed,
        static_server(other_folder) as other,
        gunicorn(
            sqlite_database, tmp_path / "server.log", env={"CORS_ORIGINS": allowed}
        ) as base_url,
        chromium() as driver,
    ):
        person_id = create_person(base_url, secret, "Cors Person")
        page = CALLER % {
            "url": json.dumps(f"{base_url}/resources/data/{person_id}"),
            "token": json.dumps(secret),
        }
        for folder in (allowed_folder, other_folder):
            (folder / "caller.html").write_text(page)

        outcomes = {}
        for origin in (allowed, other):
            driver.get(f"{origin}/caller.html")
            out = driver.find_element(By.ID, "out")
            WebDriverWait(driver, WAIT_SECONDS).until(lambda _, out=out: out.text != "waiting")
            outcomes[origin] = out.text
    assert outcomes[allowed] == f'read 200 Cors Person "{person_id}.1"'
    assert outcomes[other].startswith("blocked TypeError")
