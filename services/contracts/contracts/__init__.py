"""WPIS contracts service."""
