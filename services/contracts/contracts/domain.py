"""Contract rules. Pure: no I/O.

A contract registered with a permit runs from the contract's start to its
end. Its registration is refused if it starts outside the permit's validity;
a contract that runs past the permit is registered only until the permit
ends (the employer may not employ the worker beyond it).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class ContractStatus(StrEnum):
    REGISTERED = "registered"


class ContractRefused(Exception):
    pass


def check_terms_within_permit(
    start: date, end: date, permit_valid_from: date, permit_valid_until: date
) -> None:
    if end <= start:
        raise ContractRefused("the contract must end after it starts")
    if start < permit_valid_from:
        raise ContractRefused("the contract starts before the permit is valid")
    if start > permit_valid_until:
        raise ContractRefused("the contract starts after the permit ends")


def registered_until(end: date, permit_valid_until: date) -> date:
    """The registration covers the contract, but never past the permit."""
    return min(end, permit_valid_until)
