"""The one answer every source gives: a comparable value, its fingerprint and a summary."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict


def canonical_json(value: Any) -> str:
    """The encoding the fingerprint is taken over: sorted keys, no spaces, no NaN.

    Two equal values always encode to the same text, whatever the dict order, so the
    fingerprint changes exactly when the value does.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fingerprint(value: Any) -> str:
    """sha256 hex digest of ``canonical_json(value)``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Observation:
    """What a source saw.

    ``value`` is JSON-serialisable and compared as a whole to decide "changed";
    ``fingerprint`` is ``fingerprint(value)``; ``summary`` is one short line for humans.
    """

    value: Any
    fingerprint: str
    summary: str

    @classmethod
    def of(cls, value: Any, summary: str) -> Observation:
        return cls(value=value, fingerprint=fingerprint(value), summary=summary)

    def to_dict(self) -> Dict[str, Any]:
        return {"value": self.value, "fingerprint": self.fingerprint, "summary": self.summary}
