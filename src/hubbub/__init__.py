"""Hubbub: a chat service. See docs/architecture.md for the layout."""

__version__ = "0.1.0"
