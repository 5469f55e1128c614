"""The README's tick figures are the benchmark's output, not typed-in numbers: the block
between the markers is exactly what ``benchmarks/sensor_run.py --write-readme`` writes for
the figures it quotes."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _benchmark():
    sys.path.insert(0, str(REPO / "benchmarks"))  # sensor_run imports its _common sibling
    try:
        spec = importlib.util.spec_from_file_location("sensor_run", REPO / "benchmarks" / "sensor_run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def _pattern(template: str) -> str:
    # "{tick:.2f}" -> a named group; everything else literal.
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)(?::[^}]*)?\}", template):
        out.append(re.escape(template[pos : m.start()]))
        out.append("(?P<%s>[^ ;,()]+?)" % m.group(1))
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return "".join(out)


def test_the_readme_quotes_the_benchmark_block_verbatim():
    bench = _benchmark()
    text = (REPO / "README.md").read_text()
    found = re.search(re.escape(bench.BEGIN) + "\n(.*?)\n" + re.escape(bench.END), text, flags=re.S)
    assert found, "README.md lost its sensor_run figures block"
    match = re.fullmatch(_pattern(bench.FIGURES), found.group(1))
    assert match, "the README's figures are not the benchmark's lines:\n%s" % found.group(1)
    values = {
        k: (v if k in ("date", "python", "metaflow") else float(v) if "." in v else int(v))
        for k, v in match.groupdict().items()
    }
    assert bench.readme_block(values) == found.group(0)
