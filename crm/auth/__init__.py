"""Accounts, passwords, sessions, login throttling, CSRF and API keys."""
