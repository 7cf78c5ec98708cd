"""Public codes: random, unguessable, never sequential."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable
from typing import TypeVar

LOWER = string.ascii_lowercase
T = TypeVar("T")
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def random_string(alphabet: str, length: int) -> str:
    """``length`` characters of ``alphabet`` (at most 256), each uniform and independent: random
    bytes below the largest multiple of the alphabet's size, taken modulo it (the rest are drawn
    again). One call to the system's generator for the whole string, not one per character."""
    size = len(alphabet)
    limit = 256 - 256 % size
    chosen: list[str] = []
    while len(chosen) < length:
        chosen.extend(alphabet[byte % size] for byte in secrets.token_bytes(2 * length) if byte < limit)
    return "".join(chosen[:length])


def conference_code() -> str:
    """Boomstream conference code ``xxx-xxxx-xxx`` (26^10, about 47 bits)."""
    return f"{random_string(LOWER, 3)}-{random_string(LOWER, 4)}-{random_string(LOWER, 3)}"


def client_code() -> str:
    """Boomstream object code (clients, folders, media, PPV subscriptions): eight letters and digits."""
    return random_string(ALNUM, 8)


# Access passwords are typed by people: no 0/O, 1/l/I look-alikes; 12 characters is about 60 bits.
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def access_password() -> str:
    """A PPV buyer's access password (Boomstream ``hash``)."""
    return random_string(PASSWORD_ALPHABET, 12)


def meeting_short_code() -> str:
    """LiveMinutes meeting URL code, e.g. ``03P23ZK7QM``: the sample's alphabet, 10 characters (about
    52 bits; the sample's 6 were 31 bits, found by a guesser in hours)."""
    return random_string(UPPER_DIGITS, 10)


def capability_token() -> str:
    """LiveMinutes host / participant URL token: ``LIVE`` + 20 characters (about 103 bits)."""
    return "LIVE" + random_string(UPPER_DIGITS, 20)


def meeting_key() -> str:
    return random_string(string.ascii_lowercase + string.digits, 10)


def secret_token(nbytes: int = 24) -> str:
    return secrets.token_hex(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy generated secret.

    Our secrets are 192-bit random tokens, so a fast hash is safe (no dictionary to
    guess from) and lets us look a credential up by its hash.
    """
    # surrogatepass: a malformed secret still hashes (to something that matches nothing).
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def unused(make: Callable[[], T], taken: Callable[[T], bool], what: str = "code", *, attempts: int = 20) -> T:
    """A fresh random value that ``taken`` says is free (a collision is rare; twenty draws is plenty).

    The one drawing loop for every public code Podium hands out.
    """
    return unused_many(make, lambda values: taken(values[0]), 1, what, attempts=attempts)[0]


def unused_many(
    make: Callable[[], T],
    taken: Callable[[list[T]], bool],
    count: int,
    what: str = "code",
    *,
    attempts: int = 20,
) -> list[T]:
    """``count`` fresh random values, none of them ``taken`` (one question for them all: a batch of
    rows, group commit) and no two alike (a value that is a dict of codes: none of its codes alike).
    On a collision the whole draw is made again."""
    if count == 0:
        return []
    for _ in range(attempts):
        values = [make() for _ in range(count)]
        parts = [part for v in values for part in (v.values() if isinstance(v, dict) else (v,))]
        if len(set(parts)) == len(parts) and not taken(values):
            return values
    raise RuntimeError(f"could not draw a free {what}")


def distinct_many(make: Callable[[], T], count: int, what: str = "code") -> list[T]:
    """``count`` fresh random values, no two alike, not checked against anything else: for rows
    whose unique indexes refuse a taken one at their insert (``kit.db.insert_skipping_taken``) or
    that one query checks with other lookups."""
    return unused_many(make, lambda _: False, count, what)
