"""The payment simulator's API, in process (werkzeug's test client)."""

from __future__ import annotations

import pytest
from state_payments.app import Ledger, PaymentsApp
from werkzeug.test import Client

PAYMENT = {"amount": 105000, "currency": "AMD", "purpose": "work permit fee", "payer": "02563412"}


def test_a_payment_gets_a_reference_that_can_be_confirmed():
    api = Client(PaymentsApp(Ledger()))
    paid = api.post("/v1/payments", json=PAYMENT)
    assert paid.status_code == 201
    reference = paid.get_json()["reference"]
    confirmation = api.get(f"/v1/payments/{reference}").get_json()
    assert confirmation["status"] == "confirmed"
    assert (confirmation["amount"], confirmation["currency"]) == (105000, "AMD")


def test_an_unknown_reference_is_404():
    assert Client(PaymentsApp(Ledger())).get("/v1/payments/TRX-NOPE").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [({"amount": 0}, "amount"), ({"amount": "105000"}, "amount"), ({"amount": True}, "amount"),
     ({"currency": "XYZ"}, "currency"), ({"payer": " "}, "payer")],
)  # fmt: skip
def test_a_bad_payment_is_refused_with_the_field(change, field):
    response = Client(PaymentsApp(Ledger())).post("/v1/payments", json={**PAYMENT, **change})
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_malformed_json_is_400():
    assert Client(PaymentsApp(Ledger())).post("/v1/payments", data=b"{").status_code == 400
