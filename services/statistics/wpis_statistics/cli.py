"""``wpis-statistics rebuild``: ask the running statistics service to empty its
read model and replay every producer's event log (the ``rebuild`` RPC)."""

from __future__ import annotations

import argparse
import json
import os
import sys

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wpis-statistics", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser("rebuild", help="replay every producer's log into a fresh model")
    rebuild.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", DEFAULT_AMQP_URI))
    rebuild.add_argument("--timeout", type=float, default=3600, help="seconds (default 3600)")
    args = parser.parse_args(argv)

    from nameko.standalone.rpc import ClusterRpcClient

    with ClusterRpcClient(uri=args.amqp_uri, timeout=args.timeout) as rpc:
        summary = rpc.statistics.rebuild()
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
