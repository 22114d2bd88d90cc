"""WPIS permits service."""
