"""Stand-in for a national identity management system (IDMS), modelled on MOSIP ID Authentication.

This package is a development and test simulator; it is not part of WPIS itself.
"""

__version__ = "0.1.0"
