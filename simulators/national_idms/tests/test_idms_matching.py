"""Pure tests of name normalisation, demographic matching and the auth decision."""

from __future__ import annotations

from datetime import date

import pytest

from national_idms import auth
from national_idms.matching import demographic_mismatches, names_match, normalise_name
from national_idms.models import Demographics, Document, Person

RAVI = Person(
    person_id="p-1",
    given_names="Ravi",
    surname="Kumar",
    date_of_birth=date(1990, 4, 12),
    sex="M",
    nationality="IND",
    documents=(Document("passport", "Z1234567", "IND", date(2031, 1, 1), "valid"),),
    entry_ban=False,
)


def demographics(**overrides: object) -> Demographics:
    fields: dict[str, object] = {
        "given_names": "Ravi",
        "surname": "Kumar",
        "date_of_birth": date(1990, 4, 12),
        "sex": "M",
        "nationality": "IND",
    }
    fields.update(overrides)
    return Demographics(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("José-María", "jose maria"),
        ("  NUÑEZ ", "nunez"),
        ("O'Brien", "o brien"),
        ("O\u2019Brien", "o brien"),
        ("St. John", "st john"),
        ("Anh   Thi", "anh thi"),
        ("Nguyễn", "nguyen"),
        ("Straße", "strasse"),
        ("Сергей Иванов", "sergey ivanov"),
        ("Պետրոսյան", "petrosyan"),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("presented", "registered"),
    [
        ("Jose Maria", "José-María"),
        ("jose-maria", "José-María"),
        ("NUNEZ", "Nuñez"),
        ("Anh Thi", "Anh Thi"),
        ("anh  THI", "Anh Thi"),
        ("Maria Clara", "Maria Clara"),
        ("Siobhan", "Siobhán"),
        ("O Brien", "O'Brien"),
        ("OBrien", "O'Brien"),
        # Cyrillic script and transliteration systems (ICAO, BGN, German)
        ("Сергей", "Sergei"),
        ("Sergey", "Sergei"),
        ("Иванов", "Ivanov"),
        ("Iwanow", "Ivanov"),
        ("Iwanowa", "Ivanova"),
        ("Дмитрий", "Dmitry"),
        ("Dmitrii", "Dmitriy"),
        ("Сергеев", "Sergeyev"),
        ("Юлия", "Yulia"),
        ("Julija", "Yuliya"),
        ("Наталья", "Natalia"),
        ("Елена", "Yelena"),
        ("Михаил", "Mikhail"),
        ("Александр", "Alexandr"),
        ("Хачатурян", "Khachaturyan"),
        # Armenian script and its transliterations
        ("Պետրոսյան", "Petrosyan"),
        ("Petrossian", "Petrosyan"),
        ("Petrosjan", "Petrosyan"),
        ("Խաչատրյան", "Khachatryan"),
        ("Մկրտչյան", "Mkrtchyan"),
        ("Mkrttchian", "Mkrtchyan"),
        ("Եղիազարյան", "Yeghiazaryan"),
        ("Ոսկանյան", "Voskanyan"),
        ("Ծառուկյան", "Tsarukyan"),
        ("Գևորգյան", "Gevorgyan"),
        ("Հովհաննիսյան", "Hovhannisyan"),
        ("ԱՆԱՀԻՏ", "anahit"),
        ("Արամ Սերգեյի", "Aram-Sergei"),
    ],
)
def test_names_match(presented: str, registered: str) -> None:
    assert names_match(presented, registered)


@pytest.mark.parametrize(
    ("presented", "registered"),
    [
        ("Kumari", "Kumar"),
        ("Anh", "Anh Thi"),
        ("Thi Anh", "Anh Thi"),
        ("Sergio", "Sergei"),
        ("Сергей", "Sergio"),
        ("Ivanova", "Ivanov"),
        ("Иванова", "Ivanov"),
        ("Marina", "Maria"),
        ("Anna", "Anahit"),
        ("Арам", "Armen"),
        ("Aram", "Armen"),
        ("Hakob", "Hakobyan"),
        ("Petrosova", "Petrosyan"),
        ("Պետրոսյան", "Petrosov"),
        ("Ravindra", "Ravi"),
        ("Nunes", "Nuñez"),
        ("Aram", "Aram Sergei"),
    ],
)
def test_names_do_not_match(presented: str, registered: str) -> None:
    assert not names_match(presented, registered)


def test_same_person_in_cyrillic_script_matches_and_another_does_not() -> None:
    sergei = Person(**{**RAVI.__dict__, "given_names": "Sergei", "surname": "Ivanov"})
    assert (
        demographic_mismatches(demographics(given_names="Сергей", surname="Иванов"), sergei) == []
    )
    presented = demographics(given_names="Сергей", surname="Иванова")
    assert demographic_mismatches(presented, sergei) == ["surname"]


def test_exact_demographics_match() -> None:
    assert demographic_mismatches(demographics(), RAVI) == []


def test_nationality_is_case_insensitive() -> None:
    assert demographic_mismatches(demographics(nationality="ind"), RAVI) == []


def test_different_surname_is_refused() -> None:
    assert demographic_mismatches(demographics(surname="Kumari"), RAVI) == ["surname"]


def test_different_date_of_birth_is_refused() -> None:
    presented = demographics(date_of_birth=date(1990, 4, 21))
    assert demographic_mismatches(presented, RAVI) == ["dateOfBirth"]


def test_all_mismatched_fields_are_named_in_request_spelling() -> None:
    presented = Demographics("Ravindra", "Kumari", date(1991, 1, 1), "F", "NPL")
    assert demographic_mismatches(presented, RAVI) == [
        "givenNames",
        "surname",
        "dateOfBirth",
        "sex",
        "nationality",
    ]


def test_evaluate_reports_every_failed_check_in_order() -> None:
    lost_expired = Document("passport", "Z1234567", "IND", date(2025, 1, 1), "lost")
    person = Person(**{**RAVI.__dict__, "entry_ban": True, "documents": (lost_expired,)})
    errors = auth.evaluate(person, lost_expired, demographics(sex="F"), date(2026, 12, 1))
    assert [e.code for e in errors] == [
        auth.DEMOGRAPHIC_MISMATCH,
        auth.DOCUMENT_INVALID,
        auth.DOCUMENT_EXPIRED,
        auth.ENTRY_BAN,
    ]
    assert errors[0].fields == ("sex",)
    assert errors[1].document_status == "lost"


def test_document_expiring_today_is_still_valid() -> None:
    document = Document("passport", "Z1234567", "IND", date(2026, 12, 1), "valid")
    assert auth.evaluate(RAVI, document, demographics(), date(2026, 12, 1)) == []


def test_person_token_is_stable_opaque_and_partner_specific() -> None:
    token = auth.person_token("key-a", "p-1")
    assert token == auth.person_token("key-a", "p-1")
    assert token != auth.person_token("key-b", "p-1")
    assert len(token) == 32 and int(token, 16) >= 0
    assert "p-1" not in token
