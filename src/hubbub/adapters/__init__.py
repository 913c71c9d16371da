"""Adapters: one module (or package) per engine, each implementing a port of hubbub.ports."""
