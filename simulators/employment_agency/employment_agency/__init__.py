"""Simulator of the state employment agency's labour-market test, for WPIS
development and tests. Not part of WPIS: a separate process."""
