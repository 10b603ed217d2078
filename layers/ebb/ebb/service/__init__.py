"""The use cases the handlers call: they wire the adapters to the core."""
