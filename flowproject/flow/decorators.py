"""Step decorators that declare what a step needs on a remote worker.

``@snowflake`` (and ``@requires_extra("s3")``) add Metaflow's ``@pypi`` to the step with
the packages of a pyproject extra, so ``--environment=pypi`` builds them into the step's
environment. Only then: ``@pypi`` refuses to run under the default local environment, and
a plain ``python flow.py run`` should use whatever is installed.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Optional

from metaflow import StepMutator
from metaflow.user_decorators.mutable_step import MutableStep

from .requirements import extra_requirements

# The environments in which @pypi is honoured (PyPIStepDecorator.step_init).
VIRTUAL_ENVIRONMENTS = ("pypi", "conda", "fast-bakery")


def current_environment() -> str:
    """The ``--environment`` of this Metaflow command (``local`` when none was chosen)."""
    try:
        from metaflow.system_context import system_context

        env = system_context.environment
    except ImportError:  # older Metaflow: no system context, read the command line
        env = None
    if env is not None:
        return env.TYPE
    args = sys.argv
    for i, arg in enumerate(args):
        if arg.startswith("--environment="):
            return arg.split("=", 1)[1]
        if arg == "--environment" and i + 1 < len(args):
            return args[i + 1]
    # Metaflow's command line reads METAFLOW_<OPTION> (click's auto_envvar_prefix).
    if os.environ.get("METAFLOW_ENVIRONMENT"):
        return os.environ["METAFLOW_ENVIRONMENT"]
    from metaflow.metaflow_config import DEFAULT_ENVIRONMENT

    return DEFAULT_ENVIRONMENT


class requires_extra(StepMutator):
    """``@requires_extra("s3")``: the step needs the packages of that flowproject extra."""

    extra: Optional[str] = None

    def init(self, *args: Any, **kwargs: Any) -> None:
        if args:
            self.extra = args[0]
        if not self.extra:
            raise ValueError("@requires_extra needs the name of a pyproject extra, e.g. @requires_extra('s3')")

    def mutate(self, mutable_step: MutableStep) -> None:
        # Runs after the command line is parsed, so the chosen environment is known.
        if current_environment() not in VIRTUAL_ENVIRONMENTS:
            return
        assert self.extra is not None  # init refused a step without one
        packages = extra_requirements(self.extra)
        for name, _, _, kwargs in mutable_step.decorator_specs:
            # Only @pypi: under --environment=pypi every step also carries an implicit
            # @conda, and Metaflow refuses a step with both @conda and @pypi packages.
            if name == "pypi":
                # The step's own pins win over the extra's ranges.
                merged: Dict[str, str] = {**packages, **(kwargs.get("packages") or {})}
                mutable_step.add_decorator(
                    "pypi", deco_kwargs={**kwargs, "packages": merged}, duplicates=MutableStep.OVERRIDE
                )
                return
        mutable_step.add_decorator("pypi", deco_kwargs={"packages": packages})


class snowflake(requires_extra):
    """``@snowflake`` on a step: the Snowflake connector is installed for it remotely.

    Versions come from ``pyproject.toml``'s ``snowflake`` extra. Apply it above
    ``@step``; locally the connector must simply be installed (``pip install .[snowflake]``).
    """

    extra = "snowflake"

    def init(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise ValueError("@snowflake takes no arguments")


# [data] type -> the extra its source imports (the local source needs nothing extra).
SOURCE_EXTRAS = {"s3": "s3", "snowflake": "snowflake"}


class requires_source(requires_extra):
    """On the step that observes ``[data]``: the packages of that source's extra.

    SensorFlow's ``start`` carries it, so switching ``[data] type`` to ``s3`` or
    ``snowflake`` needs no code change for ``--environment=pypi`` deployments.
    """

    def init(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise ValueError("@requires_source takes no arguments")

    def mutate(self, mutable_step: MutableStep) -> None:
        config = dict(mutable_step.flow.configs)["flowconfig"]
        self.extra = SOURCE_EXTRAS.get(config["data"]["type"])
        if self.extra:
            super().mutate(mutable_step)
