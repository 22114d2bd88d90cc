"""The baseline: a bare Nameko chain with the same shape as one WPIS flow.

Same processes, HTTP calls, RPC hops, events and commits as the real
one-window flow, and no logic: every step writes one row and passes a tiny
event on. Events go out the naive way (Nameko's EventDispatcher: one blocking
publisher confirm per message, committed before dispatch), which is what the
real services replace with a transactional outbox.

Per flow (like WPIS): HTTP submit -> RPC -> commit -> event `submitted`;
identity: one HTTP call to the IDMS simulator, commit, event `verified`;
applications and notifications each commit on `submitted`/`verified`;
HTTP decide -> RPC -> commit -> event `approved`; permits: commit, `issued`;
contracts: commit, `registered`; applications and notifications commit on
`issued`, applications on `registered`. The gateway commits an audit row for
each of the two state-changing HTTP calls.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
from nameko import config
from nameko.events import EventDispatcher, event_handler
from nameko.extensions import DependencyProvider
from nameko.rpc import ServiceRpc, rpc
from nameko.web.handlers import http
from sqlalchemy import Column, MetaData, String, Table, insert, select, update
from werkzeug.wrappers import Request, Response

from wpis_common.db import create_db_engine

metadata = MetaData()
rows = Table(
    "rows", metadata, Column("id", String(36), primary_key=True), Column("state", String(20))
)


class Store(DependencyProvider):
    """One SQLite (or PostgreSQL) database per service, like WPIS."""

    def setup(self) -> None:
        url = config["BASELINE_DB_PREFIX"] + self.container.service_name + ".db"
        self.engine = create_db_engine(url, pool_size=15)
        metadata.create_all(self.engine)

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.engine


def write(engine: Any, row_id: str, state: str) -> None:
    with engine.begin() as connection:
        if connection.execute(update(rows).where(rows.c.id == row_id).values(state=state)).rowcount:
            return
        connection.execute(insert(rows).values(id=row_id, state=state))


class BlGateway:
    name = "bl_gateway"
    db = Store()
    applications = ServiceRpc("bl_applications")
    notifications = ServiceRpc("bl_notifications")

    @http("POST", "/submit")
    def submit(self, request: Request) -> Response:
        case_id = self.applications.submit(json.loads(request.get_data()))
        write(self.db, str(uuid.uuid4()), "audit")
        return Response(json.dumps({"id": case_id}), status=201, mimetype="application/json")

    @http("POST", "/decide/<string:case_id>")
    def decide(self, request: Request, case_id: str) -> Response:
        state = self.applications.decide(case_id)
        write(self.db, str(uuid.uuid4()), "audit")
        return Response(json.dumps({"status": state}), mimetype="application/json")

    @http("GET", "/notices/<string:case_id>")
    def notices(self, request: Request, case_id: str) -> Response:
        return Response(json.dumps(self.notifications.sent(case_id)), mimetype="application/json")

    @http("GET", "/case/<string:case_id>")
    def case(self, request: Request, case_id: str) -> Response:
        return Response(json.dumps(self.applications.get(case_id)), mimetype="application/json")


class BlApplications:
    name = "bl_applications"
    db = Store()
    dispatch = EventDispatcher()

    @rpc
    def submit(self, payload: dict) -> str:
        case_id = str(uuid.uuid4())
        write(self.db, case_id, "submitted")
        self.dispatch("submitted", {"id": case_id, "payload": payload})
        return case_id

    @rpc
    def get(self, case_id: str) -> dict:
        with self.db.connect() as connection:
            state = connection.scalar(select(rows.c.state).where(rows.c.id == case_id))
        return {"id": case_id, "status": state}

    @rpc
    def decide(self, case_id: str) -> str:
        write(self.db, case_id, "approved")
        self.dispatch("approved", {"id": case_id})
        return "approved"

    @event_handler("bl_identity", "verified")
    def on_verified(self, data: dict) -> None:
        write(self.db, data["id"], "in_review")

    @event_handler("bl_permits", "issued")
    def on_issued(self, data: dict) -> None:
        # its own row: `issued` and `registered` come from two producers in either
        # order, and the case's state must end at `registered`
        write(self.db, data["id"] + "-permit", "permit_issued")

    @event_handler("bl_contracts", "registered")
    def on_registered(self, data: dict) -> None:
        write(self.db, data["id"], "registered")


class BlIdentity:
    name = "bl_identity"
    db = Store()
    dispatch = EventDispatcher()

    @event_handler("bl_applications", "submitted")
    def on_submitted(self, data: dict) -> None:
        requests.get(config["BASELINE_IDMS_URL"] + "/health", timeout=5)
        write(self.db, data["id"], "verified")
        self.dispatch("verified", {"id": data["id"]})


class BlPermits:
    name = "bl_permits"
    db = Store()
    dispatch = EventDispatcher()

    @event_handler("bl_applications", "approved")
    def on_approved(self, data: dict) -> None:
        write(self.db, data["id"], "issued")
        self.dispatch("issued", {"id": data["id"]})


class BlContracts:
    name = "bl_contracts"
    db = Store()
    dispatch = EventDispatcher()

    @event_handler("bl_permits", "issued")
    def on_issued(self, data: dict) -> None:
        write(self.db, data["id"], "registered")
        self.dispatch("registered", {"id": data["id"]})


class BlNotifications:
    name = "bl_notifications"
    db = Store()

    @event_handler("bl_applications", "submitted")
    def on_submitted(self, data: dict) -> None:
        write(self.db, data["id"] + "-received", "sent")

    @event_handler("bl_permits", "issued")
    def on_issued(self, data: dict) -> None:
        write(self.db, data["id"] + "-issued", "sent")

    @rpc
    def sent(self, case_id: str) -> list[str]:
        with self.db.connect() as connection:
            found = connection.scalars(select(rows.c.id).where(rows.c.id.like(case_id + "-%")))
            return list(found)


SERVICE_CLASSES = {
    cls.name: f"chain:{cls.__name__}"
    for cls in (BlGateway, BlApplications, BlIdentity, BlPermits, BlContracts, BlNotifications)
}
