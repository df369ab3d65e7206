"""Reading scrapes, and Debian's Prometheus tools (promtool, a real Prometheus server)."""

import contextlib
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import terminate, wait_for_server
from tests.servers import ROOT, free_port

MONITORING = ROOT / "monitoring"


def samples(exposition):
    """{(sample name, frozenset of label pairs): value} from a text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def total(scraped, name, **labels):
    """The sum of a sample over every series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        value for (sample, pairs), value in scraped.items() if sample == name and wanted <= pairs
    )


def label_values(scraped, name, label):
    return {dict(pairs).get(label) for sample, pairs in scraped if sample == name}


def tool(name):
    path = shutil.which(name)
    assert path, f"no {name}: `python3 dev.py test` installs Debian's prometheus package"
    return path


def promtool(*arguments, stdin=None):
    """Run promtool; its output (empty when all is well) and exit status."""
    completed = subprocess.run(
        [tool("promtool"), *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=MONITORING,
    )
    return completed.returncode, completed.stdout + completed.stderr


def replace_once(text, old, new):
    assert text.count(old) == 1, f"{old!r} is not in the shipped config exactly once"
    return text.replace(old, new)


def adapted_scrape_config(target, token_file):
    """The shipped monitoring/prometheus.yml, pointed at a test server, scraping every second."""
    text = (MONITORING / "prometheus.yml").read_text()
    text = replace_once(text, "scrape_interval: 15s", "scrape_interval: 1s")
    text = replace_once(text, "scheme: https", "scheme: http")
    text = replace_once(text, "people-api.example.com:443", target)
    return replace_once(text, "/etc/prometheus/people-api-token", str(token_file))


def api_get(base_url, path, **query):
    url = f"{base_url}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)




@contextlib.contextmanager
def prometheus_server(folder, config_text):
    """Debian's prometheus on a free loopback port, with its storage in `folder`."""
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    (folder / "prometheus.yml").write_text(config_text)
    shutil.copy(MONITORING / "alerts.yml", folder / "alerts.yml")
    port = free_port()
    command = [
        tool("prometheus"),
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with open(folder / "prometheus.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:

        def ready():
            with urllib.request.urlopen(f"{base_url}/-/ready", timeout=1) as response:
                return response.status == 200

        wait_for_server(process, ready, 30, "Prometheus")
        yield base_url
    finally:
        terminate(process)
