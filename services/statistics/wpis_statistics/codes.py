"""Code lists and their labels: nationalities and regions (ISO 3166, from
pycountry), ISCO-08 major groups, NACE Rev. 2 sections, age bands.

Pure: no I/O besides pycountry's bundled data.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import pycountry

UNKNOWN = "unknown"

# ICAO Doc 9303 codes that are not ISO 3166 countries but appear in passports.
ICAO_SPECIAL_NATIONALITIES = {
    "XXA": "Stateless person",
    "XXB": "Refugee (1951 Convention)",
    "XXC": "Refugee (other)",
    "XXX": "Unspecified nationality",
    "UNO": "United Nations official",
    "EUE": "European Union official",
    "D": "Germany",
}

ISCO_MAJOR_GROUPS = {
    "0": "Armed forces occupations",
    "1": "Managers",
    "2": "Professionals",
    "3": "Technicians and associate professionals",
    "4": "Clerical support workers",
    "5": "Service and sales workers",
    "6": "Skilled agricultural, forestry and fishery workers",
    "7": "Craft and related trades workers",
    "8": "Plant and machine operators, and assemblers",
    "9": "Elementary occupations",
}

NACE_SECTIONS = {
    "A": "Agriculture, forestry and fishing",
    "B": "Mining and quarrying",
    "C": "Manufacturing",
    "D": "Electricity, gas, steam and air conditioning supply",
    "E": "Water supply; sewerage, waste management and remediation",
    "F": "Construction",
    "G": "Wholesale and retail trade; repair of motor vehicles",
    "H": "Transportation and storage",
    "I": "Accommodation and food service activities",
    "J": "Information and communication",
    "K": "Financial and insurance activities",
    "L": "Real estate activities",
    "M": "Professional, scientific and technical activities",
    "N": "Administrative and support service activities",
    "O": "Public administration and defence; compulsory social security",
    "P": "Education",
    "Q": "Human health and social work activities",
    "R": "Arts, entertainment and recreation",
    "S": "Other service activities",
    "T": "Activities of households as employers",
    "U": "Activities of extraterritorial organisations and bodies",
}
# NACE Rev. 2: the first division (2-digit code) of each section.
_NACE_DIVISION_STARTS = (
    (1, "A"), (5, "B"), (10, "C"), (35, "D"), (36, "E"), (41, "F"), (45, "G"), (49, "H"),
    (55, "I"), (58, "J"), (64, "K"), (68, "L"), (69, "M"), (77, "N"), (84, "O"), (85, "P"),
    (86, "Q"), (90, "R"), (94, "S"), (97, "T"), (99, "U"),
)  # fmt: skip

AGE_BANDS = ("0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
SEXES = {"M": "Male", "F": "Female", "X": "Unspecified"}
KINDS = {"new": "New permit", "extension": "Extension", "amendment": "Amendment"}


def age_on(date_of_birth: date, on: date) -> int:
    had_birthday = (on.month, on.day) >= (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - (0 if had_birthday else 1)


def age_band(date_of_birth: date | None, on: date) -> str:
    if date_of_birth is None:
        return UNKNOWN
    age = age_on(date_of_birth, on)
    for band in reversed(AGE_BANDS):
        if age >= int(band.rstrip("+").split("-")[0]):
            return band
    return AGE_BANDS[0]


def isco_major(isco_code: str | None) -> str:
    """ISCO-08 major group: the first digit of the occupation code."""
    if isco_code and isco_code[0] in ISCO_MAJOR_GROUPS:
        return isco_code[0]
    return UNKNOWN


def nace_section(code: str | None) -> str:
    """A NACE section letter from a section letter or a NACE code ("41.20", "4120")."""
    if not code:
        return UNKNOWN
    code = code.strip().upper()
    if code in NACE_SECTIONS:
        return code
    digits = code.replace(".", "")
    if len(digits) < 2 or not digits[:2].isdigit():
        return UNKNOWN
    division = int(digits[:2])
    section = UNKNOWN
    for start, letter in _NACE_DIVISION_STARTS:
        if division >= start:
            section = letter
    return section if division <= 99 else UNKNOWN


@cache
def nationality_name(code: str) -> str:
    if code in ICAO_SPECIAL_NATIONALITIES:
        return ICAO_SPECIAL_NATIONALITIES[code]
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return UNKNOWN if code == UNKNOWN else f"Unknown ({code})"
    return getattr(country, "common_name", None) or country.name


def is_nationality(code: str) -> bool:
    return code in ICAO_SPECIAL_NATIONALITIES or pycountry.countries.get(alpha_3=code) is not None


@cache
def armenian_regions() -> dict[str, str]:
    return {
        sub.code: sub.name
        for sub in sorted(pycountry.subdivisions.get(country_code="AM"), key=lambda s: s.code)
    }


def region_name(code: str) -> str:
    return armenian_regions().get(code, UNKNOWN if code == UNKNOWN else f"Unknown ({code})")
