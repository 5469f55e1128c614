"""The Vega-Lite JSON schema that altair ships (offline), for tests that check a chart spec."""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any, Dict


@functools.cache
def _validator() -> Any:
    import jsonschema

    # altair 6 ships the v6 schema: the major version Metaflow's card viewer bundles.
    text = (importlib.resources.files("altair") / "vegalite/v6/schema/vega-lite-schema.json").read_text()
    return jsonschema.Draft7Validator(json.loads(text))


def assert_valid_vega_lite(spec: Dict[str, Any]) -> None:
    """Fail with the schema's own messages (innermost first) when ``spec`` is not Vega-Lite 6."""
    errors = list(_validator().iter_errors(spec))
    details = [c.message[:200] for e in errors for c in sorted(e.context or [], key=lambda c: -len(c.absolute_path))]
    assert not errors, details[:5] or [e.message[:200] for e in errors]
