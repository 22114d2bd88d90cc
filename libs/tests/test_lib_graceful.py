"""A reply or an ack on a connection the broker dropped is logged, never raised:
raised, it would kill the whole service (every other worker with it)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError
from nameko.rpc import RpcConsumer

from wpis_common import graceful


class DroppedConnectionMessage:
    """A delivery whose connection the broker reset: settling it raises."""

    def __init__(self, error: BaseException):
        self.error = error
        self.channel = SimpleNamespace(connection=object())
        self.delivery_info = {"routing_key": "applications.submit"}

    def ack(self) -> None:
        raise self.error

    def requeue(self) -> None:
        raise self.error


LOST = [ConnectionResetError(104, "reset by peer"), RecoverableConnectionError("closed"),
        OperationalError("publish retries exhausted")]  # fmt: skip


@pytest.mark.parametrize("error", LOST, ids=type)
def test_a_reply_that_cannot_be_sent_is_logged_and_the_result_returned(error, caplog):
    def reply_then_ack(self, message, result, exc_info):
        raise error

    handle_result = graceful._reply_or_log(reply_then_ack)
    with caplog.at_level(logging.ERROR, logger=graceful.__name__):
        outcome = handle_result(None, DroppedConnectionMessage(error), {"id": "A-1"}, None)

    assert outcome == ({"id": "A-1"}, None)
    assert "could not reply to applications.submit" in caplog.text


def test_other_errors_of_a_reply_still_raise():
    def broken(self, message, result, exc_info):
        raise ValueError("a bug, not the broker")

    with pytest.raises(ValueError):
        graceful._reply_or_log(broken)(None, DroppedConnectionMessage(OSError()), None, None)


@pytest.mark.parametrize("error", LOST, ids=type)
def test_an_ack_or_requeue_on_a_dropped_connection_is_not_raised(error):
    consumer = graceful.GracefulConsumer("memory://")
    message = DroppedConnectionMessage(error)
    consumer._unsettled.add(message)

    consumer.ack_message(message)
    consumer.requeue_message(message)

    assert consumer.unsettled == 0


def test_install_wraps_the_rpc_reply_once():
    graceful.install()
    wrapped = RpcConsumer.handle_result
    graceful.install()
    assert RpcConsumer.handle_result is wrapped
    assert wrapped.survives_lost_connection is True
