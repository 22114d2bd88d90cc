"""HTTP routes, one module per area; GatewayService combines them.

Each module defines a mixin class of ``@http`` entrypoints. Nameko finds
entrypoints on base classes too, so areas grow without touching each other.
"""
