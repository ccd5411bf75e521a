"""The Discord front end: slash commands, task screens, moderation by reaction and community channels."""
