"""/docs: Swagger UI for /openapi.json, served entirely by the app, with no CDN.

The page is ours (small, below); Swagger UI's script, style and icons come from the pinned
swagger-ui-bundle-v2 package, served from its folder, so the page works with no internet
access. "Authorize" takes a bearer token, and "Try it out" calls this same server.
"""

from flask import Blueprint, abort, render_template_string, send_from_directory, url_for

bp = Blueprint("docs", __name__)

# The only files of the package the page loads; anything else is a 404.
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
ASSET_MAX_AGE = 24 * 3600  # the package's files change only with its pin

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>People API</title>
<link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
<link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{ asset('swagger-ui-bundle.js') }}"></script>
<script>
window.ui = SwaggerUIBundle({
  url: {{ document_url | tojson }},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null
});
</script>
</body>
</html>
"""


@bp.get("/docs")
def show_docs():
    """The interactive docs page."""
    return render_template_string(
        PAGE,
        asset=lambda name: url_for("docs.get_docs_asset", filename=name),
        document_url=url_for("openapi.get_openapi_document"),
    )


@bp.get("/docs/<filename>")
def get_docs_asset(filename):
    """One of Swagger UI's files, from the installed package."""
    if filename not in ASSETS:
        abort(404)
    from swagger_ui_bundle import swagger_ui_path

    return send_from_directory(swagger_ui_path, filename, max_age=ASSET_MAX_AGE)
