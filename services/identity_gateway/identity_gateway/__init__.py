"""WPIS identity_gateway service."""
