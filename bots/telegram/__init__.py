"""The Telegram front end: python-telegram-bot handlers over the Chorus service API."""
