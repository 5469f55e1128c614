"""The README's flowproject.toml examples for per-flow options, environments and hooks parse,
and the key reference table names every key."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from flowproject import config
from flowproject.config.flows import FLOW_FIELDS
from flowproject.config.schema import DATA_FIELDS, DEPLOY_FIELDS, GETTER_FIELDS, SENSOR_FIELDS

README = (REPO / "README.md").read_text()
SECTIONS = ("## Per-flow options", "## Environments", "## Hooks")


def section(title: str) -> str:
    return README.split(title, 1)[1].split("\n## ", 1)[0]


def blocks(text: str, lang: str):
    return re.findall(r"```%s\n(.*?)```" % lang, text, flags=re.S)


@pytest.mark.parametrize("title", SECTIONS)
def test_each_section_has_a_complete_example_that_validates(tmp_path, title):
    (toml,) = blocks(section(title), "toml")
    path = tmp_path / "flowproject.toml"
    path.write_text(toml)
    for code in blocks(section(title), "python"):
        # "# hooks/launch.py (...)": write the README's hook module where it says.
        target = code.splitlines()[0].split()[1]
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / target).write_text(code)
        (tmp_path / target).parent.joinpath("__init__.py").touch()
    resolved = config.load(path)
    assert resolved["project_name"] == "churn"
    if title == "## Per-flow options":
        assert resolved["flows"]["TrainFlow"]["parameters"]["epochs"] == 20
        assert resolved["flows"]["SensorFlow"]["timezone"] == "Europe/Paris"
    if title == "## Environments":
        prod = config.load(path, environment="production")
        assert prod["data"]["bucket"] == "churn-prod" and prod["data"]["key"] == "exports/"
        assert prod["flows"]["TrainFlow"]["parameters"]["epochs"] == 50
        assert config.load(path, environment="staging")["data"]["bucket"] == "churn-staging"
    if title == "## Hooks":
        assert re.fullmatch(r"exports/\d{4}-\d\d-\d\d/", resolved["data"]["key"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", resolved["flows"]["TrainFlow"]["parameters"]["cutoff"])


def test_the_key_reference_names_every_key():
    table = section("## `flowproject.toml` reference")
    tables = {
        "data": DATA_FIELDS,
        "sensor": SENSOR_FIELDS,
        "deploy": DEPLOY_FIELDS,
        "getters.<FlowName>": GETTER_FIELDS,
        "flows.<FlowName>": FLOW_FIELDS,
    }
    for name, fields in tables.items():
        for key in fields:
            assert "| `[%s] %s` |" % (name, key) in table, (name, key)
    for key in ("project_name", "environment", "[environments.<name>]"):
        assert "| `%s` |" % key in table, key
