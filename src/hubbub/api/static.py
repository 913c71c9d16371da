"""The web client's files, and its service worker with the app shell filled in.

`/sw.js` is web/sw.js with two constants filled in when it is served: SHELL, every file
of the client walked from the directory (so a new module cannot be left out of the
offline cache), and CACHE, a name made from a hash of those files' content (so any change
to any of them is a new release: the browser installs the worker anew and the worker drops
the old cache). Everything else is served as it is (gzipped for browsers that accept it:
`Compressed`), marked `no-cache`: the browser keeps
its copy but revalidates it (ETag, 304) before each use. Without that it may run a copy it
guesses is still fresh (heuristic caching from Last-Modified), and after a release a page
could load a mix of old and new modules that do not fit together.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _WebPath(Convertor[str]):
    """Any path but the API's (/v1/...), so the web client's files never answer for it."""

    regex = r"(?!v1(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("webpath", _WebPath())

SERVICE_WORKER = "sw.js"
SHELL_MARK = "__HUBBUB_SHELL__"
CACHE_MARK = "__HUBBUB_CACHE__"
CACHE_PREFIX = "hubbub-shell-"


@dataclass(frozen=True)
class Shell:
    urls: tuple[str, ...]  # "/" (the page itself), then every client file's URL path
    cache_name: str  # CACHE_PREFIX + a hash of the shell files and the worker's own code


def _is_shell_file(web_dir: Path, path: Path) -> bool:
    rel = path.relative_to(web_dir)
    if rel.as_posix() == SERVICE_WORKER:
        return False  # the worker is fetched by the browser itself, never from the cache
    hidden = any(part.startswith(".") for part in rel.parts)
    return path.is_file() and not hidden and not path.name.endswith("~")


def shell_files(web_dir: Path) -> list[Path]:
    """Every file the client loads: all files under `web_dir` but the worker, in order."""
    return sorted(
        (p for p in web_dir.rglob("*") if _is_shell_file(web_dir, p)),
        key=lambda p: p.relative_to(web_dir).as_posix(),
    )


def build_shell(web_dir: Path) -> Shell:
    digest = hashlib.sha256()
    files = shell_files(web_dir)
    for path in [*files, web_dir / SERVICE_WORKER]:
        content = path.read_bytes()
        name = path.relative_to(web_dir).as_posix().encode()
        digest.update(b"%d:%s:%d:" % (len(name), name, len(content)))
        digest.update(content)
    urls = ("/", *("/" + p.relative_to(web_dir).as_posix() for p in files))
    return Shell(urls, CACHE_PREFIX + digest.hexdigest()[:16])


def _template(web_dir: Path) -> str:
    text = (web_dir / SERVICE_WORKER).read_text(encoding="utf-8")
    for mark in (SHELL_MARK, CACHE_MARK):
        if text.count(mark) != 1:
            raise RuntimeError(f"{web_dir / SERVICE_WORKER} must contain {mark} exactly once")
    return text


def render_service_worker(web_dir: Path) -> str:
    """web/sw.js with SHELL and CACHE filled in from the files as they are now."""
    shell = build_shell(web_dir)
    text = _template(web_dir)
    text = text.replace(SHELL_MARK, json.dumps(list(shell.urls)))
    return text.replace(CACHE_MARK, json.dumps(shell.cache_name))


class RevalidatedFiles(StaticFiles):
    """StaticFiles whose every answer (200 or 304) says `Cache-Control: no-cache`."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


class Compressed:
    """gzip for the client's text files (modules, styles, the page, the manifest) when the
    browser accepts it: about 72 KB of JavaScript and CSS become about 20 KB on the wire,
    which is most of the first load on a phone. Images (already compressed) pass as they
    are. A compressed answer's ETag is made weak, as nginx does: a strong ETag promises
    the same bytes, and gzip's bytes differ from the file's (RFC 9110 8.8.1); revalidation
    (304) works the same with either."""

    def __init__(self, app: ASGIApp) -> None:
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def weaken(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if headers.get("content-encoding") == "gzip" and etag and etag[:2] != "W/":
                    headers["etag"] = "W/" + etag
            await send(message)

        await self.gzip(scope, receive, weaken)


def static_routes(web_dir: Path) -> list[BaseRoute]:
    """`/sw.js` built from the directory, then the directory itself at `/`."""
    _template(web_dir)  # a broken worker template fails at start, not on a browser's visit

    async def service_worker(request: Request) -> Response:
        body = await run_in_threadpool(render_service_worker, web_dir)
        # no-cache: the browser revalidates the worker, so a new release is seen at once
        headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            compressed = await run_in_threadpool(gzip.compress, body.encode(), 6)
            headers["Content-Encoding"] = "gzip"
            return Response(compressed, media_type="text/javascript", headers=headers)
        return Response(body, media_type="text/javascript", headers=headers)

    return [
        Route("/" + SERVICE_WORKER, service_worker, methods=["GET"], name="service-worker"),
        # GET and HEAD of anything outside the API, not a Mount (which takes every method
        # and every path): a method an API path lacks is then its 405, with its Allow
        Route(
            "/{path:webpath}",
            Compressed(RevalidatedFiles(directory=web_dir, html=True)),
            methods=["GET"],
        ),
    ]
