"""A page of media reads its renditions and images in two queries, whatever its length, and gives
the same views as reading each media alone (Boomstream media/list, media/info of many, ppv/listMedia
and the console's library all list this way)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from podium.domain.actor import Actor
from podium.domain.media.service import MediaService
from podium.models.media import MediaImage, MediaRendition, MediaStatus
from podium.models.tenancy import Role
from tests.fixtures.tenants import TenantFactory


def _done_with_outputs(service: MediaService, actor: Actor, title: str, heights: list[int]) -> None:
    media = service.create(actor, title=title)
    media.status = MediaStatus.DONE.value
    for height in heights:
        service.session.add(
            MediaRendition(
                media_id=media.id, code=f"{media.code}-{height}", title=f"{height}p", height=height
            )
        )
    for position in (1, 0):  # written out of order: the view orders them
        service.session.add(
            MediaImage(
                media_id=media.id, code=f"{media.code}-s{position}", kind="screenshot", position=position
            )
        )
    service.session.flush()


def _unsigned(links: dict[str, Any]) -> dict[str, Any]:
    """Playback links without their signed token (``/play/<token>/…``)."""
    return {
        title: tuple(re.sub(r"/play/[^/]+/", "/play/<token>/", link) for link in pair)
        for title, pair in links.items()
    }


def _page_queries(client: TestClient, actor: Actor) -> tuple[int, list[Any]]:
    app: Any = client.app
    with app.state.sessions() as session:
        service = MediaService(session, app.state.settings)
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = service.folder_page(actor)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        alone = [service.view(view.media) for view in page.medias]
        described = [
            (
                v.media.code,
                [r.title for r in v.renditions],
                [i.code for i in v.images],
                _unsigned(v.rendition_links),
            )
            for v in page.medias
        ]
        # The same links, signed a moment apart (their tokens' issue time may differ by a second).
        assert described == [
            (
                v.media.code,
                [r.title for r in v.renditions],
                [i.code for i in v.images],
                _unsigned(v.rendition_links),
            )
            for v in alone
        ]
        return len(statements), described


def test_a_page_of_media_reads_outputs_in_two_queries(client: TestClient, tenants: TenantFactory) -> None:
    app: Any = client.app
    small, large = tenants(), tenants()
    for tenant, count in ((small, 1), (large, 6)):
        actor = Actor(company_id=tenant.company_id, role=Role.COMPANY_ADMIN, via="test")
        with app.state.sessions() as session:
            service = MediaService(session, app.state.settings)
            for n in range(count):
                _done_with_outputs(service, actor, f"Video {n}", [720, 360])
            service.create(actor, title="Still uploading")  # no outputs to read
            session.commit()
    one, described = _page_queries(
        client, Actor(company_id=small.company_id, role=Role.COMPANY_ADMIN, via="test")
    )
    assert [(titles, len(images)) for _, titles, images, _ in described if titles] == [(["360p", "720p"], 2)]
    six, described = _page_queries(
        client, Actor(company_id=large.company_id, role=Role.COMPANY_ADMIN, via="test")
    )
    assert len([d for d in described if d[1]]) == 6
    assert six == one  # not two more per media
