"""The embedded default: SQLite in WAL mode with synchronous=FULL and group commit."""

from hubbub.adapters.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
