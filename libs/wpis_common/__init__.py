"""Shared plumbing for WPIS services: no domain rules live here."""
