"""The app object: per-request callables are not remembered, so memory stays flat."""

import gc
import tracemalloc

from flask import Blueprint, after_this_request

from api.extensions import auth
from tests.conftest import build_app, dispose


def build_app_with_per_request_callables(database_url):
    """An extra route that registers a new closure with after_this_request on every call,
    as conditional requests and idempotency keys will."""
    app = build_app(database_url)
    extra = Blueprint("extra", __name__)

    @extra.get("/closure")
    def closure_route():
        @after_this_request
        def mark(response):
            response.headers["X-Marked"] = "yes"
            return response

        return {"ok": True}

    app.register_blueprint(extra)
    return app


def test_thousands_of_after_this_request_closures_do_not_grow_memory(tmp_path):
    app = build_app_with_per_request_callables(f"sqlite:///{tmp_path}/people.db")
    try:
        client = app.test_client()

        def serve(count):
            for _ in range(count):
                response = client.get("/closure")
                assert response.headers["X-Marked"] == "yes"

        serve(500)  # warm up: caches, lazy imports, metric series
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        serve(3000)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        # Remembering each closure (the old ensure_sync cache) kept ~1 KB a request: 3 MB here.
        assert grown < 200_000, f"memory grew by {grown} bytes over 3000 requests"
    finally:
        dispose(app)


def test_the_token_auth_remembers_its_callbacks_and_views_not_requests(app, client):
    """api/extensions.py's TokenAuth keeps the callables flask-httpauth runs: a set the
    routes bound, which two thousand requests of five kinds leave as it is."""
    created = client.put("/resources/data/", json={"name": "Ada", "age": 36, "locale": "LDN"})
    url = created.headers["Location"]
    anonymous = app.test_client()

    def serve_each_kind():
        assert client.get(url).status_code == 200
        assert client.get("/resources/data?limit=1").status_code == 200
        assert client.patch(url, json={"age": 37}).status_code == 200
        assert client.get("/resources/data/999999").status_code == 404
        assert anonymous.get(url).status_code == 401

    serve_each_kind()
    remembered = set(auth.plain_functions)
    for _ in range(400):
        serve_each_kind()
    assert auth.plain_functions == remembered
    views = {name: getattr(view, "__wrapped__", view) for name, view in app.view_functions.items()}
    assert {views["people.get_person"], views["people.patch_person"]} <= remembered
