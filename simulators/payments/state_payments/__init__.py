"""Simulator of the state payment service (treasury): a payer pays a state fee
and gets a reference; WPIS confirms the reference. Not part of WPIS."""
