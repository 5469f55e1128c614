"""BaseFlow: the FlowSpec every flow in a flowproject repository subclasses."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Tuple

# @project is one of the plugin decorators Metaflow adds to its namespace at import time.
from metaflow import Config, FlowMutator, FlowSpec, Parameter, config_expr, project  # type: ignore[attr-defined]
from metaflow.packaging_sys import ContentType

from ..config import loader as _config
from ..config import shadowing as _shadowing
from ..events import current_trigger as _current_trigger
from ..events import eventproof as _eventproof
from ..getters import lineage as _lineage
from ..getters import runs as _runs
from ..getters.run_context import current
from . import duplicates as _duplicates
from . import launch as _launch
from . import lineage_card as _lineage_card
from . import localuser as _localuser
from . import options as _flowoptions
from . import packages as _packages
from . import provenance as _provenance
from . import requirements

if TYPE_CHECKING:
    from ..sources import Observation

# The team's packages beside flowproject.toml import from flows/ (flowproject.flow.packages):
# a flow imports BaseFlow before its own package, so this runs first.
_packages.add_project_root_to_path()

# Flow class name -> the file that defines it. Metaflow evaluates the Config default in
# the *calling* process (under Runner/Deployer sys.argv[0] is not the flow file), and the
# hook only learns the flow's name, so each subclass records its own file when defined.
_FLOW_FILES: Dict[str, Path] = {}


def _defining_file(cls: type) -> Optional[Path]:
    # A flow run as a script is module "__main__" and may not be importable by name,
    # so find the frame executing the class's module body rather than sys.modules.
    frame = inspect.currentframe()
    while frame is not None:
        g = frame.f_globals
        if g.get("__name__") == cls.__module__ and g.get("__file__"):
            return Path(g["__file__"]).resolve()
        frame = frame.f_back
    return None


def flow_file(flow_name: str) -> Optional[Path]:
    """The file that defined the BaseFlow subclass named ``flow_name``, if known."""
    return _FLOW_FILES.get(flow_name)


def _default_config_path(ctx) -> str:
    path = _config.locate(flow_file(ctx.flow_name))
    # Metaflow reads the file itself and would end in a UnicodeDecodeError traceback.
    _config.read_text(path)
    # A vendored flowproject/ beside the config is one line, before anything runs.
    _shadowing.check(path.parent)
    _config.remember_default(path)
    return str(path)


def project_root(flow_name: str) -> Optional[Path]:
    """The folder of the config in use (``sql/`` lives next to it), if there is one.

    The launching process knows the file it chose; a local task process finds it from
    the flow file again; a pod has neither (its templates are in the code package).
    """
    chosen = _config.chosen_file()
    if chosen is not None:
        return Path(chosen).resolve().parent
    origin = flow_file(flow_name)
    found = _config.find_config(origin) if origin else None
    return found.parent if found is not None else None


def _start_and_end(steps: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """The names of the flow's start and end steps, as Metaflow's FlowGraph picks them.

    ``@step(start=True)`` / ``@step(end=True)`` (Metaflow 2.19.23+) mark them on any
    name; unmarked, they are the steps named ``start`` and ``end``; a one-step flow's
    step is both. MutableStep exposes no public way to read the marks, so they are read
    from the step function it wraps.
    """

    def marked(attr: str) -> list:
        return [n for n, s in steps.items() if getattr(getattr(s, "_my_step", None), attr, False)]

    def pick(attr: str, fallback: str) -> Optional[str]:
        names = marked(attr)
        if len(names) == 1:
            return names[0]
        if not names and fallback in steps:
            return fallback
        if not names and len(steps) == 1:
            return next(iter(steps))
        return None  # several marked: Metaflow's lint rejects the flow

    return pick("is_start_step", "start"), pick("is_end_step", "end")


def _business_queries() -> Any:
    """``flowproject.flow.queries``, loaded when a step runs a query: it brings in the
    Snowflake connection code, which most task processes never use."""
    from . import queries

    return queries


class _ProjectWiring(FlowMutator):
    """What BaseFlow adds to every subclass beyond its class attributes.

    - ``sql/`` in the code package: Metaflow packages only the files below the flow's
      own folder; ``flowproject/`` comes along through its METAFLOW_PACKAGE_POLICY, and
      this adds ``sql/`` beside it so templates are found in a pod as in the repo.
    - A recorder on the end step that indexes the run as its branch's latest successful
      one (see ``flowproject.getters.runs``), and git provenance tags from the start step (the
      end step for a ``resume``d run; see ``flowproject.flow.provenance``). The steps are
      found as Metaflow finds them: ``@step(start=True)``/``@step(end=True)`` or by name.
    """

    def pre_mutate(self, mutable_flow) -> None:
        steps = dict(mutable_flow.steps)
        for step in steps.values():
            # current.trigger in local runs started by an event (flowproject.events.triggers).
            step.add_decorator(_current_trigger.local_trigger())
        start, end = _start_and_end(steps)
        for name, step in steps.items():
            # What the run read and what started it (flowproject.getters.lineage).
            step.add_decorator(_lineage.recorder(is_end=name == end))
        if start is not None:
            steps[start].add_decorator(_provenance.tagger())
        if end is not None:
            steps[end].add_decorator(_provenance.resume_tagger())
            steps[end].add_decorator(_runs.recorder())
            if _lineage_card.wanted(mutable_flow):
                _lineage_card.add_to(steps[end])
        # No event may set test_mode on Argo: @trigger's mapping without test-mode.
        _eventproof.pin(mutable_flow)

    def add_to_package(self) -> Iterator[Tuple[str, str, ContentType]]:
        # The mutator instance is shared by every subclass; the package being built is
        # for the flow running in this process.
        root = project_root(current.flow_name or "")
        sql_dir = root / "sql" if root is not None else None
        if sql_dir is not None and sql_dir.is_dir():
            for path in sorted(sql_dir.rglob("*.sql")):
                yield str(path), "sql/%s" % path.relative_to(sql_dir).as_posix(), ContentType.CODE_CONTENT
        # flowproject.flow.requirements reads the extras (the versions @snowflake asks @pypi
        # for) from the pyproject.toml beside the package, in the pod as in the repo.
        # The team's packages sit beside the flow file in the package, as sys.path expects.
        for file, arcname in _packages.package_files(root):
            yield file, arcname, ContentType.CODE_CONTENT
        pyproject = requirements.pyproject_path()
        if pyproject.is_file():
            yield str(pyproject), "pyproject.toml", ContentType.CODE_CONTENT


@_launch.LaunchSettings
@_flowoptions.FlowOptions
@_ProjectWiring
@project(name=config_expr("flowconfig.project_name"))
class BaseFlow(FlowSpec):
    """Subclass this instead of FlowSpec.

    Every subclass gets:

    - ``self.flowconfig``: the validated ``flowproject.toml`` (found by walking up from
      the flow file; ``FLOWPROJECT_CONFIG`` or ``--config flowconfig FILE`` override it).
    - ``@project`` named by ``project_name``, so ``--branch NAME`` and ``--production``
      work on every subclass.
    - ``self.test_mode``: True unless the run is ``--production`` (or ``--test-mode false``).
    """

    flowconfig = Config(
        "flowconfig",
        default=_default_config_path,
        parser=_config.flowconfig_parser,
        help="flowproject.toml (TOML) or its JSON equivalent.",
    )
    test_mode = Parameter(
        "test-mode",
        type=bool,
        # A callable: only at run/deploy time does `current` know about --production.
        default=lambda ctx: not current.is_production,
        help="Run quickly on a subset; defaults to true except for --production.",
    )

    def query(self) -> Observation:
        """Observe ``[data]`` now (see ``flowproject.sources.observe``), tagged with this task."""
        # Sources and queries load when a step uses them, not in every task process.
        from ..sources import observe

        return observe(
            self.flowconfig.data.to_dict(),
            run_pathspec=current.pathspec,
            project_dir=project_root(current.flow_name),
        )

    def query_snowflake(self, sql: Any = None, template: Any = None, card: bool = False) -> list:
        """The scaffold's call: every row of ``sql`` or ``template`` (``name`` or
        ``(name, params)`` for ``sql/<name>.sql``) as a list of tuples; no row cap."""
        return _business_queries().query_snowflake(sql, template, card, self._query_settings())

    def query_rows(self, name: str, params: Any = None) -> list:
        """Every row of ``sql/<name>.sql`` with ``params`` bound (list for ``%s``, dict for ``%(k)s``)."""
        return _business_queries().query_snowflake(None, (name, params), False, self._query_settings())

    def query_batches(self, name: str, params: Any = None, batch_size: int = 10_000) -> Iterator[list]:
        """``sql/<name>.sql``'s rows in lists of at most ``batch_size`` tuples: memory bounded by the batch."""
        return _business_queries().query_batches(name, params, batch_size, self._query_settings())

    def _query_settings(self) -> Dict[str, Any]:
        return _business_queries().source_kwargs(
            self.flowconfig, project_root(current.flow_name or ""), current.pathspec
        )

    def get_artifact(
        self,
        flow_name: str,
        artifact: str,
        *,
        run_id: Optional[str] = None,
        branch: Optional[str] = None,
        project: Optional[str] = None,
        tag: Optional[str] = None,
    ) -> Any:
        """``flowproject.get_artifact`` in this run's project and branch, with this
        flow's ``[getters.<FlowName>]`` pins."""
        from ..getters.artifacts import get_artifact

        return get_artifact(
            flow_name, artifact, run_id=run_id, branch=branch, project=project, config=self.flowconfig, tag=tag
        )

    @property
    def sensor_value(self) -> Any:
        """What SensorFlow saw, in a run its event (or its finishing) started; else None."""
        from ..events.publishing import sensor_value

        return sensor_value(self.flowconfig)

    @property
    def sensor_item(self) -> Any:
        """The item an item event (``[sensor] emit = "items"``) started this run for: a
        dict (``key``, ``change``, ``size``, ``version``, ``dedupe_key``), the list of a
        batch event, or None."""
        from ..events.dedupe import sensor_item

        return sensor_item(self.flowconfig)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # Side effects only once a flow is defined, not on `import flowproject`: a
        # repeated @project/@schedule on a subclass is one line, not a traceback, and a
        # run needs a Metaflow user before Metaflow asks for one.
        _duplicates.install()
        _localuser.ensure_user()
        path = _defining_file(cls)
        if path is not None:
            _FLOW_FILES[cls.__name__] = path


def scheduled(flow_cls: type) -> _flowoptions.scheduled:
    """Class decorator: schedule the flow on ``[sensor] cron_schedule`` when deployed.

    Opt-in per flow (``@scheduled`` above the class) because most flows in a project
    run on events or by hand, not on the sensor's clock. ``[flows.<FlowName>]
    cron_schedule`` and ``timezone`` override it (see ``flowproject.config.flows``).
    """
    return _flowoptions.scheduled(flow_cls)
