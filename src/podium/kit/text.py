"""Text rules at the boundary: digits that ``int()`` takes, and secrets compared in constant time.

``str.isdigit()`` accepts "²" and "١", which ``int()`` refuses or reads differently; and
``hmac.compare_digest`` raises on non-ASCII ``str`` — both turned bad input into server errors.
"""

from __future__ import annotations

import hmac

# Integers Podium reads from the outside end up in 64-bit columns at most; ids and counts in 32 bits.
MAX_INT64 = 2**63 - 1


def ascii_digits(text: str, *, max_length: int = 18) -> bool:
    """Whether ``text`` is 1 to ``max_length`` ASCII digits (18 always fits a signed 64-bit integer)."""
    return 0 < len(text) <= max_length and text.isascii() and text.isdigit()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets, whatever characters the given one holds."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
