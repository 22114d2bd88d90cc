"""Pure demographic matching: name normalisation and field comparison. No I/O.

Names are compared by a *key* that survives the usual ways one name is written
in several scripts and transliteration systems (ICAO 9303, BGN/PCGN, German,
French; Cyrillic and Armenian script), yet keeps apart names that differ:

1. transliterate to ASCII (``anyascii``: Cyrillic, Armenian, Latin diacritics),
   casefold, treat hyphens, apostrophes and dots as word separators;
2. fold per word the letters that transliteration systems disagree on:
   ``kh``->``h``, ``ts``/``tz``->``c``, ``ou``/``ow``->``u`` (French, Armenian ``ու``),
   ``w``->``v`` (``ow`` before a vowel or at the end is ``ov``: German ``Iwanowa``), ``x``->``ks``,
   ``y``/``j``->``i``; a word-initial ``ie``->``e``
   (``Yelena``/``Elena``), ``vo``->``o`` (Armenian ``Ո``), and ``ie`` after a vowel
   ->``e`` (``Sergeyev``/``Sergeev``); then collapse doubled letters
   (``Petrossian``/``Petrosyan``, ``Dmitrii``/``Dmitry``);
3. join the words in order without spaces: every given name must be there, in
   order, but ``O'Brien`` and ``OBrien`` are one name.

What it does not do: reorder names, drop a name, or accept a different ending
(``Ivanov`` vs ``Ivanova``, ``Kumar`` vs ``Kumari``). Date of birth and sex must
be equal; nationality is compared case-insensitively.
"""

from __future__ import annotations

import re

from anyascii import anyascii

from national_idms.models import Demographics, Person

# Characters treated as word separators in names: ASCII and Unicode hyphens and dashes,
# apostrophes (straight, curly, modifier letter, backtick) and full stops.
_SEPARATORS = "-\u2010\u2011\u2012\u2013\u2014\u2212'\u2019\u2018\u02bc`."
_SEPARATOR_TABLE = {ord(char): " " for char in _SEPARATORS}

_FOLDS = {"kh": "h", "ts": "c", "tz": "c", "ow": "u", "ou": "u", "w": "v", "x": "ks"}
_FOLDS |= {"j": "i", "y": "i"}
_FOLD_RE = re.compile("|".join(sorted(_FOLDS, key=len, reverse=True)))
_GERMAN_OV_RE = re.compile(r"ow(?=[aeiouy]|$)")
_VOWEL_IE_RE = re.compile(r"([aeiou])ie")
_DOUBLED_RE = re.compile(r"(.)\1+")


def normalise_name(name: str) -> str:
    """The readable comparison form: ASCII, casefolded, separators to spaces, one space."""
    spaced = anyascii(name).casefold().translate(_SEPARATOR_TABLE)
    return " ".join(spaced.split())


def fold_word(word: str) -> str:
    """One word's transliteration-independent key (see the module docstring)."""
    letters = "".join(char for char in word if char.isalnum())
    letters = _GERMAN_OV_RE.sub("ov", letters)  # German -ow(a) is Russian -ов(а), not u
    folded = _FOLD_RE.sub(lambda match: _FOLDS[match.group()], letters)
    if folded.startswith(("ie", "vo")):  # Yelena/Elena; Armenian Voskanyan/Oskanyan
        folded = folded[1:]
    folded = _VOWEL_IE_RE.sub(r"\1e", folded)
    return _DOUBLED_RE.sub(r"\1", folded)


def name_key(name: str) -> str:
    return "".join(fold_word(word) for word in normalise_name(name).split())


def names_match(presented: str, registered: str) -> bool:
    """True when two names are the same name, whatever the script or transliteration."""
    return name_key(presented) == name_key(registered)


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
