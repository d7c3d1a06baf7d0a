"""Tapewatch: shared contracts (settings, events), the CLI and the local service runners."""

__version__ = "0.1.0"
