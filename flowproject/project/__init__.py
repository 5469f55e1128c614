"""A user's repository: ``flowproject init`` and ``flowproject new`` and their templates.

Builds on config; only the CLI builds on it.
"""

from .scaffold import InitReport, ScaffoldError, init, new_flow

__all__ = ["InitReport", "ScaffoldError", "init", "new_flow"]
