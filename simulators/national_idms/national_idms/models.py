"""Plain data types shared by the store, the validators and the authentication logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

DOCUMENT_TYPES: tuple[str, ...] = ("passport",)
DOCUMENT_STATUSES: tuple[str, ...] = ("valid", "lost", "stolen", "revoked")
SEXES: tuple[str, ...] = ("M", "F", "X")
# What the IDMS reports to subscribed partners (GET /v1/events); the first three
# concern one document, the last two the person.
DOCUMENT_REPORTS: dict[str, str] = {
    "document_lost": "lost",
    "document_stolen": "stolen",
    "document_revoked": "revoked",
}
PERSON_REPORTS: tuple[str, ...] = ("entry_ban_added", "person_deceased")
REPORT_TYPES: tuple[str, ...] = (*DOCUMENT_REPORTS, *PERSON_REPORTS)


@dataclass(frozen=True)
class Document:
    """An identity document held in the register."""

    type: str
    number: str
    issuing_country: str
    expiry_date: date
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "number": self.number,
            "issuing_country": self.issuing_country,
            "expiry_date": self.expiry_date.isoformat(),
            "status": self.status,
        }


@dataclass(frozen=True)
class NewPerson:
    """A person about to be registered (no id yet)."""

    given_names: str
    surname: str
    date_of_birth: date
    sex: str
    nationality: str
    documents: tuple[Document, ...]
    entry_ban: bool = False


@dataclass(frozen=True)
class Person:
    """A registered person."""

    person_id: str
    given_names: str
    surname: str
    date_of_birth: date
    sex: str
    nationality: str
    documents: tuple[Document, ...]
    entry_ban: bool
    deceased: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "given_names": self.given_names,
            "surname": self.surname,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "nationality": self.nationality,
            "documents": [document.to_json() for document in self.documents],
            "entry_ban": self.entry_ban,
            "deceased": self.deceased,
        }


@dataclass(frozen=True)
class DocumentStatusChange:
    """A requested change of one document's status (admin PATCH)."""

    number: str
    issuing_country: str
    status: str


@dataclass(frozen=True)
class PersonPatch:
    """The changes an admin PATCH may make to a person."""

    entry_ban: bool | None
    documents: tuple[DocumentStatusChange, ...]


@dataclass(frozen=True)
class Demographics:
    """Demographic data presented in an authentication request."""

    given_names: str
    surname: str
    date_of_birth: date
    sex: str
    nationality: str


@dataclass(frozen=True)
class AuthRequest:
    """A well-formed identity authentication request."""

    id: str
    version: str
    transaction_id: str
    consent: bool
    individual_id: str
    individual_id_type: str
    issuing_country: str
    demographics: Demographics


@dataclass(frozen=True)
class Report:
    """An admin report about a document's holder: stolen, lost, revoked, banned, deceased."""

    event_type: str
    number: str
    issuing_country: str


@dataclass(frozen=True)
class IdentityEvent:
    """A change in the register that subscribed partners are told about."""

    sequence: int
    event_id: str
    event_type: str
    occurred_at: str
    person_id: str
    document_number: str | None
    issuing_country: str | None
