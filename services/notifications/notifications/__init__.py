"""WPIS notifications service."""
