"""The service worker's app shell is derived from web/, so a new client file cannot be left
out of the offline cache, and its cache name follows the files' content, so every release
gets a new cache."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from hubbub.api.static import (
    CACHE_MARK,
    CACHE_PREFIX,
    SHELL_MARK,
    build_shell,
    render_service_worker,
    static_routes,
)
from hubbub.app import WEB_DIR
from tests.support import ServerProcess

# `import ... from './x.js'`, `export ... from './x.js'`, `import './x.js'`, `import('./x.js')`
IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*['"]([^'"]+)['"]""")


def client_files(web_dir: Path) -> list[Path]:
    return [p for p in web_dir.rglob("*") if p.is_file() and p.name != "sw.js"]


def url_of(path: Path, web_dir: Path = WEB_DIR) -> str:
    return "/" + path.relative_to(web_dir).as_posix()


def test_every_client_file_is_in_the_shell() -> None:
    shell = build_shell(WEB_DIR)
    assert shell.urls[0] == "/"
    assert "/sw.js" not in shell.urls
    modules = [p for p in client_files(WEB_DIR) if p.suffix == ".js"]
    assert modules
    for path in client_files(WEB_DIR):
        assert url_of(path) in shell.urls, path
    assert {"/index.html", "/app.js", "/style.css", "/manifest.webmanifest"} <= set(shell.urls)


def test_every_import_and_page_reference_is_a_shell_file() -> None:
    shell = set(build_shell(WEB_DIR).urls)
    for module in [p for p in client_files(WEB_DIR) if p.suffix == ".js"]:
        for spec in IMPORT.findall(module.read_text()):
            assert spec.startswith(("./", "../")) and spec.endswith(".js"), (module, spec)
            target = (module.parent / spec).resolve()
            assert target.is_file(), (module, spec)
            assert url_of(target, WEB_DIR.resolve()) in shell, (module, spec)
    page = (WEB_DIR / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="(/[^"]*)"', page):
        assert ref in shell, ref


def test_the_cache_name_follows_the_content(tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(WEB_DIR, web)
    first = build_shell(web)
    assert first.cache_name.startswith(CACHE_PREFIX)
    assert build_shell(web) == first  # the same files: the same name
    css = web / "style.css"
    original = css.read_bytes()
    css.write_bytes(original + b"\n/* changed */\n")
    assert build_shell(web).cache_name != first.cache_name
    css.write_bytes(original)
    assert build_shell(web) == first  # named after the content, not the time
    (web / "features").mkdir(exist_ok=True)
    (web / "features" / "later.js").write_text("export const later = 1;\n")
    added = build_shell(web)
    assert "/features/later.js" in added.urls
    assert added.cache_name != first.cache_name
    (web / "features" / "later.js").unlink()
    worker = web / "sw.js"
    worker.write_text(worker.read_text() + "\n// a new worker\n")
    assert build_shell(web).cache_name != first.cache_name  # the worker's own code counts


def test_the_worker_is_filled_in_and_a_broken_template_fails_at_start(tmp_path: Path) -> None:
    text = render_service_worker(WEB_DIR)
    shell = build_shell(WEB_DIR)
    assert SHELL_MARK not in text and CACHE_MARK not in text
    assert f"const SHELL = {json.dumps(list(shell.urls))};" in text
    assert f"const CACHE = {json.dumps(shell.cache_name)};" in text
    web = tmp_path / "web"
    shutil.copytree(WEB_DIR, web)
    (web / "sw.js").write_text("const CACHE = 'hubbub-shell-v1';\n")
    with pytest.raises(RuntimeError, match=SHELL_MARK):
        static_routes(web)


def test_the_server_serves_the_worker_with_the_shell(server: ServerProcess) -> None:
    res = httpx.get(server.url + "/sw.js")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/javascript")
    assert res.headers["cache-control"] == "no-cache"
    assert res.text == render_service_worker(WEB_DIR)
    with httpx.Client(base_url=server.url) as client:
        for url in build_shell(WEB_DIR).urls:  # what the worker caches at install: all there
            assert client.get(url).status_code == 200, url


def test_client_files_are_revalidated_before_each_use(server: ServerProcess) -> None:
    """`no-cache` on every client file: a browser may not guess a copy is fresh (it would,
    from Last-Modified) and then run old modules beside new ones after a release."""
    with httpx.Client(base_url=server.url) as client:
        for url in build_shell(WEB_DIR).urls:
            res = client.get(url)
            assert res.headers["cache-control"] == "no-cache", url
            again = client.get(url, headers={"If-None-Match": res.headers["etag"]})
            assert again.status_code == 304, url  # revalidating is cheap
            assert again.headers["cache-control"] == "no-cache", url


def test_client_files_go_out_compressed(server: ServerProcess) -> None:
    """gzip for the text files when the browser accepts it (a fresh phone downloads a
    third of the bytes), the same bytes after decompressing, weak ETags that still
    revalidate; images pass as they are, and a client without gzip gets the file."""
    with httpx.Client(base_url=server.url) as client:
        sent = plain = 0
        for url in build_shell(WEB_DIR).urls:
            identity = client.get(url, headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in identity.headers, url
            zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
            assert zipped.content == identity.content, url  # httpx decompresses
            plain += len(identity.content)
            if url.endswith((".png",)):
                assert "content-encoding" not in zipped.headers, url
                sent += len(identity.content)
                continue
            if len(identity.content) < 1024:
                sent += len(identity.content)
                continue
            assert zipped.headers["content-encoding"] == "gzip", url
            assert zipped.headers["etag"].startswith("W/"), url
            assert "accept-encoding" in zipped.headers["vary"].lower(), url
            sent += int(zipped.headers["content-length"])
            again = client.get(
                url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
            )
            assert again.status_code == 304, url
        assert sent < plain / 2  # what a first visit downloads, at most half
        worker = client.get("/sw.js", headers={"Accept-Encoding": "gzip"})
        assert worker.headers["content-encoding"] == "gzip"
        assert worker.text == render_service_worker(WEB_DIR)
