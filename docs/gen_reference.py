"""The generated pages of the documentation site, so the reference cannot drift from the code.

Run by MkDocs as a hook (``hooks:`` in mkdocs.yml): ``on_files`` adds three pages that exist
only in the built site, and ``on_page_markdown`` puts the layer diagram where a page asks for
it with ``<!-- layers diagram -->``:

- ``reference/flowproject-toml.md``: every key of ``flowproject.toml``, read from the field
  tables of ``flowproject/config/schema.py`` and ``config/flows.py``. The "expects" column is
  the checker's own error text (what a bad value is told), the default is the table's.
  Only the meaning is written here, in MEANINGS, and the build fails when a key has none or
  MEANINGS names a key the schema no longer has.
- ``reference/cli.md``: every ``flowproject`` command, from ``flowproject.cli.main.build_parser``.
- ``reference/modules.md``: every module and the first line of its docstring, by concept folder.

``python docs/gen_reference.py toml|cli|modules|diagram`` prints one of them.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Tuple

REPO = Path(__file__).resolve().parent.parent
# Document this checkout's tables, not whichever flowproject happens to be installed.
sys.path.insert(0, str(REPO))

TOML_PAGE = "reference/flowproject-toml.md"
CLI_PAGE = "reference/cli.md"
MODULES_PAGE = "reference/modules.md"
DIAGRAM_MARKER = "<!-- layers diagram -->"

# What each key means. Everything else in the reference comes from the schema.
MEANINGS: Dict[str, Dict[str, str]] = {
    "data": {
        "type": "What the sensor watches (see [Sources](../sources.md)).",
        "check_mode": "For `local`/`s3`: a folder/prefix's files (path, size, modified time), "
        "or one file's modified time or size.",
        "path": "`local`: the file or folder to watch, relative to the config file's folder.",
        "bucket": "`s3`: the bucket (required for `s3`); `s3://name` works too, and "
        "`s3://name/prefix` also sets `key` (an error if `key` says otherwise).",
        "key": "`s3`: the object key, or the prefix for `files_metadata` (required for `s3`; "
        'may be `""` for a whole bucket with `files_metadata`).',
        "role": "`s3`: an IAM role ARN to assume through STS before reading.",
        "integration": "`snowflake`: the Outerbounds integration name, when running on Outerbounds.",
        "template": "`snowflake`: the query file `sql/<template>.sql` (required for `snowflake`).",
        "params": "`snowflake`: query parameters, bound by the connector.",
        "timeout_seconds": "`snowflake`: the statement timeout, and the client's: login and every "
        "query give up after about this long.",
        "cursor_column": '`snowflake`, `[sensor] emit = "items"`: the column whose greatest value seen is '
        "the cursor, bound as `%(cursor)s` (see [Item-level sensors](../items.md)).",
        "cursor_start": "The cursor of a branch's first tick (a string, a number or a TOML date-time).",
        "key_columns": "The columns whose values identify a row item (default: all columns).",
    },
    "sensor": {
        "cron_schedule": "When a `@scheduled` flow runs once deployed (UTC).",
        "event_name": "The event published on change; unset: changes are recorded but no event is sent.",
        "payload_key": "The payload key that carries the new value.",
        "publish_on_first_run": "Whether the first run of a branch (nothing to compare with) publishes.",
        "publish_timeout_seconds": "One deadline for the whole publish of an event (connecting, retrying "
        "a refused connection, sending, waiting for the answer); past it the run fails.",
        "lease_seconds": "How long a tick may hold its branch's lease before another tick may take it "
        "over (longer than any tick should run).",
        "card": "Render the SensorFlow card on every tick (costs a second process per tick).",
        "value": "What `self.sensor_value` is downstream: `rows`, or `scalar` (the single cell of a "
        "one-row one-column result; `flowproject migrate` writes it for scaffold flows).",
        "emit": "`change`: one event when the data changed; `items`: one event per new, changed "
        "(or removed) item (see [Item-level sensors](../items.md)).",
        "items_per_event": "`items`: how many items one event carries (more than 1: a list under `items`).",
        "max_events_per_tick": "`items`: at most this many events per tick; the rest go with the next tick.",
        "emit_removed": "`items`: also publish removed items.",
        "dedupe": "Consumers run once per item `dedupe_key` (as `@on_sensor_event(dedupe=True)`).",
        "dedupe_claim_seconds": "How long a consumer's claim on a `dedupe_key` blocks others before it expires.",
    },
    "launch": {
        "environment": "Metaflow's `--environment` for every `./deploy` (`pypi`, `conda`, `uv`, `fast-bakery`, or `local`, Metaflow's default; "
        "`./deploy --environment` overrides it): `@pypi`/`@conda` steps get their packages built. "
        "Not applied to local runs (see [Launch settings](../launch.md)).",
        "package_suffixes": "File endings added to Metaflow's own for the code package, in runs, Runner "
        "and `./deploy` alike: the files beside the flow with them ship to pods.",
        "datastore": "Metaflow's `--datastore` for `./deploy` (local runs: `METAFLOW_DEFAULT_DATASTORE`).",
        "metadata": "Metaflow's `--metadata` for `./deploy` (local runs: `METAFLOW_DEFAULT_METADATA`).",
        "env": "Extra environment variables for every step (local runs, Runner, pods) and every `./deploy` "
        "command (not secrets: they live in git).",
    },
    "deploy": {
        "production_branches": "Git branches that deploy with `--production`.",
        "environments": "Which environment a `--branch` run or deployment uses, by git branch (first "
        "match, in file order); see [Environments](../environments.md).",
    },
    "getters": {
        "read_branch": "The project branch every getter (`get_artifact`, `latest_successful_run`) reads "
        'instead of the run\'s own, e.g. `"prod"` in a feature branch; the run still writes its own '
        "namespace and its `lineage_inputs` record the branch read. Per environment in an overlay; "
        "see [Artifacts](../artifacts.md#reading-another-branch).",
    },
    "getters.<FlowName>": {
        "run_id": 'Pin the run whose artifacts `get_artifact("<FlowName>", ...)` reads instead of the '
        "latest successful one: a run id or `<FlowName>/<run id>` of a successful run (written by "
        "`flowproject pin`, checked by `flowproject pin --check`). A pin wins over `read_branch`.",
        "read_branch": "The branch getters read the producer flow `<FlowName>` from, over `[getters] "
        "read_branch`. A `[getters.<FlowName>]` table needs `run_id` or `read_branch`.",
    },
    "flows.<FlowName>": {
        "parameters": "Defaults for that flow's own Parameters, by Parameter name; each value must have "
        "the Parameter's type. A value may be a [hook](../hooks.md).",
        "tags": "Tags on every run of the flow (local runs at `start`; `./deploy` passes them as `--tag`).",
        "decorators": "Step decorators for every step, in Metaflow's `--with` syntax; one written on the "
        "step itself wins.",
        "cron_schedule": "The schedule of a `@scheduled` flow; unset: `[sensor] cron_schedule`.",
        "timezone": "The time zone of that schedule; unset: UTC.",
        "deploy_branches": "Git branches the flow deploys from; unset: every branch. `./deploy` skips "
        "the flow elsewhere and says so.",
        "launch": "This flow's [launch] keys (`environment`, `package_suffixes`, `datastore`, `metadata`, "
        "`env`) over the project's; `env` tables are merged. See [Launch settings](../launch.md).",
    },
}


class _Expected(Exception):
    pass


def expectation(check: Callable[[Any, Callable[[str], None]], Any]) -> str:
    """What a checker tells a bad value, without "expected": the type column."""

    def fail(expected: str) -> None:
        raise _Expected(expected)

    try:
        check(object(), fail)
    except _Expected as e:
        text = str(e)
        return text[len("expected ") :] if text.startswith("expected ") else text
    raise RuntimeError("checker %r accepted an arbitrary object" % check)


def _default(value: Any, required: object) -> str:
    if value is required:
        return "required"
    if value is None:
        return "unset"
    return "`%s`" % (json.dumps(value) if not isinstance(value, bool) else str(value).lower())


def _cell(text: str) -> str:
    # Docstrings use reST roles (:class:`X`); Markdown shows the name as code.
    return re.sub(r":[a-z]+:`", "`", text).replace("|", "\\|")


def field_tables() -> Dict[str, Mapping[str, Tuple[Any, Any]]]:
    from flowproject.config.flows import FLOW_FIELDS
    from flowproject.config.schema import (
        DATA_FIELDS,
        DEPLOY_FIELDS,
        GETTER_FIELDS,
        GETTERS_FIELDS,
        LAUNCH_FIELDS,
        SENSOR_FIELDS,
    )

    return {
        "data": DATA_FIELDS,
        "sensor": SENSOR_FIELDS,
        "deploy": DEPLOY_FIELDS,
        "launch": LAUNCH_FIELDS,
        "getters": GETTERS_FIELDS,
        "getters.<FlowName>": GETTER_FIELDS,
        "flows.<FlowName>": FLOW_FIELDS,
    }


def toml_reference() -> str:
    from flowproject.config.environments import NOT_IN_OVERLAY
    from flowproject.config.fields import REQUIRED
    from flowproject.config.schema import LEGACY_DATA_TABLE, PROJECT_NAME_MAX, TOP_LEVEL

    tables = field_tables()
    drift = [
        "%s.%s" % (t, k) for t in set(tables) | set(MEANINGS) for k in set(tables.get(t, {})) ^ set(MEANINGS.get(t, {}))
    ]
    if drift:
        raise RuntimeError("docs/gen_reference.py MEANINGS and the schema disagree on: %s" % ", ".join(sorted(drift)))
    covered = {t.split(".")[0] for t in tables} | {"project_name", "environments", "environment"}
    if set(TOP_LEVEL) - covered:
        raise RuntimeError("docs/gen_reference.py does not describe top-level keys: %s" % (set(TOP_LEVEL) - covered))

    rows = [
        "| `project_name` | a Metaflow project name of lowercase letters, digits and `_`, at most %d "
        "characters | required | The Metaflow `@project` name of every flow. |" % PROJECT_NAME_MAX
    ]
    for table, fields in tables.items():
        for key, (check, default) in fields.items():
            rows.append(
                "| `[%s] %s` | %s | %s | %s |"
                % (table, key, _cell(expectation(check)), _default(default, REQUIRED), _cell(MEANINGS[table][key]))
            )
    not_in = ", ".join("`%s`" % k for k in NOT_IN_OVERLAY)
    rows.append(
        "| `[environments.<name>]` | a table shaped like the top level | unset | An overlay merged over "
        "the top level when environment `<name>` applies; any key except %s and `[deploy] environments` "
        "(see [Environments](../environments.md)). |" % not_in
    )
    rows.append(
        "| `environment` | an environment name | from the branch | Forces an environment whatever the "
        "branch. `flowproject validate` writes it in the resolved config; rarely set by hand. |"
    )
    return "\n".join(
        [
            "# `flowproject.toml` reference",
            "",
            "Generated from the schema (`flowproject/config/schema.py`, `config/flows.py`, "
            "`config/environments.py`) when the site is built. *expects* is the text a bad value is "
            "told, after `expected`. How the keys work together: [Configuration](../configuration.md).",
            "",
            "| key | expects | default | meaning |",
            "|---|---|---|---|",
            *rows,
            "",
            "The Outerbounds scaffold's older `[%s]` table is still read as part of `[data]`, with a "
            "deprecation warning." % LEGACY_DATA_TABLE,
            "",
        ]
    )


def _subcommands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[Tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield "%s %s" % (prefix, name), helps.get(name, ""), sub
                yield from _subcommands(sub, "%s %s" % (prefix, name))


def cli_reference() -> str:
    from flowproject.cli.main import build_parser

    # argparse wraps help to the terminal; the page must not depend on who builds it.
    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    out = [
        "# CLI reference",
        "",
        "Generated from the `flowproject` argument parser (`flowproject.cli.main.build_parser`) when "
        "the site is built; `flowproject COMMAND --help` prints the same. Every command exits 2 with "
        "one `error: ...` line on a bad argument or config.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, help_text, sub in _subcommands(parser, "flowproject"):
        out += ["", "## `%s`" % name, ""]
        if help_text:
            out += [help_text[0].upper() + help_text[1:], ""]
        out += ["```text", sub.format_help().rstrip(), "```"]
    return "\n".join(out) + "\n"


def layers() -> List[str]:
    """The concept folders bottom to top, as tests/test_layout.py enforces them (those that
    exist: LAYERS may name a folder before it lands)."""
    tree = ast.parse((REPO / "tests" / "test_layout.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LAYERS" for t in node.targets):
            package = REPO / "flowproject"
            return [
                name
                for name in ast.literal_eval(node.value)
                if not name.startswith("_") and ((package / name).is_dir() or (package / ("%s.py" % name)).exists())
            ]
    raise RuntimeError("tests/test_layout.py has no LAYERS")


def _modules() -> Dict[str, Path]:
    package = REPO / "flowproject"
    found = {}
    for path in sorted(package.rglob("*.py")):
        if "templates" in path.parts:
            continue
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def folder_imports() -> Dict[str, set]:
    """Which concept folder imports which, from every import statement (lazy ones too)."""
    modules = _modules()
    edges: Dict[str, set] = {name: set() for name in layers()}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    targets = [".".join(base + ([node.module] if node.module else []))]
                    if not node.module:
                        targets = [targets[0] + "." + a.name for a in node.names]
                else:
                    targets = [node.module or ""]
            for target in targets:
                src, dst = _folder(name), _folder(target)
                if target.split(".")[0] == "flowproject" and src in edges and dst in edges and src != dst:
                    edges[src].add(dst)
    return edges


def layer_diagram() -> str:
    order = layers()
    edges = folder_imports()
    lines = ["```mermaid", "graph BT"]
    for name in order:
        label = "%s.py" % name if (REPO / "flowproject" / ("%s.py" % name)).exists() else "%s/" % name
        lines.append('    %s["%s"]' % (name, label))
    for src in order:
        for dst in sorted(edges[src], key=order.index):
            lines.append("    %s --> %s" % (src, dst))
    lines += ["```", "", "| folder | owns |", "|---|---|"]
    # Each folder says what it owns in its __init__.py's docstring; the table quotes it.
    for name in reversed(order):
        init = REPO / "flowproject" / name / "__init__.py"
        path = init if init.exists() else REPO / "flowproject" / ("%s.py" % name)
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = doc.strip().split("\n\n")[0].replace("\n", " ")
        lines.append("| `%s` | %s |" % ("%s/" % name if init.exists() else "%s.py" % name, _cell(first)))
    return "\n".join(lines)


def modules_reference() -> str:
    out = [
        "# Modules",
        "",
        "Every module of the package with the first line of its docstring, by concept folder from the "
        "bottom layer up (generated when the site is built). [Architecture](../architecture.md) says "
        "how the folders fit together.",
    ]
    by_folder: Dict[str, List[Tuple[str, str]]] = {}
    for name, path in _modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        by_folder.setdefault(_folder(name), []).append((name, doc.strip().split("\n\n")[0].replace("\n", " ")))
    for folder in ["", *layers(), *sorted(set(by_folder) - set(layers()) - {""})]:
        if folder not in by_folder:
            continue
        out += ["", "## `%s`" % ("flowproject" if not folder else folder), "", "| module | what it is |", "|---|---|"]
        out += ["| `%s` | %s |" % (name, _cell(doc) or "—") for name, doc in by_folder[folder]]
    return "\n".join(out) + "\n"


GENERATED = {TOML_PAGE: toml_reference, CLI_PAGE: cli_reference, MODULES_PAGE: modules_reference}


# -- MkDocs hooks ---------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, make in GENERATED.items():
        files.append(File.generated(config, uri, content=make()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if DIAGRAM_MARKER in markdown:
        markdown = markdown.replace(DIAGRAM_MARKER, layer_diagram())
    return markdown


if __name__ == "__main__":
    choices = {"toml": toml_reference, "cli": cli_reference, "modules": modules_reference, "diagram": layer_diagram}
    if len(sys.argv) != 2 or sys.argv[1] not in choices:
        sys.exit("usage: python docs/gen_reference.py %s" % "|".join(choices))
    print(choices[sys.argv[1]]())
