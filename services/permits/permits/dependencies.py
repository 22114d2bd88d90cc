"""The permits service's own dependency providers: its clock, its credential
signing key and document settings, its verification policy, and a timer whose
interval comes from config."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from permits import domain
from permits.credential import DEFAULT_KEY_PATH, load_or_create_key, public_pem
from permits.document import DocumentSettings
from permits.verification import VerificationPolicy
from wpis_common.config import flag_setting, setting
from wpis_common.signing import key_id


class Clock(DependencyProvider):
    """Now, and today in the authority's time zone (``AUTHORITY_TIMEZONE``).

    ``CLOCK_OFFSET_DAYS`` moves the whole service's sense of time (demos and
    tests of expiry without waiting); tests may also replace ``source``.
    """

    def __init__(self, source: Any = None, **kwargs: Any):
        self.source = source or (lambda: datetime.now(UTC))
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.timezone = ZoneInfo(str(setting("AUTHORITY_TIMEZONE", "Asia/Yerevan")))
        self.offset = timedelta(days=int(setting("CLOCK_OFFSET_DAYS", 0)))

    def now(self) -> datetime:
        return self.source() + self.offset

    def today(self) -> date:
        return domain.authority_today(self.now(), self.timezone)

    def get_dependency(self, worker_ctx: Any) -> Clock:
        return self


class Credentials(DependencyProvider):
    """The permits signing key (``CREDENTIAL_SIGNING_KEY``) and certificate settings."""

    def setup(self) -> None:
        self.signing_key = load_or_create_key(
            str(setting("CREDENTIAL_SIGNING_KEY", DEFAULT_KEY_PATH)),
            create=flag_setting("CREDENTIAL_KEY_AUTOCREATE", True),
        )
        self.document = DocumentSettings(
            authority=str(setting("AUTHORITY_NAME", DocumentSettings.authority)),
            verify_base_url=str(setting("VERIFY_BASE_URL", DocumentSettings.verify_base_url)),
        )
        self.verification = VerificationPolicy(
            require_date_of_birth=flag_setting("VERIFY_REQUIRE_DATE_OF_BIRTH", False)
        )

    def public_key_info(self) -> dict[str, str]:
        public_key = self.signing_key.public_key()
        return {"algorithm": "Ed25519", "key_id": key_id(public_key), "pem": public_pem(public_key)}

    def get_dependency(self, worker_ctx: Any) -> Credentials:
        return self


class ConfiguredTimer(Timer):
    """A timer whose interval (seconds) is read from config at setup."""

    def __init__(self, interval_key: str, default: float, **kwargs: Any):
        self.interval_key, self.default = interval_key, default
        super().__init__(interval=default, **kwargs)

    def setup(self) -> None:
        self.interval = float(setting(self.interval_key, self.default))


configured_timer = ConfiguredTimer.decorator
