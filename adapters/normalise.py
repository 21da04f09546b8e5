"""How keys are compared across systems. One definition, so the key an adapter files a
record under is the key the resolvers ask for."""

from __future__ import annotations


def email_key(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()
