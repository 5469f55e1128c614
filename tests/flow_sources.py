"""The text of the BaseFlow files tests write into throwaway projects: one template, so a
test states only what its flow adds (a decorator, what start and end do), not the
boilerplate around it."""

from __future__ import annotations

import textwrap


def _block(code: str, indent: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip("\n"), indent) + "\n" if code else ""


def base_flow(
    name: str,
    start: str = "",
    end: str = "pass",
    *,
    decorator: str = "",
    metaflow: str = "step",
    flowproject: str = "BaseFlow",
    head: str = "",
    body: str = "",
) -> str:
    """A flow file: BaseFlow ``name`` whose ``start`` runs the ``start`` lines, then goes to
    ``end``, which runs the ``end`` lines. ``metaflow``/``flowproject`` are what the file
    imports from each, ``head`` lines come before those imports, ``decorator`` before the
    class, ``body`` (class attributes such as Parameters) before its steps."""
    return (
        "%sfrom metaflow import %s\nfrom flowproject import %s\n\n\n%sclass %s(BaseFlow):\n%s"
        "    @step\n    def start(self):\n%s        self.next(self.end)\n\n"
        '    @step\n    def end(self):\n%s\n\nif __name__ == "__main__":\n    %s()\n'
    ) % (
        _block(head, ""),
        metaflow,
        flowproject,
        _block(decorator, ""),
        name,
        _block(body, "    ") + "\n" if body else "",
        _block(start, "        "),
        _block(end, "        "),
        name,
    )


# Argo's rules, written as a user would: one namespaced event and one literal one.
JOIN_TRIGGER = """
@trigger(events=[{"name": namespaced_event_name("orders"), "parameters": {"day": "date"}},
                 {"name": "prices", "parameters": {"currency": "cur"}}])
"""


def join_flow(
    name: str, default: str, start: str = "", metaflow: str = "Parameter, namespaced_event_name, step, trigger"
) -> str:
    """A flow ``name`` that starts once both of JOIN_TRIGGER's events arrived; its Parameters
    ``day`` and ``currency`` (``default`` when no event sets them) come from the payloads."""
    params = 'day = Parameter("day", default="%s")\ncurrency = Parameter("currency", default="%s")' % (default, default)
    return base_flow(name, start, decorator=JOIN_TRIGGER, metaflow=metaflow, body=params)
