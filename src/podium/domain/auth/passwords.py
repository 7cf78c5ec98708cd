"""Password hashing with Argon2 (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from podium.kit.errors import InvalidInput

_hasher = PasswordHasher()
MIN_LENGTH = 8
# Verified against when no host matches, so an unknown email costs the same as a wrong password.
_DUMMY_HASH = _hasher.hash("podium-dummy-password")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH or len(password) > 256:
        raise InvalidInput(f"password must be {MIN_LENGTH} to 256 characters", field="password")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
