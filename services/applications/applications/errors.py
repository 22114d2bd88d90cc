"""Errors of the applications service beyond wpis_common's (they cross RPC by name)."""

from __future__ import annotations

from wpis_common.errors import EXPECTED_ERRORS, WpisError


class Forbidden(WpisError):
    """The caller's role may not do this (or see this); the gateway answers 403."""

    http_status = 403


APPLICATION_ERRORS = (*EXPECTED_ERRORS, Forbidden)
