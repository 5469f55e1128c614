"""The ``flowproject`` command: argument parsing only; every command calls the library."""

from .main import main

__all__ = ["main"]
