"""Agent sign-up by phone: an SMS code, then the account; every limit counted in the database."""
