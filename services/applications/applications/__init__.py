"""WPIS applications service."""
