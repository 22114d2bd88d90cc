"""``wpis-dlq``: list, inspect and re-drive parked messages (dead letters).

A message whose handler failed ``WPIS_EVENT_MAX_ATTEMPTS`` times waits in its
service's parking queue ``wpis.dlq.<service>`` with the failing queue, the
number of attempts and the error in its headers (see wpis_common.topology).

    wpis-dlq list [SERVICE ...]                   # parked messages per service
    wpis-dlq inspect SERVICE [--limit N] [--json] # look without removing
    wpis-dlq redrive SERVICE (--all | --event-id ID ...) [--limit N]

Re-driving publishes each chosen message (same body and properties, attempt
count reset) back to the queue it failed in, waits for the broker's confirm,
then removes it from the parking queue. Messages not chosen stay parked, in
their order. Plain AMQP: ``--amqp-uri`` or ``$AMQP_URI``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from amqp.exceptions import NotFound
from kombu import Connection, Queue
from kombu.message import Message
from nameko.amqp.publish import Publisher, UndeliverableMessage

from wpis_common.envelope import utc_now
from wpis_common.topology import (
    ATTEMPT_HEADER,
    DEFAULT_AMQP_URI,
    ERROR_HEADER,
    PARKED_AT_HEADER,
    QUEUE_HEADER,
    parking_queue_name,
    service_names,
)

REDRIVEN_AT_HEADER = "x-wpis-redriven-at"
DROPPED_ON_REDRIVE = (ATTEMPT_HEADER, ERROR_HEADER, PARKED_AT_HEADER, QUEUE_HEADER)


@dataclass(frozen=True)
class ParkedMessage:
    event_id: str | None
    event_type: str | None
    queue: str | None
    attempts: int | None
    error: str | None
    parked_at: str | None
    body: Any

    @classmethod
    def of(cls, message: Message) -> ParkedMessage:
        headers = message.headers or {}
        properties = message.properties or {}
        try:
            body: Any = json.loads(message.body)
        except (ValueError, TypeError):
            body = message.body.decode("utf-8", "replace") if message.body else None
        return cls(
            event_id=properties.get("message_id")
            or (body.get("event_id") if isinstance(body, dict) else None),
            event_type=properties.get("type"),
            queue=original_queue(headers),
            attempts=headers.get(ATTEMPT_HEADER),
            error=headers.get(ERROR_HEADER),
            parked_at=headers.get(PARKED_AT_HEADER),
            body=body,
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def original_queue(headers: dict[str, Any]) -> str | None:
    """The queue a parked message failed in: our header, else the broker's x-death."""
    if headers.get(QUEUE_HEADER):
        return str(headers[QUEUE_HEADER])
    for death in headers.get("x-death") or ():
        if death.get("reason") in ("rejected", "delivery_limit", "expired"):
            return str(death.get("queue"))
    return None


def default_services() -> list[str]:
    return service_names()


def parked_counts(amqp_uri: str, services: Iterable[str]) -> dict[str, int | None]:
    """Messages waiting in each service's parking queue (None: no such queue)."""
    counts: dict[str, int | None] = {}
    with Connection(amqp_uri) as connection:
        for service in services:
            channel = connection.channel()
            try:
                _, count, _ = channel.queue_declare(parking_queue_name(service), passive=True)
                counts[service] = count
            except NotFound:
                counts[service] = None
            finally:
                if channel.is_open:
                    channel.close()
    return counts


@contextmanager
def _parked(amqp_uri: str, service: str, limit: int | None) -> Iterator[list[Message]]:
    """Up to ``limit`` parked messages, held unacknowledged; the ones not acked
    go back to the parking queue, in order, when the channel closes."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        queue = Queue(parking_queue_name(service), channel=channel, no_declare=True)
        _, waiting, _ = channel.queue_declare(queue.name, passive=True)
        wanted = waiting if limit is None else min(limit, waiting)
        messages = []
        while len(messages) < wanted:
            message = queue.get(no_ack=False, accept=["application/json", "text/plain"])
            if message is None:
                break
            messages.append(message)
        try:
            yield messages
        finally:
            channel.close()


def inspect(amqp_uri: str, service: str, limit: int | None = 20) -> list[ParkedMessage]:
    with _parked(amqp_uri, service, limit) as messages:
        return [ParkedMessage.of(message) for message in messages]


def redrive(
    amqp_uri: str,
    service: str,
    event_ids: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[ParkedMessage]:
    """Send parked messages back to their queues (all, or those with ``event_ids``)."""
    chosen = set(event_ids) if event_ids is not None else None
    publisher = Publisher(amqp_uri, use_confirms=True)
    redriven = []
    with _parked(amqp_uri, service, limit) as messages:
        for message in messages:
            parked = ParkedMessage.of(message)
            if chosen is not None and parked.event_id not in chosen:
                continue
            if not parked.queue:
                print(f"skipping {parked.event_id}: its original queue is unknown", file=sys.stderr)
                continue
            try:
                _send_back(publisher, message, parked.queue)
            except UndeliverableMessage:
                print(f"skipping {parked.event_id}: queue {parked.queue} is gone", file=sys.stderr)
                continue
            message.ack()
            redriven.append(parked)
    return redriven


def _send_back(publisher: Publisher, message: Message, queue: str) -> None:
    headers = {
        key: value
        for key, value in (message.headers or {}).items()
        if key not in DROPPED_ON_REDRIVE and not key.startswith("x-death")
    }
    headers[REDRIVEN_AT_HEADER] = utc_now().isoformat()
    properties = message.properties or {}
    publisher.publish(
        message.body,
        exchange="",
        routing_key=queue,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=properties.get("message_id"),
        type=properties.get("type"),
        timestamp=properties.get("timestamp"),
        mandatory=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wpis-dlq", description="List, inspect and re-drive parked messages."
    )
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", DEFAULT_AMQP_URI))
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="parked messages per service")
    listing.add_argument("services", nargs="*", help="default: every WPIS service")
    looking = commands.add_parser("inspect", help="show parked messages without removing them")
    looking.add_argument("service")
    looking.add_argument("--limit", type=int, default=20)
    looking.add_argument("--json", action="store_true", help="one JSON object per line")
    driving = commands.add_parser("redrive", help="send parked messages back to their queues")
    driving.add_argument("service")
    which = driving.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true")
    which.add_argument("--event-id", action="append", dest="event_ids", metavar="ID")
    driving.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)

    if args.command == "list":
        counts = parked_counts(args.amqp_uri, args.services or default_services())
        for service, count in counts.items():
            shown = "no parking queue" if count is None else f"{count} parked"
            print(f"{parking_queue_name(service):40} {shown}")
        return 0
    try:
        if args.command == "inspect":
            for parked in inspect(args.amqp_uri, args.service, args.limit):
                print(json.dumps(parked.as_dict()) if args.json else _describe(parked))
            return 0
        redriven = redrive(args.amqp_uri, args.service, args.event_ids, args.limit)
    except NotFound:
        print(f"no parking queue {parking_queue_name(args.service)}", file=sys.stderr)
        return 1
    for parked in redriven:
        print(f"re-drove {parked.event_id} ({parked.event_type}) to {parked.queue}")
    print(f"{len(redriven)} message(s) re-driven")
    return 0


def _describe(parked: ParkedMessage) -> str:
    return (
        f"event {parked.event_id} ({parked.event_type}) from {parked.queue}\n"
        f"  parked at {parked.parked_at} after {parked.attempts} attempt(s)\n"
        f"  error: {parked.error}\n"
        f"  body: {json.dumps(parked.body)[:500]}"
    )


if __name__ == "__main__":
    sys.exit(main())
