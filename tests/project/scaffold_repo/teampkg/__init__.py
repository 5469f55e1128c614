"""The team's own package, imported by its flows (the scaffold kept flows at the root beside it)."""


def region() -> str:
    return "US"
