"""Command line entry point: ``python -m sms_gateway`` / ``wpis-sms-gateway``."""

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

from sms_gateway.app import SmsGatewayApp, Store

DEV_API_KEY = "wpis-dev-sms-key"
logger = logging.getLogger("sms_gateway")


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sms_gateway", description="Simulated SMS gateway.")
    parser.add_argument("--host", default=os.environ.get("SMS_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("SMS_GATEWAY_PORT", "8200"))
    return parser.parse_args(argv)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    api_key = os.environ.get("SMS_GATEWAY_API_KEY", DEV_API_KEY)
    if api_key == DEV_API_KEY:
        logger.warning("using the development API key; set SMS_GATEWAY_API_KEY")
    try:
        server = make_server(
            args.host,
            args.port,
            SmsGatewayApp(Store(), api_key),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
    except OSError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    print(f"sms_gateway listening on http://{args.host}:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM
        server.serve_forever()
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
