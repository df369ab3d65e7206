"""CORS (flask-cors) for browser clients on the origins CORS_ORIGINS names; none by default.

Off (the default), flask-cors is not even imported and no Access-Control-* header is sent.
Bearer tokens, not cookies, authenticate, so credentials mode stays off: a browser never
attaches cookies, and a page must hold its token itself. Preflights need no token: Flask
answers OPTIONS itself (api/__init__.py's PeopleApi: 204) before any view or its auth runs.
"""

ALLOWED_HEADERS = (
    "Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key",
    "X-Request-ID",
)  # fmt: skip
EXPOSED_HEADERS = (
    "ETag", "Link", "Location", "Retry-After", "X-Request-ID", "X-Total-Count", "Accept-Patch",
    "WWW-Authenticate",
)  # fmt: skip
# Seconds a browser may keep a preflight's answer.
PREFLIGHT_MAX_AGE = 600


def parse_origins(text):
    """CORS_ORIGINS ("https://a.example, http://localhost:3000") as a list; "*" for any."""
    origins = [entry.strip().rstrip("/") for entry in (text or "").split(",")]
    return [origin for origin in origins if origin]


def allow_cross_origin_requests(app):
    origins = parse_origins(app.config["CORS_ORIGINS"])
    if not origins:
        return
    from flask_cors import CORS

    CORS(
        app,
        origins="*" if "*" in origins else origins,
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        supports_credentials=False,
        max_age=PREFLIGHT_MAX_AGE,
    )
