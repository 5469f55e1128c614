"""The ``flowproject`` command: argument parsing only; every command calls the library."""

from .main import EXIT_BROKEN_PIPE, build_parser, main

__all__ = ["EXIT_BROKEN_PIPE", "build_parser", "main"]
