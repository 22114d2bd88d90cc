"""Seed a running WPIS with demo accounts and demo cases, through the HTTP API only.

Used by `make run` after the suite is up (run.sh first creates the `admin`
account with `wpis-admin create-admin`). Logs in as the admin and creates the
demo accounts (gateway.accounts.DEMO_ACCOUNTS; DEVELOPMENT ONLY: each password
is demo-<username>), then, as each employer, files cases for persons of the
IDMS simulator's demo register, so the console shows every path: verified and
waiting for a decision, approved into a permit (by the demo decision officer),
and refused by the identity check (lost, stolen, revoked passport; entry ban;
unknown document).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

import requests

from gateway.accounts import DEMO_ACCOUNTS, demo_password

EMPLOYERS = [
    {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@ararat.example"},
    {"tax_id": "00817345", "name": "Sevan Hospitality CJSC", "email": "jobs@sevan.example"},
    {"tax_id": "01234567", "name": "Gyumri Textiles LLC", "email": "office@gyumri.example"},
]
# given names, surname, born, sex, nationality, passport, expiry, job, ISCO, region, approve?
DEMO_CASES = [
    ("Ravi", "Kumar", "1990-04-12", "M", "IND", "Z1234567", "2031-01-01",
     "Welder", "7212", "AM-ER", True),
    ("Anh Thi", "Nguyen", "1995-01-15", "F", "VNM", "C1234567", "2033-01-14",
     "Sewing machine operator", "8153", "AM-SH", False),
    ("Jose Maria", "Nunez", "1987-05-06", "M", "ESP", "PAA123456", "2032-11-10",
     "Chef", "3434", "AM-GR", True),
    ("Sita", "Gurung", "1996-09-21", "F", "NPL", "PA0123456", "2035-05-18",
     "Nurse", "3221", "AM-ER", False),
    ("Priya", "Sharma", "1992-11-03", "F", "IND", "L4455667", "2032-05-20",
     "Software developer", "2512", "AM-ER", False),
    ("Lucas", "Moreau", "1983-08-19", "M", "FRA", "18AB12345", "2033-02-28",
     "Civil engineer", "2142", "AM-KT", False),
    ("Kofi", "Mensah", "1990-02-02", "M", "GHA", "N0000000", "2031-02-02",
     "Driver", "8322", "AM-AR", False),
]  # fmt: skip


def application(index: int, case: tuple) -> dict:
    given, surname, born, sex, nationality, passport, expiry, title, isco, region, _ = case
    start = date.today() + timedelta(days=1 + index)
    return {
        "employer": EMPLOYERS[index % len(EMPLOYERS)],
        "worker": {
            "given_names": given,
            "surname": surname,
            "date_of_birth": born,
            "sex": sex,
            "nationality": nationality,
            "email": f"{given.split()[0].lower()}.{surname.lower()}@example.org",
            "passport": {"number": passport, "issuing_country": nationality, "expiry_date": expiry},
        },
        "job": {
            "title": title,
            "isco_code": isco,
            "region": region,
            "monthly_salary": 350000 + 25000 * index,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=364)).isoformat(),
        },
    }


def wait_until(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def bearer(api: str, username: str) -> dict:
    """Authorization headers for a demo account."""
    response = requests.post(
        f"{api}/auth/login",
        json={"username": username, "password": demo_password(username)},
        timeout=15,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def create_accounts(api: str) -> int:
    """The demo accounts (the admin exists already); existing ones are kept."""
    admin = bearer(api, "admin")
    for account in DEMO_ACCOUNTS:
        if account["username"] == "admin":
            continue
        body = {**account, "password": demo_password(account["username"])}
        response = requests.post(f"{api}/accounts", json=body, headers=admin, timeout=15)
        if response.status_code not in (201, 409):
            print(
                f"  could not create {account['username']}: {response.status_code} {response.text}"
            )
            return 1
    return 0


def print_accounts() -> None:
    print("demo accounts (DEVELOPMENT ONLY; password = demo-<username>):")
    for account in DEMO_ACCOUNTS:
        extra = f", tax id {account['tax_id']}" if account.get("tax_id") else ""
        print(f"  {account['username']:<11} {demo_password(account['username']):<16} "
              f"{account['role']}{extra}")  # fmt: skip


def file_case(api: str, payload: dict, headers: dict) -> requests.Response:
    """POST, retrying while services are still starting (503 from the gateway)."""
    deadline = time.monotonic() + 60
    while True:
        response = requests.post(f"{api}/applications", json=payload, headers=headers, timeout=15)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def seed(api: str) -> int:
    employers = {
        account["tax_id"]: bearer(api, account["username"])
        for account in DEMO_ACCOUNTS
        if account["role"] == "employer"
    }
    officer = bearer(api, "officer")
    filed = []
    for index, case in enumerate(DEMO_CASES):
        payload = application(index, case)
        response = file_case(api, payload, employers[payload["employer"]["tax_id"]])
        if response.status_code != 201:
            print(f"  could not file case {index}: {response.status_code} {response.text}")
            return 1
        filed.append((response.json()["id"], case[-1], f"{case[0]} {case[1]}"))
    for application_id, approve, name in filed:
        url = f"{api}/applications/{application_id}"
        wait_until(
            lambda url=url: (
                requests.get(url, headers=officer, timeout=15).json()["status"]
                != "identity_check_pending"
            )
        )
        status = requests.get(url, headers=officer, timeout=15).json()["status"]
        if approve and status == "in_review":
            requests.post(
                f"{url}/decision",
                json={"decision": "approve", "reason": "demo"},
                headers=officer,
                timeout=15,
            )
            status = "approved"
        print(f"  {name:<22} {status}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    api = args.gateway.rstrip("/") + "/api/v1"
    if create_accounts(api):
        return 1
    print_accounts()
    existing = requests.get(
        f"{api}/applications", params={"limit": 1}, headers=bearer(api, "officer"), timeout=15
    )
    if existing.status_code == 200 and existing.json():
        print("demo data: the register already has cases; not seeding again")
        return 0
    print("demo data: filing demo cases through the API")
    return seed(api)


if __name__ == "__main__":
    sys.exit(main())
