"""/docs: the page and every file it loads come from the app itself (no CDN).

tests/test_docs_browser.py drives the page in a real browser.
"""

import re

LOADED = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""")


def test_the_page_and_everything_it_loads_come_from_the_app(make_app, sqlite_database):
    client = make_app(sqlite_database).test_client()
    page = client.get("/docs")  # no token: the page holds nothing secret
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert '"/openapi.json"' in text
    assert "validatorUrl: null" in text  # Swagger UI would otherwise call an outside validator
    loaded = LOADED.findall(text)
    assert len(loaded) == 3
    types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for url in loaded:
        assert url.startswith("/docs/"), url  # not another host
        with client.get(url) as asset:  # a file response: closed when read
            assert asset.status_code == 200, url
            assert asset.mimetype == types[url[url.rindex(".") :]]
            assert len(asset.data) > 100
    with client.get("/docs/swagger-ui.css") as response:
        css = response.get_data(as_text=True)
    assert "@import" not in css and "url(http" not in css  # no outside font or style


def test_other_files_are_not_served(make_app, sqlite_database):
    client = make_app(sqlite_database).test_client()
    for path in ("/docs/index.html", "/docs/..%2Fapi%2F__init__.py", "/docs/swagger-ui.js.map"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
