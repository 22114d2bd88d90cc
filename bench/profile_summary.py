"""Summarise py-spy raw (collapsed-stack) profiles into a short text table.

Record while bench/flow.py runs (the service processes are
``python -m wpis_common.runner <service>``):

    py-spy record --nonblocking -d 20 -r 40 -f raw -o gateway.txt --pid <pid>
    python bench/profile_summary.py gateway.txt [more.txt ...] > summary.txt

For each file: samples, the top functions by own time, and the share of
samples spent under a few frames that tell where the time goes (SQLAlchemy,
marshmallow, publishing with confirms, RPC, JSON, logging, HTTP handling).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

MARKERS = {
    "sqlalchemy (ORM + Core)": "sqlalchemy/",
    "sqlite3 execute/commit": "sqlite3",
    "psycopg": "psycopg/",
    "marshmallow (schemas)": "marshmallow/",
    "outbox relay (relay_once)": "relay_once",
    "blocking publish confirm (basic_publish_confirm)": "basic_publish_confirm",
    "nameko rpc (ServiceRpc calls/replies)": "nameko/rpc.py",
    "kombu/amqp (all AMQP I/O)": "amqp/",
    "json encode/decode": "json/",
    "logging": "logging/",
    "werkzeug (HTTP)": "werkzeug/",
    "jinja2 (templates)": "jinja2/",
    "observability (metrics/log context)": "observability.py",
    "eventlet hub (scheduling, I/O wait)": "eventlet/hubs",
}
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:]+):\d+\)$")


def summarise(path: Path, top: int) -> str:
    own: Counter[str] = Counter()
    marker_hits: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        match = FRAME.match(frames[-1])
        leaf = f"{match['func']} ({match['file']})" if match else frames[-1]
        own[leaf] += count
        for label, needle in MARKERS.items():
            if needle in stack:
                marker_hits[label] += count
    lines = [f"== {path.name}: {total} samples (not idle)"]
    lines.append("  under (inclusive share of samples):")
    for label, hits in marker_hits.most_common():
        lines.append(f"    {hits / max(total, 1):6.1%}  {label}")
    lines.append(f"  top {top} functions by own time:")
    for leaf, hits in own.most_common(top):
        lines.append(f"    {hits / max(total, 1):6.1%}  {leaf}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    print("\n\n".join(summarise(path, args.top) for path in args.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
