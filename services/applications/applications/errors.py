"""Errors of the applications service beyond wpis_common's (they cross RPC by name)."""

from __future__ import annotations

from wpis_common.caller import AUTH_ERRORS, Forbidden
from wpis_common.errors import EXPECTED_ERRORS

__all__ = ["APPLICATION_ERRORS", "Forbidden"]

# Forbidden: the caller's role may not do this (403); Unauthenticated: no valid token (401).
APPLICATION_ERRORS = (*EXPECTED_ERRORS, *AUTH_ERRORS)
