"""Contract terms against the permit they are registered with: pure."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.domain import ContractRefused, check_terms_within_permit, registered_until

PERMIT_FROM = date(2027, 1, 15)
PERMIT_UNTIL = date(2027, 12, 31)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2027, 1, 15), date(2027, 12, 31)),  # exactly the permit
        (date(2027, 1, 15), date(2027, 1, 16)),
        (date(2027, 3, 1), date(2027, 6, 30)),  # inside it
        (date(2027, 1, 15), date(2028, 6, 30)),  # runs on past the permit: registration is capped
    ],
)
def test_terms_within_the_permit_are_accepted(start, end):
    check_terms_within_permit(start, end, PERMIT_FROM, PERMIT_UNTIL)


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (date(2027, 6, 1), date(2027, 6, 1), "must end after it starts"),
        (date(2027, 6, 1), date(2027, 5, 31), "must end after it starts"),
        (date(2027, 1, 14), date(2027, 12, 31), "starts before the permit is valid"),
        (date(2026, 1, 1), date(2026, 12, 31), "starts before the permit is valid"),
    ],
)
def test_terms_outside_the_permit_are_refused(start, end, reason):
    with pytest.raises(ContractRefused, match=reason):
        check_terms_within_permit(start, end, PERMIT_FROM, PERMIT_UNTIL)


def test_contract_starting_after_the_permit_ends_is_refused():
    with pytest.raises(ContractRefused):
        check_terms_within_permit(date(2028, 1, 1), date(2028, 6, 30), PERMIT_FROM, PERMIT_UNTIL)


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (date(2027, 6, 30), date(2027, 6, 30)),  # the contract ends first
        (PERMIT_UNTIL, PERMIT_UNTIL),
        (date(2028, 6, 30), PERMIT_UNTIL),  # never past the permit
    ],
)
def test_registration_covers_the_contract_but_never_past_the_permit(end, expected):
    assert registered_until(end, PERMIT_UNTIL) == expected
