"""WPIS gateway service."""
