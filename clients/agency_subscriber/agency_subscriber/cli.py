"""``wpis-agency-subscriber``: run a subscriber until stopped (SIGTERM or Ctrl-C).

    wpis-agency-subscriber --queue agency.police.permits \
        --bind permits:permit_issued --bind permits:permit_revoked \
        --state police.db --handler agency_subscriber.handlers:record
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from agency_subscriber.subscriber import Subscriber, SubscriberConfig, load_handler, parse_bindings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="wpis-agency-subscriber",
        description="Replay missed WPIS events over HTTP, then follow them live over AMQP.",
    )
    parser.add_argument(
        "--amqp-uri",
        default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/%2F"),
        help="the broker (default: $AMQP_URI)",
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("WPIS_API_URL", "http://127.0.0.1:8000/api/v1"),
        help="the WPIS API, for replay (default: $WPIS_API_URL)",
    )
    parser.add_argument("--api-token", default=os.environ.get("WPIS_API_TOKEN"))
    parser.add_argument("--queue", required=True, help="your durable queue's name")
    parser.add_argument(
        "--bind",
        action="append",
        required=True,
        metavar="PRODUCER:EVENT_TYPE",
        help="an event to receive, e.g. permits:permit_issued (repeat)",
    )
    parser.add_argument("--state", required=True, help="SQLite file: positions, handled ids")
    parser.add_argument(
        "--handler",
        default="agency_subscriber.handlers:record",
        help="module:function called as handler(event, tx) (default: record in --state)",
    )
    parser.add_argument("--queue-type", choices=("classic", "quorum"), default="classic")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = SubscriberConfig(
        amqp_uri=args.amqp_uri,
        api_url=args.api_url,
        queue=args.queue,
        bindings=parse_bindings(args.bind),
        state_path=args.state,
        queue_type=args.queue_type,
        api_token=args.api_token,
    )
    subscriber = Subscriber(config, load_handler(args.handler))
    signal.signal(signal.SIGTERM, lambda *_: subscriber.stop())
    try:
        subscriber.run()
    except KeyboardInterrupt:
        pass
    finally:
        subscriber.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
