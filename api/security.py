"""Refuse requests that came over plain HTTP or from outside ALLOWED_NETWORKS, before Flask.

A WSGI wrapper inside the request recorder (so a refusal is logged and counted like any
answer) and inside ProxyFix (api/proxies.py), so REMOTE_ADDR and wsgi.url_scheme are
already the ones the trusted proxy hops told. Both checks run before the app looks at the
token, and neither redirects: by the time a redirect from http to https is sent, the token
has already crossed the network in clear text.

The health probes stay open: the load balancer checks them over plain HTTP, from its own
address, which is not a client's.
"""

import ipaddress

from api.errors import problem_response

PROBES = frozenset({"/healthz", "/readyz"})


def parse_networks(text):
    """ALLOWED_NETWORKS ("10.0.0.0/8, 2001:db8::/32") as networks; ValueError names a bad one."""
    networks = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a CIDR block") from None
    return tuple(networks)


def https_required(config):
    """REQUIRE_HTTPS, or, when it is not set, whether APP_ENV is production."""
    required = config["REQUIRE_HTTPS"]
    return config["APP_ENV"] == "production" if required is None else required


def address_allowed(address, networks):
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return False  # no usable address (a Unix socket): not one we can allow
    if parsed.version == 6 and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(parsed in network for network in networks)


class Gate:
    """Answers 403 to plain-HTTP requests (when required) and to addresses not allowed."""

    def __init__(self, app, require_https, networks):
        self.wsgi_app = app.wsgi_app
        self.flask_app = app
        self.require_https = require_https
        self.networks = networks

    def __call__(self, environ, start_response):
        detail = self.refusal(environ)
        if detail is None:
            return self.wsgi_app(environ, start_response)
        with self.flask_app.app_context():
            response = problem_response(403, detail)
        return response(environ, start_response)

    def refusal(self, environ):
        if environ.get("PATH_INFO") in PROBES:
            return None
        if self.require_https and environ["wsgi.url_scheme"] != "https":
            return "This service answers over HTTPS only: send the request to its https:// URL."
        if self.networks and not address_allowed(environ.get("REMOTE_ADDR"), self.networks):
            return "Requests from this address are not allowed."
        return None


def guard_requests(app):
    """Wrap the app in the gate, when a check is on; off, it costs nothing."""
    require_https = https_required(app.config)
    networks = parse_networks(app.config["ALLOWED_NETWORKS"])
    if require_https or networks:
        app.wsgi_app = Gate(app, require_https, networks)
