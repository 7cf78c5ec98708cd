"""Random codes: only their alphabet, their length, and every character equally likely (the bytes
that would favour the alphabet's first characters are drawn again)."""

from __future__ import annotations

import string
from collections import Counter

import pytest

from podium.kit import ids


@pytest.mark.once
@pytest.mark.parametrize("alphabet", [string.ascii_lowercase, ids.UPPER_DIGITS, ids.ALNUM, "01"])
def test_random_strings_draw_every_character_of_their_alphabet_evenly(alphabet: str) -> None:
    draws = [ids.random_string(alphabet, 10) for _ in range(200 * len(alphabet))]
    assert {len(d) for d in draws} == {10}
    counts = Counter("".join(draws))
    assert set(counts) == set(alphabet)
    expected = 2000  # per character; its standard deviation is under 45
    assert all(abs(n - expected) < 300 for n in counts.values()), counts


@pytest.mark.once
def test_a_random_string_of_a_small_alphabet_is_still_its_length() -> None:
    # 256 % 62 leaves 8 byte values out: some strings need a second draw of bytes.
    assert all(len(ids.random_string(ids.ALNUM, 3)) == 3 for _ in range(2000))
