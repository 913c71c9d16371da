"""The Store and Bus contract suites: fixtures live in tests/conftest.py (PostgreSQL)
and tests/bus_fixtures.py (Redis)."""
