"""The Store on PostgreSQL (asyncpg) with group commit, for several nodes sharing one
database. synchronous_commit stays on: a write is durable when its call returns."""

from hubbub.adapters.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
