"""Error codes are one closed set, and every edge's table answers every one of them (issue #11)."""

from __future__ import annotations

import pytest

import podium.app  # noqa: F401 - imports every module, so every error class is defined
from podium.edges.boomstream import errors as boomstream
from podium.edges.iotum import errors as iotum
from podium.edges.liveminutes import errors as liveminutes
from podium.kit.errors import DomainError, ErrorCode
from podium.web import errors as web

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

TABLES = {
    "boomstream": boomstream.STATUS_BY_CODE,
    "iotum": iotum.STATUS_BY_CODE,
    "liveminutes": liveminutes.STATUS_BY_CODE,
    "web pages": web.STATUS_BY_CODE,
    "web playback": web.PLAYBACK_STATUS_BY_CODE,
}


@pytest.mark.parametrize("edge", sorted(TABLES))
def test_every_code_has_an_answer_in_every_edge(edge: str) -> None:
    missing = set(ErrorCode) - set(TABLES[edge])
    assert not missing, f"{edge} has no status for {sorted(missing)}"
    assert all(100 <= status <= 599 for status in TABLES[edge].values())


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_error_class_names_a_member() -> None:
    classes = _subclasses(DomainError)
    assert len(classes) > 15
    for cls in classes:
        assert isinstance(cls.code, ErrorCode), cls


def test_a_code_outside_the_set_is_refused_at_definition() -> None:
    with pytest.raises(TypeError):

        class Stray(DomainError):
            code = "stray"  # type: ignore[assignment]
