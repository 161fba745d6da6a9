"""GET /docs: the interactive reference (Swagger UI) for /openapi.json, and GET /docs/{asset}: its files.

The files are those the `swagger-ui-bundle` package installs with the API: no CDN, so the page works
offline and behind a firewall. Every URL the page uses is relative (`docs/...`, `openapi.json`), so it
works behind a path prefix too, and "Try it out" calls the server that served the page. The page and its
files are open like /openapi.json (`web.auth`); the routes it calls still need a key when keys are
configured, which the Authorize button sets (the bearer scheme). docs/api.md#interactive-reference.
"""

from __future__ import annotations

from pathlib import Path

import falcon
from swagger_ui_bundle import swagger_ui_path

# The files the page loads, with their media types; any other name is a 404.
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
    "initializer.js": "text/javascript",
}
VERSION = Path(str(swagger_ui_path)).name  # "swagger-ui-4.15.5": the files change only with it
MAX_AGE = 86_400  # seconds a browser keeps a file without asking again

PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Inference API: interactive reference</title>
    <link rel="stylesheet" type="text/css" href="docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="docs/initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""

# Swagger UI 4 renders OpenAPI 3.0 only: the page hands it our 3.1 document labeled 3.0.3 (what it shows
# of 3.1-only keywords is approximate; the routes, parameters and "Try it out" are exact), with the server
# that served the page as the one to call.
INITIALIZER = """window.onload = function () {
  var source = new URL("openapi.json", window.location.href);
  fetch(source).then(function (response) { return response.json(); }).then(function (spec) {
    if (/^3\\.1\\./.test(spec.openapi)) { spec.openapi = "3.0.3"; }
    if (!spec.servers) { spec.servers = [{url: new URL(".", source).href.replace(/\\/$/, "")}]; }
    window.ui = SwaggerUIBundle({
      spec: spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "BaseLayout"
    });
  });
};
"""


class DocsPage:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.env.get("PATH_INFO", "").endswith("/"):  # /docs/: its relative URLs would miss; /docs is the page
            raise falcon.HTTPMovedPermanently(f"{req.root_path}{req.path}")
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = ["no-cache"]  # the page is tiny; the document it loads may change with a deploy
        resp.text = PAGE


class DocsAsset:
    def on_get(self, req: falcon.Request, resp: falcon.Response, asset: str) -> None:
        media_type = ASSETS.get(asset)
        if media_type is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"no file {asset!r} in the reference")
        resp.etag = f'"{VERSION}"'
        resp.cache_control = ["public", f"max-age={MAX_AGE}"]
        if req.get_header("If-None-Match") == resp.etag:
            resp.status = falcon.HTTP_304  # no body, so no Content-Type
            resp.content_type = None
            return
        resp.content_type = media_type
        if asset == "initializer.js":
            resp.text = INITIALIZER
            return
        path = Path(str(swagger_ui_path)) / asset
        resp.stream, resp.content_length = path.open("rb"), path.stat().st_size
