"""Serving the console: the built single-page app from ``flowyard/console_dist``.

- ``GET /`` and ``GET /ui/<anything>`` answer ``index.html`` so deep links survive a reload;
  ``/`` is shared with the DataWorks RPC face, which keeps every call that names an action
  (``Action`` parameter or ``x-acs-action`` header) and every POST.
- ``GET /assets/<file>``: Vite's content-hashed files, cached for a year as immutable.
- ``index.html`` is never cached, so a new bundle is picked up on the next load.
- Every file is read once at start and kept with its gzip form; a client that accepts gzip
  gets the compressed bytes (``Vary: Accept-Encoding``).
- A strict Content-Security-Policy: scripts, styles and connections only from this origin, no
  inline script, no framing; plus nosniff and no referrer. ``index.html`` carries a fresh nonce
  per load (``<meta name="csp-nonce">``) that the CSP admits for ``<style>`` elements only:
  CodeMirror writes its styles into one. Scripts never get a nonce.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["CONTENT_SECURITY_POLICY", "DIST_DIR", "Bundle", "routes"]

DIST_DIR = Path(__file__).resolve().parent.parent / "console_dist"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"
NO_STORE = "no-store"
_MIN_GZIP_BYTES = 512
_NOT_BUILT = (
    b"<!doctype html><title>Flowyard</title><p>The console bundle is missing from this installation "
    b"(flowyard/console_dist). Build it with <code>make console</code>.</p>"
)

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def _load(path: Path) -> StaticFile:
    body = path.read_bytes()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type in {"application/javascript", "image/svg+xml"}:
        media_type += "; charset=utf-8"
    # mtime=0 keeps the compressed bytes reproducible.
    gzipped = gzip.compress(body, compresslevel=9, mtime=0) if len(body) >= _MIN_GZIP_BYTES else None
    return StaticFile(body, gzipped, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class Bundle:
    """The files of one build, loaded into memory."""

    def __init__(self, root: Path = DIST_DIR) -> None:
        index = root / "index.html"
        self.index: StaticFile | None = _load(index) if index.is_file() else None
        self.assets: dict[str, StaticFile] = {}
        assets = root / "assets"
        if assets.is_dir():
            for path in sorted(assets.iterdir()):
                if path.is_file():
                    self.assets[path.name] = _load(path)
        self.root_files: dict[str, StaticFile] = {}
        for name in ("favicon.svg",):
            if (root / name).is_file():
                self.root_files[name] = _load(root / name)


def _respond(request: Request, item: StaticFile, cache: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache, "ETag": item.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == item.etag:
        return Response(status_code=304, headers=headers)
    accepts_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    if item.gzipped is not None and accepts_gzip:
        headers["Content-Encoding"] = "gzip"
        return Response(item.gzipped, media_type=item.media_type, headers=headers)
    return Response(item.body, media_type=item.media_type, headers=headers)


NONCE_PLACEHOLDER = b"__CSP_NONCE__"


def _index_response(item: StaticFile) -> Response:
    nonce = secrets.token_urlsafe(16)
    policy = CONTENT_SECURITY_POLICY.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy, "Cache-Control": NO_STORE}
    body = item.body.replace(NONCE_PLACEHOLDER, nonce.encode())
    return Response(body, media_type=item.media_type, headers=headers)


def _not_found() -> Response:
    return Response(b"Not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)


def routes(bundle: Bundle, root_fallback: Endpoint) -> list[Route]:
    """The console's routes; ``root_fallback`` handles what ``/`` serves to API clients."""

    async def index(request: Request) -> Response:
        if bundle.index is None:
            return Response(_NOT_BUILT, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)
        return _index_response(bundle.index)

    async def root(request: Request) -> Response:
        names_action = "Action" in request.query_params or "x-acs-action" in request.headers
        if request.method != "GET" or names_action:
            return await root_fallback(request)
        return await index(request)

    async def asset(request: Request) -> Response:
        item = bundle.assets.get(request.path_params["name"])
        return _respond(request, item, IMMUTABLE) if item is not None else _not_found()

    async def favicon(request: Request) -> Response:
        item = bundle.root_files.get("favicon.svg")
        return _respond(request, item, "public, max-age=3600") if item is not None else _not_found()

    return [
        Route("/", root, methods=["GET", "POST"]),
        Route("/ui", index, methods=["GET"]),
        Route("/ui/{path:path}", index, methods=["GET"]),
        Route("/assets/{name}", asset, methods=["GET"]),
        Route("/favicon.svg", favicon, methods=["GET"]),
    ]
