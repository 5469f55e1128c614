"""The Python half of ``flowproject migrate``: a scaffold flow file rewritten for BaseFlow.

libcst edits the concrete syntax tree, so everything the rewrite does not touch (comments,
blank lines, quoting, the team's business code) comes back byte for byte. It is imported
only by ``migrate``: nothing else in flowproject needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Set

# The flow decorators the scaffold repeats on every flow and what BaseFlow does instead.
SCHEDULE_EXPR = "flowconfig.sensor.cron_schedule"
SENSOR_FLOW = "SensorFlow"
# Names a flow file may import from metaflow that the rewrite can make unused.
DROPPABLE = {"project", "schedule", "trigger_on_finish", "config_expr"}


@dataclass
class FlowRewrite:
    """A rewritten flow file and what was changed, one phrase per change (for the plan)."""

    text: str
    changes: List[str] = field(default_factory=list)
    flow_classes: List[str] = field(default_factory=list)


def _cst():
    try:
        import libcst
    except ImportError:  # pragma: no cover - libcst is a dependency
        from .scaffold import ScaffoldError

        raise ScaffoldError(msg="flowproject migrate needs libcst: pip install libcst") from None
    return libcst


def _call_name(node) -> Optional[str]:
    cst = _cst()
    target = node.func if isinstance(node, cst.Call) else node
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Attribute):
        return target.attr.value
    return None


def _string_arg(call, name: str) -> Optional[str]:
    cst = _cst()
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name and isinstance(arg.value, cst.SimpleString):
            return arg.value.evaluated_value
    return None


def _is_scaffold_schedule(call) -> bool:
    cst = _cst()
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "cron" and isinstance(arg.value, cst.Call):
            inner = arg.value
            if _call_name(inner) == "config_expr" and inner.args:
                value = inner.args[0].value
                return isinstance(value, cst.SimpleString) and value.evaluated_value == SCHEDULE_EXPR
    return False


def defines_flow(text: str) -> bool:
    """True when ``text`` parses and defines a class deriving from a *Flow/FlowSpec base."""
    cst = _cst()
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return False
    for stmt in module.body:
        if isinstance(stmt, cst.ClassDef):
            for base in stmt.bases:
                name = _call_name(base.value)
                if name and (name.endswith("Flow") or name == "FlowSpec" or name.endswith("FlowBase")):
                    return True
    return False


def rewrite_flow(text: str, *, sensor_event: bool, team_packages: Sequence[str] = ()) -> FlowRewrite:
    """Rewrite one scaffold flow file; ``sensor_event``: the project publishes a sensor
    event, so ``@trigger_on_finish(flow="SensorFlow")`` becomes ``@on_sensor_event``;
    ``team_packages``: imported after flowproject, which puts them on sys.path."""
    _cst()  # the one-line error if libcst is missing
    import libcst as cst  # a module mypy can take base classes from

    module = cst.parse_module(text)
    changes: List[str] = []
    needed: Set[str] = set()

    class Rewriter(cst.CSTTransformer):
        def __init__(self) -> None:
            self.classes: List[str] = []

        def leave_ClassDef(self, original, updated):
            self.classes.append(updated.name.value)
            kept = []
            for dec in updated.decorators:
                expr = dec.decorator
                name = _call_name(expr)
                if name == "project":
                    changes.append("remove @project (BaseFlow applies it)")
                    continue
                if name == "schedule" and isinstance(expr, cst.Call) and _is_scaffold_schedule(expr):
                    changes.append("@schedule(cron=...) -> @scheduled")
                    needed.add("scheduled")
                    kept.append(dec.with_changes(decorator=cst.Name("scheduled")))
                    continue
                if (
                    name == "trigger_on_finish"
                    and sensor_event
                    and isinstance(expr, cst.Call)
                    and _string_arg(expr, "flow") == SENSOR_FLOW
                ):
                    changes.append("@trigger_on_finish(flow=%r) -> @on_sensor_event" % SENSOR_FLOW)
                    needed.add("on_sensor_event")
                    kept.append(dec.with_changes(decorator=cst.Name("on_sensor_event")))
                    continue
                kept.append(dec)
            if len(kept) != len(updated.decorators) or any(a is not b for a, b in zip(kept, updated.decorators)):
                return updated.with_changes(decorators=kept)
            return updated

        def leave_Call(self, original, updated):
            func = updated.func
            if not (
                isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"
            ):
                return updated
            if func.attr.value == "_query_snowflake":
                changes.append("self._query_snowflake -> self.query_snowflake")
                return updated.with_changes(func=func.with_changes(attr=cst.Name("query_snowflake")))
            keywords = {a.keyword.value for a in updated.args if a.keyword is not None}
            if func.attr.value == "query" and "storage_type" in keywords:
                # The scaffold's query(storage_type=, kwargs=, card=) returned the raw value;
                # BaseFlow.query() reads [data] itself and returns an Observation.
                changes.append("self.query(storage_type=...) -> self.query().value")
                call = updated.with_changes(args=[], whitespace_before_args=cst.SimpleWhitespace(""))
                return cst.Attribute(value=call, attr=cst.Name("value"))
            return updated

    rewriter = Rewriter()
    new = module.visit(rewriter)
    if changes:
        new = _fix_imports(new, needed)
    new = _flowproject_first(new, set(team_packages), changes)
    return FlowRewrite(new.code, _dedupe(changes), rewriter.classes)


def _dedupe(items: List[str]) -> List[str]:
    out: List[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _used_names(module) -> Set[str]:
    _cst()  # the one-line error if libcst is missing
    import libcst as cst  # a module mypy can take base classes from

    used: Set[str] = set()

    class Collector(cst.CSTVisitor):
        def visit_ImportFrom(self, node) -> bool:
            return False  # the imported names themselves are not uses

        def visit_Name(self, node) -> None:
            used.add(node.value)

    module.visit(Collector())
    return used


def _fix_imports(module, needed: Set[str]):
    """Drop metaflow names the rewrite left unused; import what it introduced from flowproject."""
    _cst()  # the one-line error if libcst is missing
    import libcst as cst  # a module mypy can take base classes from

    used = _used_names(module)

    class Imports(cst.CSTTransformer):
        def __init__(self) -> None:
            self.added = False

        def leave_ImportFrom(self, original, updated):
            if updated.module is None or isinstance(updated.names, cst.ImportStar):
                return updated
            source = cst.Module([]).code_for_node(updated.module)
            names = list(updated.names)
            if source == "metaflow":
                names = [a for a in names if not (a.name.value in DROPPABLE and a.name.value not in used)]
                if not names:
                    return cst.RemoveFromParent()
            elif source == "flowproject" and not self.added:
                present = {a.name.value for a in names}
                names += [cst.ImportAlias(cst.Name(n)) for n in sorted(needed - present)]
                self.added = True
            if len(names) == len(updated.names) and source != "flowproject":
                return updated
            # Keep the file's style: a trailing comma only where the original had one.
            trailing = not isinstance(updated.names[-1].comma, cst.MaybeSentinel)
            if not trailing:
                names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            elif isinstance(names[-1].comma, cst.MaybeSentinel):
                names[-1] = names[-1].with_changes(comma=updated.names[-1].comma)
            return updated.with_changes(names=names)

    transformer = Imports()
    module = module.visit(transformer)
    if not transformer.added and needed:
        line = cst.parse_statement("from flowproject import %s\n" % ", ".join(sorted(needed)))
        body = list(module.body)
        last_import = max(
            (
                i
                for i, s in enumerate(body)
                if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], (cst.Import, cst.ImportFrom))
            ),
            default=-1,
        )
        body.insert(last_import + 1, line)
        module = module.with_changes(body=body)
    return module


def _top_module(stmt) -> Optional[str]:
    cst = _cst()
    if not isinstance(stmt, cst.SimpleStatementLine) or not stmt.body:
        return None
    node = stmt.body[0]
    if isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative:
        return cst.Module([]).code_for_node(node.module).split(".")[0]
    if isinstance(node, cst.Import):
        return cst.Module([]).code_for_node(node.names[0].name).split(".")[0]
    return None


def _flowproject_first(module, packages: Set[str], changes: List[str]):
    """Move the flowproject import above the first import of a team package."""
    body = list(module.body)
    tops = [_top_module(s) for s in body]
    team = next((i for i, m in enumerate(tops) if m in packages), None)
    ours = next((i for i, m in enumerate(tops) if m == "flowproject"), None)
    if team is None or ours is None or ours < team:
        return module
    stmt = body.pop(ours)
    # Its comment lines stay where they were; the team import keeps its own.
    body.insert(team, stmt.with_changes(leading_lines=[]))
    changes.append("import flowproject before %s (it puts the project's packages on sys.path)" % tops[team])
    return module.with_changes(body=body)
