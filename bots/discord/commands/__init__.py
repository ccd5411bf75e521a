"""Slash commands, one module per audience: members, moderators, maintainers."""
