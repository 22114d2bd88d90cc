"""WPIS statistics service: live figures on immigration flows and on the authority's
performance, from the public events (a read model; it publishes nothing).

The Nameko service is named ``statistics``; the package is ``wpis_statistics``
because ``statistics`` is a standard-library module that it would shadow.
"""
