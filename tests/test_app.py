"""The app class: Flask with its coroutine check remembered per function."""

from tests.conftest import build_app, dispose


class Unhashable:
    """A callable hook that cannot be a dictionary key."""

    __hash__ = None

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_every_hook_runs_on_every_request_hashable_or_not(database_url):
    app = build_app(database_url)
    seen = []
    unhashable = Unhashable()
    app.before_request(lambda: seen.append("hook"))
    app.before_request(unhashable)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert seen == ["hook"] * 3 and unhashable.calls == 3
    dispose(app)
