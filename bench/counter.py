"""The service's own count of the requests it answered, read from /metrics as Prometheus would.

The benchmark checks it against what wrk completed after every run: the service must be
measured with its metrics working exactly as in production, not merely switched on.
"""

import time
import urllib.request

REQUESTS_SERIES = "people_api_http_requests_total{"


def requests_counted(base_url, metrics_token):
    """The sum of the request counter over every route, method, status and worker."""
    # X-Forwarded-Proto: as the platform's proxy says of an HTTPS request (production
    # refuses plain HTTP).
    headers = {"Authorization": f"Bearer {metrics_token}", "X-Forwarded-Proto": "https"}
    scrape = urllib.request.Request(base_url + "/metrics", headers=headers)
    with urllib.request.urlopen(scrape, timeout=10) as response:
        text = response.read().decode()
    # /metrics itself is not counted, so scraping does not move the sum.
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(REQUESTS_SERIES)
    )


def settled_count(base_url, metrics_token, deadline_seconds=10):
    """The counter once it stops moving: requests in flight when wrk stopped are done."""
    deadline = time.monotonic() + deadline_seconds
    previous = requests_counted(base_url, metrics_token)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = requests_counted(base_url, metrics_token)
        if current == previous:
            return current
        previous = current
    return previous


def counter_matches(counted, completed, unanswered):
    """Whether the service counted every request wrk completed, and at most `unanswered`
    more: wrk stops with one request in flight on each connection, which the service
    still answers and counts (wrk counts only the answers it read)."""
    return 0 <= counted - completed <= unanswered
