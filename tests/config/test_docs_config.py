"""The flowproject.toml examples of the per-flow options, environments and hooks pages parse
and mean what the pages say (the key reference is generated: tests/docs)."""

from __future__ import annotations

import re

import pytest
from conftest import doc_text

from flowproject import config

PAGES = ("flow-options.md", "environments.md", "hooks.md")


def blocks(text: str, lang: str):
    return re.findall(r"```%s\n(.*?)```" % lang, text, flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_each_page_has_a_complete_example_that_validates(tmp_path, page):
    (toml,) = blocks(doc_text(page), "toml")
    path = tmp_path / "flowproject.toml"
    path.write_text(toml)
    for code in blocks(doc_text(page), "python"):
        # "# hooks/launch.py (...)": write the page's hook module where it says.
        target = code.splitlines()[0].split()[1]
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / target).write_text(code)
        (tmp_path / target).parent.joinpath("__init__.py").touch()
    resolved = config.load(path)
    assert resolved["project_name"] == "churn"
    if page == "flow-options.md":
        assert resolved["flows"]["TrainFlow"]["parameters"]["epochs"] == 20
        assert resolved["flows"]["SensorFlow"]["timezone"] == "Europe/Paris"
    if page == "environments.md":
        prod = config.load(path, environment="production")
        assert prod["data"]["bucket"] == "churn-prod" and prod["data"]["key"] == "exports/"
        assert prod["flows"]["TrainFlow"]["parameters"]["epochs"] == 50
        assert config.load(path, environment="staging")["data"]["bucket"] == "churn-staging"
    if page == "hooks.md":
        assert re.fullmatch(r"exports/\d{4}-\d\d-\d\d/", resolved["data"]["key"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", resolved["flows"]["TrainFlow"]["parameters"]["cutoff"])
