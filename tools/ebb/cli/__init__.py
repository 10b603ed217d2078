"""The `ebb` command."""
