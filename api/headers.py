"""Headers every response carries, added by one WSGI wrapper around the whole app.

- X-Content-Type-Options: nosniff, so a browser never reads a JSON body as something else;
- Cache-Control: no-store on problem documents and on /metrics, which are about one moment
  (or one client) and must not be served again by a cache;
- Strict-Transport-Security on responses sent over HTTPS (as the trusted proxy told the
  scheme), so a browser that saw the service once never sends a token to it over plain HTTP.

A wrapper rather than an after_request hook: it also covers the answers made before Flask
(api/security.py's refusals), and it costs about a microsecond.
"""

from api.errors import PROBLEM_MEDIA_TYPE

NOSNIFF = ("X-Content-Type-Options", "nosniff")
NO_STORE = ("Cache-Control", "no-store")
NEVER_CACHED_PATHS = frozenset({"/metrics"})


class ResponseHeaders:
    def __init__(self, app, hsts_max_age):
        self.wsgi_app = app.wsgi_app
        self.hsts = None
        if hsts_max_age > 0:
            self.hsts = ("Strict-Transport-Security", f"max-age={hsts_max_age}")

    def __call__(self, environ, start_response):
        https = environ["wsgi.url_scheme"] == "https"
        never_cached = environ.get("PATH_INFO") in NEVER_CACHED_PATHS

        def start_hardened(status, headers, exc_info=None):
            if never_cached or any(
                name.lower() == "content-type" and value.startswith(PROBLEM_MEDIA_TYPE)
                for name, value in headers
            ):
                headers[:] = [pair for pair in headers if pair[0].lower() != "cache-control"]
                headers.append(NO_STORE)
            headers.append(NOSNIFF)
            if https and self.hsts:
                headers.append(self.hsts)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_hardened)


def harden_responses(app):
    app.wsgi_app = ResponseHeaders(app, app.config["HSTS_MAX_AGE"])
