"""The `gleaner` command."""
