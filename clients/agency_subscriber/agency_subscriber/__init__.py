"""A WPIS event subscriber for agencies: plain AMQP (pika), replay over HTTP,
each event handled once, in sequence order per producer. See README.md."""

from agency_subscriber.store import Store
from agency_subscriber.subscriber import Binding, Event, Subscriber, SubscriberConfig

__all__ = ["Binding", "Event", "Store", "Subscriber", "SubscriberConfig"]
