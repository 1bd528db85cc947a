"""Command groups of the `cm` command: each module has ``register(group)``."""
