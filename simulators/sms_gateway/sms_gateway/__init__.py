"""A simulated HTTP SMS gateway: accepts messages, keeps them in memory, can fail on purpose."""
