"""marshmallow schemas: the statistics service publishes no events; its query
parameters are validated by ``domain.parse_query`` (field -> reasons)."""

from __future__ import annotations

from wpis_common.envelope import EventCatalog

EVENTS = EventCatalog()
