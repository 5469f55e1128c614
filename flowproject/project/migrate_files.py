"""The non-Python half of ``flowproject migrate``: recognising the scaffold's files and
carrying its ``flowproject.toml`` and ``.env`` over.

The vendored ``flowproject/`` folder and the ``deploy`` script are recognised by content
(SHA-256 of every version the scaffold's history has shipped, line endings normalised),
so a folder the team changed is never deleted behind its back.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import FlowprojectError


class ScaffoldError(FlowprojectError):
    """A scaffold file migrate cannot take over: one line naming it and the fix."""

    headline = "flowproject migrate error"

    def __str__(self) -> str:
        return self.message


# Every version of the scaffold's vendored files (github.com/outerbounds/flowproject history).
VENDORED_HASHES: Dict[str, Tuple[str, ...]] = {
    "__init__.py": (
        "899e38e3bb47d5820c98629262381d1a06d0eaf7d1b260c3a8cd428549fd25ad",
        "abc883b7872ef2b77a7df36af81ea8bac64d7c5591e73a0dff3deb5a0266d5c1",
    ),
    "baseflow.py": (
        "a67ab5597e8b5f9c0b0baa95da6641343a4f4df0c802c50ced75cdaa6914d24c",
        "df2f077768ee94a0fd25e1bdd71861d7e3d2869409a087dea21d59cee71d5c8b",
        "f4a11839cda2607181f8cc7b4bdfa820e55d3f9f548cd2d2e2757a501051e009",
        "f88c7b0b76edd2ccdbb4ebe9fbe1aefd42e076fbf4409c9e7c9f7cc09c7ba363",
    ),
}
SCAFFOLD_DEPLOY_HASHES = ("2926e2f73b5fb6dc93457ee72bde6eb3aba21d977cc2992ab5c85b563fdf061b",)
# What flowproject's own deploy script runs; any other ./deploy is foreign.
FLOWPROJECT_DEPLOY_MARK = "flowproject.cli"
BACKUP_SUFFIX = ".scaffold"

# .env variables that become [launch] keys; every other one goes to [launch] env.
LAUNCH_KEYS = {
    "METAFLOW_ENVIRONMENT": "environment",
    "METAFLOW_PACKAGE_SUFFIXES": "package_suffixes",
    "METAFLOW_DEFAULT_DATASTORE": "datastore",
    "METAFLOW_DEFAULT_METADATA": "metadata",
}
SECRET_NAME_RE = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY)", re.I)
# The scaffold ships these as "fill me in" values; they mean unset.
PLACEHOLDERS = ("...", "\u2026")
# The event migrate gives a scaffold sensor that published none (event_name = "").
DEFAULT_EVENT = "data_changed"


def digest(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def vendored_files(folder: Path) -> List[Path]:
    """The files of a vendored ``flowproject/`` folder, caches left out."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def check_vendored(folder: Path, label: str) -> List[Path]:
    """The files to delete when ``folder`` is the scaffold's vendored copy; a one-line
    ScaffoldError naming the first file that is not."""
    files = vendored_files(folder)
    for path in files:
        rel = path.relative_to(folder).as_posix()
        known = VENDORED_HASHES.get(rel)
        if known is None or digest(path.read_bytes()) not in known:
            raise ScaffoldError(
                msg="%s/%s is not a file of the Outerbounds scaffold's flowproject/ folder (changed or added); "
                "move what you need out of %s/ and delete it, then run flowproject migrate again" % (label, rel, label)
            )
    return files


def is_flowproject_deploy(text: str) -> bool:
    return FLOWPROJECT_DEPLOY_MARK in text


def is_scaffold_deploy(text: str) -> bool:
    """The scaffold's ``deploy`` (by hash), or one shaped like it (loops over ``*flow.py``
    running ``argo-workflows create``)."""
    if digest(text.encode("utf-8")) in SCAFFOLD_DEPLOY_HASHES:
        return True
    return "argo-workflows create" in text and not is_flowproject_deploy(text)


def runs_old_deploy(workflow_text: str) -> bool:
    """A GitHub workflow that runs the repository's ``./deploy`` and is not flowproject's."""
    return (
        "flowproject" not in workflow_text
        and re.search(r"(^|[\s;&|])(\./deploy|bash deploy)\b", workflow_text, re.M) is not None
    )


def parse_dotenv(text: str, label: str) -> List[Tuple[str, str]]:
    """``NAME=value`` lines (``export`` and quotes allowed, ``#`` comments skipped)."""
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ScaffoldError(msg="%s:%d: expected NAME=value; got %r" % (label, number, raw[:60]))
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out.append((name, value))
    return out


def launch_from_dotenv(pairs: List[Tuple[str, str]], label: str) -> Tuple[Dict[str, object], List[str]]:
    """The ``[launch]`` table for ``.env``'s settings, and one note per variable left out."""
    launch: Dict[str, object] = {}
    env: Dict[str, str] = {}
    notes = []
    for name, value in pairs:
        if name in LAUNCH_KEYS:
            key = LAUNCH_KEYS[name]
            launch[key] = [s.strip() for s in value.split(",") if s.strip()] if key == "package_suffixes" else value
        elif SECRET_NAME_RE.search(name):
            notes.append(
                "%s: %s looks like a secret and was NOT copied into flowproject.toml; give it to runs "
                "through a secret manager (@secrets, an Outerbounds integration) or your CI's secrets" % (label, name)
            )
        else:
            env[name] = value
    if env:
        launch["env"] = env
    return launch, notes


def migrate_toml(text: str, launch: Optional[Dict[str, object]], sensor_event: bool) -> Tuple[str, List[str]]:
    """The scaffold's ``flowproject.toml`` in flowproject's keys, comments kept (tomlkit).

    ``launch``: the ``[launch]`` table to add (None: leave it); ``sensor_event``: give an
    empty ``[sensor] event_name`` the default event, so downstream flows can wait for it.
    """
    import tomlkit

    changes: List[str] = []
    if not text.endswith("\n"):
        text += "\n"
    doc = tomlkit.parse(text)
    data = doc.get("data")
    if data is not None and "storage_type" in data and "type" not in data:
        # Renamed where it stands: tomlkit would re-add the key at the table's end.
        text = _rename_key(text, "data", "storage_type", "type")
        doc = tomlkit.parse(text)
        data = doc.get("data")
        changes.append("[data] storage_type -> type")
    if data is None:
        data = tomlkit.table()
        doc["data"] = data
    legacy = doc.get("data_kwargs")
    if legacy is not None:
        # Its comments come along: the scaffold explains its keys there.
        for key, item in legacy.value.body:
            if key is None or key.key not in data:
                data.append(key, item)
        del doc["data_kwargs"]
        changes.append("[data_kwargs] merged into [data]")
    for key in ("role", "integration"):
        if str(data.get(key, "")) in PLACEHOLDERS:
            del data[key]
            changes.append("[data] %s placeholder removed" % key)
    if data.get("type") == "snowflake" and "template" not in data:
        data["template"] = "sensor"
        changes.append('[data] template = "sensor" (the scaffold always ran sql/sensor.sql)')
    sensor = doc.get("sensor")
    if sensor is None:
        sensor = tomlkit.table()
        doc["sensor"] = sensor
    if sensor_event and not str(sensor.get("event_name", "")):
        sensor["event_name"] = DEFAULT_EVENT
        changes.append(
            '[sensor] event_name = "%s" (was empty: the scaffold failed its sensor on purpose)' % DEFAULT_EVENT
        )
    if "value" not in sensor:
        sensor["value"] = "scalar"
        changes.append('[sensor] value = "scalar" (self.sensor_value is the single value, as in the scaffold)')
    if launch and "launch" not in doc:
        table = tomlkit.table()
        for key, value in launch.items():
            if isinstance(value, dict):
                inline = tomlkit.inline_table()
                inline.update(value)
                table[key] = inline
            else:
                table[key] = value
        doc.add(tomlkit.nl())
        doc["launch"] = table
        changes.append("[launch] from .env: %s" % ", ".join(launch))
    return tomlkit.dumps(doc), changes


def _rename_key(text: str, table: str, old: str, new: str) -> str:
    """``old = ...`` -> ``new = ...`` on its own line inside ``[table]``."""
    out, current = [], None
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1).strip()
        elif current == table:
            line = re.sub(r"^(\s*)%s(\s*=)" % re.escape(old), r"\g<1>%s\g<2>" % new, line)
        out.append(line)
    return "".join(out)
