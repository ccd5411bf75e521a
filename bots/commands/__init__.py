"""Subcommands of the `chorus` command line, one module per area."""
