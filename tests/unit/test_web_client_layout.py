"""The web client's source keeps its shape (static checks of web/, no browser): small ES
modules, mutable state in state.js alone, and user data put into the page only as text."""

from __future__ import annotations

import re
from pathlib import Path

from hubbub.app import WEB_DIR

MAX_LINES = 400
STATE = WEB_DIR / "state.js"
WORKER = WEB_DIR / "sw.js"


def modules() -> list[Path]:
    found = sorted(p for p in WEB_DIR.rglob("*.js") if p != WORKER)
    assert STATE in found and WEB_DIR / "app.js" in found
    return found


def rel(path: Path) -> str:
    return path.relative_to(WEB_DIR).as_posix()


def imported_from_state(module: Path) -> set[str]:
    names: set[str] = set()
    for group in re.findall(
        r"import\s*\{([^}]*)\}\s*from\s*'(?:\./|(?:\.\./)+)state\.js'", module.read_text()
    ):
        names.update(n.strip() for n in group.split(",") if n.strip())
    return names


def test_no_client_file_is_over_400_lines() -> None:
    for path in [*modules(), WORKER, *WEB_DIR.glob("*.html"), *WEB_DIR.glob("*.css")]:
        lines = path.read_text().count("\n")
        assert lines <= MAX_LINES, f"{rel(path)} has {lines} lines"


def test_index_loads_the_theme_script_and_the_entry_module_only() -> None:
    """No inline script (the CSP forbids it): theme.js, a classic script that sets the
    colour theme before the first paint, then the entry module."""
    page = (WEB_DIR / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", page) == [
        '<script src="/theme.js">',
        '<script type="module" src="/app.js">',
    ]


def test_only_state_js_holds_mutable_state_at_top_level() -> None:
    top_level_state = re.compile(
        r"^(?:export\s+)?(?:let|var)\s|^(?:export\s+)?const\s+\w+\s*=\s*new\s+(?:Weak)?Map\(", re.M
    )
    for path in modules():
        if path != STATE:
            assert not top_level_state.findall(path.read_text()), rel(path)
    assert top_level_state.findall(STATE.read_text())


def test_state_is_changed_only_through_its_mutators() -> None:
    """An imported binding is read-only (assigning it throws, but only when that line runs):
    no module assigns to what it imports from state.js."""
    for path in modules():
        text = path.read_text()
        for name in imported_from_state(path):
            assignment = rf"(?<![.\w]){re.escape(name)}\s*(?:[-+*/]?=(?!=)|\+\+|--)"
            assert not re.search(assignment, text), f"{rel(path)} assigns {name}"


def test_only_state_js_uses_storage() -> None:
    uses = re.compile(r"\b(?:local|session)Storage\.|from\s*'[./]*lib/storage\.js'")
    theme = WEB_DIR / "theme.js"  # reads the appearance before any module runs, never writes
    for path in modules():
        if path not in (STATE, WEB_DIR / "lib" / "storage.js", theme):
            assert not uses.findall(path.read_text()), rel(path)
    assert uses.findall(STATE.read_text())
    assert uses.findall(theme.read_text()) == ["localStorage."]
    key = "'hubbub.appearance'"  # the one key both know
    assert key in theme.read_text() and key in STATE.read_text()


def test_user_data_enters_the_page_only_as_text() -> None:
    markup = re.compile(
        r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\("
    )
    for path in [*modules(), WORKER]:
        assert not markup.findall(path.read_text()), rel(path)
