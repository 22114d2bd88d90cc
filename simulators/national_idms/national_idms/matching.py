"""Pure demographic matching: name normalisation and field comparison. No I/O."""

from __future__ import annotations

import unicodedata

from national_idms.models import Demographics, Person

# Characters treated as word separators in names: ASCII and Unicode hyphens and dashes,
# apostrophes (straight, curly, modifier letter, backtick) and full stops.
_SEPARATORS = "-\u2010\u2011\u2012\u2013\u2014\u2212'\u2019\u2018\u02bc`."
_SEPARATOR_TABLE = {ord(char): " " for char in _SEPARATORS}


def normalise_name(name: str) -> str:
    """Return the comparison form of a name.

    NFKD, drop combining marks, casefold, hyphens/apostrophes/dots to spaces,
    collapse whitespace.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    spaced = without_marks.casefold().translate(_SEPARATOR_TABLE)
    return " ".join(spaced.split())


def names_match(presented: str, registered: str) -> bool:
    """True when two names are equal after normalisation."""
    return normalise_name(presented) == normalise_name(registered)


def demographic_mismatches(presented: Demographics, person: Person) -> list[str]:
    """Names (as spelled in the request) of the demographic fields that do not match."""
    checks = (
        ("givenNames", names_match(presented.given_names, person.given_names)),
        ("surname", names_match(presented.surname, person.surname)),
        ("dateOfBirth", presented.date_of_birth == person.date_of_birth),
        ("sex", presented.sex == person.sex),
        ("nationality", presented.nationality.upper() == person.nationality.upper()),
    )
    return [field for field, matched in checks if not matched]
