"""wpis: the WPIS command-line client (talks to the HTTP API only)."""
