"""The client's address in the request log: X-Forwarded-For only as far as proxies are trusted."""

import json

import pytest

from tests.conftest import build_app, dispose

# What a client sent itself, then what each proxy appended: the router's view of the client,
# then (with a second proxy, such as a load balancer in front of nginx) the next one.
FORGED = "203.0.113.66"
CLIENT = "198.51.100.7"
LOAD_BALANCER = "10.0.0.12"


def logged_client(database_url, capsys, forwarded_for, **settings):
    app = build_app(database_url, **settings)
    try:
        capsys.readouterr()
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        assert app.test_client().get("/nowhere", headers=headers).status_code == 404
        line = json.loads(capsys.readouterr().out.splitlines()[-1])
    finally:
        dispose(app)
    return line["client"]


@pytest.mark.parametrize(
    ("hops", "forwarded_for", "expected"),
    [
        # The default: one proxy (Heroku's router, or Elastic Beanstalk's nginx alone).
        (None, CLIENT, CLIENT),
        (None, f"{FORGED}, {CLIENT}", CLIENT),
        # No proxy: the header is the client's own text; the peer address counts.
        (0, f"{FORGED}, {CLIENT}", "127.0.0.1"),
        # A load balancer, then nginx.
        (2, f"{FORGED}, {CLIENT}, {LOAD_BALANCER}", CLIENT),
        # Fewer entries than trusted proxies: not from them, so the peer address counts.
        (2, CLIENT, "127.0.0.1"),
        (None, None, "127.0.0.1"),
    ],
)
def test_client_address_trusts_only_the_configured_hops(
    database_url, capsys, hops, forwarded_for, expected
):
    settings = {} if hops is None else {"TRUSTED_PROXY_HOPS": hops}
    assert logged_client(database_url, capsys, forwarded_for, **settings) == expected
