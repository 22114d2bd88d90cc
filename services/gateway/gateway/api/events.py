"""Replay for agencies: a producer's events after a sequence number, in order.

``GET /api/v1/events?producer=permits&after=<sequence>&limit=<n>`` asks the
producer's ``events_after`` RPC (wpis_common.replay). For the agency, auditor and
supervisor roles (docs/security.md).
"""

from __future__ import annotations

from nameko.rpc import ClusterRpc
from werkzeug.wrappers import Request, Response

from gateway.api.base import API, ApiBase, http, invalid
from gateway.session import allow
from wpis_common.caller import AGENCY, AUDITOR, SUPERVISOR
from wpis_common.errors import InvalidInput
from wpis_common.replay import DEFAULT_LIMIT, PRODUCERS, page, validate_page


class EventsApi(ApiBase):
    event_logs = ClusterRpc()

    @http("GET", f"{API}/events")
    @allow(AGENCY, AUDITOR, SUPERVISOR)
    def replay_events(self, request: Request) -> Response:
        producer = request.args.get("producer", "")
        try:
            after, limit = validate_page(
                request.args.get("after", "0"), request.args.get("limit", str(DEFAULT_LIMIT))
            )
        except InvalidInput as error:
            errors = dict(error.details["errors"])
        else:
            errors = {}
        if producer not in PRODUCERS:
            errors["producer"] = [f"must be one of: {', '.join(PRODUCERS)}"]
        if errors:
            return invalid(errors)
        log = getattr(self.event_logs, producer)
        return self.call(lambda: page(producer, after, log.events_after(after=after, limit=limit)))
