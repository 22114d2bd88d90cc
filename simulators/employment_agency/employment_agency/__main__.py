"""``python -m employment_agency`` / ``wpis-employment-agency``: serve until SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from werkzeug.serving import WSGIRequestHandler, make_server

from employment_agency.app import AgencyApp, Register, Rules


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def codes(value: str) -> frozenset[str]:
    return frozenset(code.strip() for code in value.split(",") if code.strip())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="employment_agency", description=__doc__)
    parser.add_argument("--host", default=env("EMPLOYMENT_AGENCY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("EMPLOYMENT_AGENCY_PORT", "8200")))
    parser.add_argument(
        "--answer-after", type=float, default=float(env("EMPLOYMENT_AGENCY_ANSWER_AFTER", "2")),
        help="seconds before the agency answers a request by its rules",
    )  # fmt: skip
    parser.add_argument(
        "--local-candidates", type=codes,
        default=codes(env("EMPLOYMENT_AGENCY_LOCAL", "8153,9313")),
        help="ISCO codes with registered local jobseekers (refused)",
    )  # fmt: skip
    parser.add_argument(
        "--silent", type=codes, default=codes(env("EMPLOYMENT_AGENCY_SILENT", "9999")),
        help="ISCO codes the agency never answers on its own",
    )  # fmt: skip
    return parser.parse_args(argv)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    rules = Rules(args.answer_after, args.local_candidates, args.silent)
    app = AgencyApp(Register(rules))
    try:
        server = make_server(
            args.host, args.port, app, threaded=True, request_handler=QuietRequestHandler
        )
    except OSError as error:
        logging.getLogger("employment_agency").error("cannot start: %s", error)
        return 1
    print(f"employment_agency listening on http://{args.host}:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
