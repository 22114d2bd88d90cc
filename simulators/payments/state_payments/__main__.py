"""``python -m state_payments`` / ``wpis-payments``: serve until SIGTERM."""

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

from state_payments.app import Ledger, PaymentsApp


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="state_payments", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("PAYMENTS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAYMENTS_PORT", "8300")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    try:
        server = make_server(
            args.host, args.port, PaymentsApp(Ledger()), threaded=True,
            request_handler=QuietRequestHandler,
        )  # fmt: skip
    except OSError as error:
        logging.getLogger("state_payments").error("cannot start: %s", error)
        return 1
    print(f"state_payments listening on http://{args.host}:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
