"""Sign in: registration, login and logout, the account page and API tokens."""
