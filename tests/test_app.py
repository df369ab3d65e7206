"""The app object: per-request callables are not remembered, so memory stays flat."""

import gc
import tracemalloc

from flask import Blueprint, after_this_request

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
