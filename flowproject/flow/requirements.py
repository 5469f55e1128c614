"""What a remote step must install, read from ONE place: pyproject.toml's extras.

``extra_requirements("snowflake")`` reads ``[project.optional-dependencies] snowflake``
from the ``pyproject.toml`` beside the ``flowproject`` package (the repository checkout,
and the code package, which carries it), and falls back to the installed distribution's
metadata (``importlib.metadata``) for a wheel install. Versions are never repeated in code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from ..errors import FlowprojectError

DISTRIBUTION = "flowproject"
# name[extras] then the version spec; markers (after ';') are handled separately.
_REQUIREMENT_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*(.*?)\s*$")
_EXTRA_MARKER_RE = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


class RequirementsError(FlowprojectError):
    headline = "flowproject requirements error"


def pyproject_path() -> Path:
    return Path(__file__).resolve().parents[2] / "pyproject.toml"


def _from_pyproject(path: Path, extra: str) -> Optional[List[str]]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise RequirementsError(msg="%s: cannot be read: %s" % (path, e)) from None
    if project.get("name") != DISTRIBUTION:
        # Some other project's pyproject.toml next to an installed copy: not ours to read.
        return None
    extras = project.get("optional-dependencies", {})
    if extra not in extras:
        raise RequirementsError(
            msg="%s: project.optional-dependencies.%s: no such extra; known: %s"
            % (path, extra, ", ".join(sorted(extras)) or "none")
        )
    return list(extras[extra])


def _from_metadata(extra: str) -> Optional[List[str]]:
    from importlib import metadata

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    out = []
    for req in requires:
        spec, _, marker = req.partition(";")
        found = _EXTRA_MARKER_RE.search(marker)
        if found and found.group(1) == extra:
            out.append(spec.strip())
    return out


def parse(requirements: Iterable[str]) -> Dict[str, str]:
    """``["boto3>=1.28"]`` -> ``{"boto3": ">=1.28"}``, the shape ``@pypi(packages=...)`` takes."""
    packages = {}
    for req in requirements:
        spec = req.split(";", 1)[0]
        m = _REQUIREMENT_RE.match(spec)
        if not m:
            raise RequirementsError(msg="cannot parse requirement %r" % req)
        packages[m.group(1)] = m.group(2).replace(" ", "")
    return packages


def extra_requirements(extra: str) -> Dict[str, str]:
    """The packages of the ``extra`` extra as ``{name: version spec}``."""
    path = pyproject_path()
    found = _from_pyproject(path, extra) if path.is_file() else None
    if found is None:
        found = _from_metadata(extra)
    if found is None:
        raise RequirementsError(
            msg="extra %r: no flowproject pyproject.toml at %s and flowproject is not installed" % (extra, path)
        )
    return parse(found)
