"""The permit certificate: a one-page PDF (fpdf2) with the holder, the employer,
the job, the validity and a QR code (segno).

The QR carries one URL: the public verification page for the permit's
unguessable token, with the compact signed credential in the URL fragment
(``#c=WPIS1...``). A phone opens the page (the fragment never reaches the
server); a verifier app reads the credential and checks it offline with the
permits public key. Rendered on request from the register, so a reprint
shows the current validity and job.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fpdf import FPDF

from permits import credential, domain
from permits.models import Permit


@dataclass(frozen=True)
class DocumentSettings:
    authority: str = "Migration Service of the Republic of Armenia"
    verify_base_url: str = "http://127.0.0.1:8000"


def claims(permit: Permit, printed_at: datetime) -> dict[str, Any]:
    """What the offline credential asserts: enough to match the bearer and the job."""
    holder = permit.holder
    return {
        "v": 1,
        "n": permit.number,
        "name": f"{holder['surname']}, {holder['given_names']}",
        "dob": holder["date_of_birth"],
        "nat": holder["nationality"],
        "emp": permit.employer["name"],
        "job": permit.job.get("title"),
        "vf": permit.valid_from.isoformat(),
        "vu": domain.last_valid_day(permit.valid_until, permit.ends_on).isoformat(),
        "iat": printed_at.replace(microsecond=0).isoformat(),
    }


def qr_text(permit: Permit, signed: str, settings: DocumentSettings) -> str:
    base = settings.verify_base_url.rstrip("/")
    return f"{base}/verify/token/{permit.verification_token}#c={signed}"


def render(
    permit: Permit, signing_key: Ed25519PrivateKey, settings: DocumentSettings, now: datetime
) -> bytes:
    signed = credential.issue(signing_key, claims(permit, now))
    pdf = FPDF(format="A4")
    pdf.set_title(f"Work permit {permit.number}")
    pdf.set_creator("WPIS")
    pdf.add_page()
    _heading(pdf, settings, permit)
    _section(pdf, "Holder", _holder_rows(permit))
    _section(pdf, "Employer and job", _job_rows(permit))
    _section(pdf, "Validity", _validity_rows(permit))
    _qr(pdf, qr_text(permit, signed, settings))
    return bytes(pdf.output())


def _latin1(text: Any) -> str:
    """The core PDF fonts cover Latin-1 only; other characters print as '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _heading(pdf: FPDF, settings: DocumentSettings, permit: Permit) -> None:
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, _latin1(settings.authority), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", style="B", size=20)
    pdf.cell(0, 12, "WORK PERMIT", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, _latin1(permit.number), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _section(pdf: FPDF, title: str, rows: list[tuple[str, Any]]) -> None:
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    for label, value in rows:
        pdf.set_font("Helvetica", size=10)
        pdf.cell(55, 6, _latin1(label))
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _holder_rows(permit: Permit) -> list[tuple[str, Any]]:
    holder = permit.holder
    return [
        ("Surname", holder["surname"]),
        ("Given names", holder["given_names"]),
        ("Date of birth", holder["date_of_birth"]),
        ("Nationality", holder["nationality"]),
        ("Passport", f"{holder['passport_number']} ({holder['passport_country']})"),
    ]


def _job_rows(permit: Permit) -> list[tuple[str, Any]]:
    job = permit.job
    return [
        ("Employer", permit.employer["name"]),
        ("Employer tax id", permit.employer["tax_id"]),
        ("Job title", job.get("title")),
        ("Occupation (ISCO-08)", job.get("isco_code")),
        ("Work region", job.get("region")),
    ]


def _validity_rows(permit: Permit) -> list[tuple[str, Any]]:
    until = domain.last_valid_day(permit.valid_until, permit.ends_on)
    return [
        ("Valid from", permit.valid_from.isoformat()),
        ("Valid until", until.isoformat()),
        ("Status when printed", permit.status),
    ]


def _qr(pdf: FPDF, text: str) -> None:
    image = io.BytesIO()
    segno.make(text, error="m").save(image, kind="png", scale=8, border=4)
    image.seek(0)
    top = pdf.get_y() + 2
    pdf.image(image, x=pdf.l_margin, y=top, w=70)
    pdf.set_xy(pdf.l_margin + 75, top + 5)
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(
        0,
        5,
        "Scan to check this permit online: the page shows whether it is valid today. "
        "The code also holds a signed credential that a verifier app can check offline "
        "with the permits public key (GET /api/v1/verify/keys).",
    )
