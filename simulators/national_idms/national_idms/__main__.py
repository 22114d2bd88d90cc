"""Command line entry point: ``python -m national_idms`` / ``wpis-idms``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from werkzeug.serving import WSGIRequestHandler, make_server

from national_idms.app import IdmsApp, RequestLogMiddleware, utc_now
from national_idms.store import Store

DEV_PARTNER_KEY = "wpis-dev-partner-key"
logger = logging.getLogger("national_idms")


class QuietRequestHandler(WSGIRequestHandler):
    """Suppresses werkzeug's own access log; RequestLogMiddleware writes ours."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="national_idms", description="Simulated national identity management system."
    )
    parser.add_argument("--host", default=os.environ.get("IDMS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("IDMS_PORT", "8100"))
    parser.add_argument(
        "--db",
        default=os.environ.get("IDMS_DB_PATH", "var/national_idms.db"),
        help="SQLite file, or :memory:",
    )
    return parser.parse_args(argv)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(args: argparse.Namespace, partner_key: str) -> None:
    """Open the store, seed it if empty, and serve until interrupted."""
    store = Store(args.db)
    try:
        added = store.seed_if_empty(utc_now().date())
        logger.info("register holds %d persons (%d seeded)", store.count_persons(), added)
        app = RequestLogMiddleware(IdmsApp(store, partner_key))
        server = make_server(
            args.host, args.port, app, threaded=True, request_handler=QuietRequestHandler
        )
        print(f"national_idms listening on http://{args.host}:{server.server_port}", flush=True)
        server.serve_forever()  # returns on KeyboardInterrupt (Ctrl-C or SIGTERM)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    partner_key = os.environ.get("IDMS_PARTNER_KEY", DEV_PARTNER_KEY)
    if partner_key == DEV_PARTNER_KEY:
        logger.warning("using the development partner key; set IDMS_PARTNER_KEY")
    try:
        serve(args, partner_key)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
