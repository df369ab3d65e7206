"""Read what is left of a request body the app answered without reading, up to a bound.

The app refuses some requests before it reads their body: 413 (too large), 415 (a type it
does not read), 401, 403, 404 and 405. gunicorn closes the connection after every response here (no
keep-alive: see gunicorn.conf.py), and closing a socket with unread bytes makes the kernel
reset the connection. A proxy still sending the body then gets "Broken pipe" instead of the
answer: behind Elastic Beanstalk's nginx, 7 to 15 of 20 requests with 900 KB bodies got
nginx's 502 page instead of the app's 413 or 415 (tests/test_proxies.py). Reading the rest
first lets the proxy finish sending, so it reads the app's answer.

A client must not be able to make a worker read gigabytes, hence the bound: a body whose
Content-Length is above it is not read at all (the connection may be reset as before), and a
chunked body is read up to it. nginx's own body limit (.platform/nginx) is below the bound,
so behind it every body the app did not read is drained.
"""

# Elastic Beanstalk's nginx lets bodies up to its default client_max_body_size (1 MiB)
# through; the app's own limit counts too when it is set larger.
DRAIN_FLOOR = 1024 * 1024
CHUNK = 64 * 1024


def drain_limit(max_content_length):
    return max(DRAIN_FLOOR, max_content_length or 0)


def drain(environ, limit):
    """Read and throw away the rest of the body, unless it is announced larger than limit."""
    try:
        if int(environ.get("CONTENT_LENGTH") or 0) > limit:
            return
        stream = environ["wsgi.input"]
        left = limit
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
    except Exception:
        # A malformed length or chunk, or a client that went away: the answer is made
        # already, and the server closes this connection anyway.
        return


class UnreadBodyDrain:
    """WSGI middleware: drain the unread body once the app has made its response."""

    def __init__(self, wsgi_app, limit):
        self.wsgi_app = wsgi_app
        self.limit = limit

    def __call__(self, environ, start_response):
        response = self.wsgi_app(environ, start_response)
        # Most requests (every GET) have no body: no read for them.
        if environ.get("CONTENT_LENGTH") or environ.get("HTTP_TRANSFER_ENCODING"):
            drain(environ, self.limit)
        return response


def drain_unread_bodies(app):
    largest = max(app.config["MAX_CONTENT_LENGTH"], app.config["BULK_MAX_CONTENT_LENGTH"])
    app.wsgi_app = UnreadBodyDrain(app.wsgi_app, drain_limit(largest))
