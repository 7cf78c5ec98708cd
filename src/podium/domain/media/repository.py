from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from podium.kit.db import live_by_company_codes
from podium.models.conference import Conference, Folder
from podium.models.media import Media, MediaImage, MediaRendition, MediaStatus

SORT_COLUMNS = {"name": (Folder.name, Media.title), "added": (Folder.created_at, Media.created_at)}


class MediaRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: Any) -> None:
        self.session.add(obj)
        self.session.flush()

    def code_taken(self, model: type[Any], value: str) -> bool:
        return self.session.scalar(select(model.id).where(model.code == value)) is not None

    # --- media ------------------------------------------------------------------------

    def by_id(self, media_id: int) -> Media | None:
        return self.session.get(Media, media_id)

    def live_by_code(self, company_id: int, code: str) -> Media | None:
        return self.live_by_company_codes({(company_id, code)}).get((company_id, code))

    def live_by_company_codes(self, wanted: Set[tuple[int, str]]) -> dict[tuple[int, str], Media]:
        """Live media by (company id, code), of several companies at once; one query."""
        return live_by_company_codes(self.session, Media, wanted)

    def live_by_public_code(self, code: str) -> Media | None:
        """A media by its code alone (watch pages and play links carry no tenant)."""
        return self.session.scalar(select(Media).where(Media.code == code, Media.deleted_at.is_(None)))

    def live_by_codes(self, company_id: int, codes: Sequence[str]) -> Sequence[Media]:
        stmt = select(Media).where(
            Media.company_id == company_id, Media.code.in_(list(codes)), Media.deleted_at.is_(None)
        )
        return self.session.scalars(stmt).all()

    def renditions(self, media_id: int) -> Sequence[MediaRendition]:
        stmt = (
            select(MediaRendition)
            .where(MediaRendition.media_id == media_id)
            .order_by(MediaRendition.height, MediaRendition.id)
        )
        return self.session.scalars(stmt).all()

    def rendition(self, media_id: int, title: str) -> MediaRendition | None:
        stmt = select(MediaRendition).where(
            MediaRendition.media_id == media_id, MediaRendition.title == title
        )
        return self.session.scalar(stmt)

    def images(self, media_id: int) -> Sequence[MediaImage]:
        stmt = select(MediaImage).where(MediaImage.media_id == media_id).order_by(MediaImage.position)
        return self.session.scalars(stmt).all()

    def outputs_for(
        self, media_ids: Sequence[int]
    ) -> tuple[dict[int, list[MediaRendition]], dict[int, list[MediaImage]]]:
        """The renditions and images of many media in two queries (a list page), in the order
        ``renditions`` and ``images`` give them one media at a time."""
        renditions: dict[int, list[MediaRendition]] = {media_id: [] for media_id in media_ids}
        images: dict[int, list[MediaImage]] = {media_id: [] for media_id in media_ids}
        if media_ids:
            stmt = (
                select(MediaRendition)
                .where(MediaRendition.media_id.in_(media_ids))
                .order_by(MediaRendition.height, MediaRendition.id)
            )
            for rendition in self.session.scalars(stmt):
                renditions[rendition.media_id].append(rendition)
            image_stmt = (
                select(MediaImage).where(MediaImage.media_id.in_(media_ids)).order_by(MediaImage.position)
            )
            for image in self.session.scalars(image_stmt):
                images[image.media_id].append(image)
        return renditions, images

    def image_by_code(self, code: str) -> MediaImage | None:
        return self.session.scalar(select(MediaImage).where(MediaImage.code == code))

    def replace_outputs(
        self, media_id: int, renditions: list[MediaRendition], images: list[MediaImage]
    ) -> None:
        self.session.execute(delete(MediaRendition).where(MediaRendition.media_id == media_id))
        self.session.execute(delete(MediaImage).where(MediaImage.media_id == media_id))
        self.session.add_all([*renditions, *images])
        self.session.flush()

    # --- the transcoding queue ------------------------------------------------------------

    def due_for_processing(self, now: datetime, limit: int = 10) -> Sequence[int]:
        stmt = (
            select(Media.id)
            .where(
                Media.status == MediaStatus.PROCESSING.value,
                Media.deleted_at.is_(None),
                or_(Media.lease_until.is_(None), Media.lease_until <= now),
            )
            .order_by(Media.id)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def queue_counts(self, now: datetime) -> tuple[int, int, int]:
        """(waiting, leased, failed): media due for transcoding, held by a worker now, and failed
        (``/metrics``; the queue index)."""
        live = Media.deleted_at.is_(None)
        processing = Media.status == MediaStatus.PROCESSING.value
        leased = and_(Media.lease_until.is_not(None), Media.lease_until > now)
        stmt = select(
            func.coalesce(func.sum(case((and_(processing, ~leased), 1))), 0),
            func.coalesce(func.sum(case((and_(processing, leased), 1))), 0),
            func.coalesce(func.sum(case((Media.status == MediaStatus.FAILED.value, 1))), 0),
        ).where(live, Media.status.in_((MediaStatus.PROCESSING.value, MediaStatus.FAILED.value)))
        waiting, held, failed = self.session.execute(stmt).one()
        return int(waiting), int(held), int(failed)

    def claim(self, media_id: int, now: datetime, lease_until: datetime) -> Media | None:
        """Take a media's transcoding job; None when another worker holds it (or it is no longer due)."""
        result = self.session.execute(
            update(Media)
            .where(
                Media.id == media_id,
                Media.status == MediaStatus.PROCESSING.value,
                Media.deleted_at.is_(None),
                or_(Media.lease_until.is_(None), Media.lease_until <= now),
            )
            .values(lease_until=lease_until, attempts=Media.attempts + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return self.session.get(Media, media_id, populate_existing=True)

    def renew_lease(self, media_id: int, lease_until: datetime, **progress: int | None) -> bool:
        """Keep a job's lease, with how far it got (``progress``, or ``upload_received``/``_expected``);
        False when the media has been deleted meanwhile."""
        result = self.session.execute(
            update(Media)
            .where(Media.id == media_id, Media.deleted_at.is_(None))
            .values(lease_until=lease_until, **progress)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def set_upload_progress(self, media_id: int, received: int, expected: int | None) -> None:
        self.session.execute(
            update(Media)
            .where(Media.id == media_id, Media.status == MediaStatus.UPLOADING.value)
            .values(upload_received=received, upload_expected=expected)
        )

    # --- folders ----------------------------------------------------------------------------

    def folder(self, company_id: int, code: str) -> Folder | None:
        return self.session.scalar(select(Folder).where(Folder.company_id == company_id, Folder.code == code))

    def folder_by_id(self, folder_id: int) -> Folder | None:
        return self.session.get(Folder, folder_id)

    def folder_page(
        self,
        company_id: int,
        folder_id: int | None,
        *,
        sort: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Folder], Sequence[Media], int]:
        """One page of a folder's listing: sub-folders first, then media, each sorted; and the total."""
        folder_sort, media_sort = SORT_COLUMNS[sort]
        folders_where = (
            Folder.company_id == company_id,
            Folder.parent_id.is_(None) if folder_id is None else Folder.parent_id == folder_id,
        )
        media_where = (
            Media.company_id == company_id,
            Media.deleted_at.is_(None),
            Media.folder_id.is_(None) if folder_id is None else Media.folder_id == folder_id,
        )
        folder_count = int(self.session.scalar(select(func.count(Folder.id)).where(*folders_where)) or 0)
        media_count = int(self.session.scalar(select(func.count(Media.id)).where(*media_where)) or 0)
        order_f = folder_sort.desc() if descending else folder_sort.asc()
        order_m = media_sort.desc() if descending else media_sort.asc()
        folders: Sequence[Folder] = []
        if offset < folder_count:
            folders = self.session.scalars(
                select(Folder).where(*folders_where).order_by(order_f, Folder.id).offset(offset).limit(limit)
            ).all()
        media_offset = max(0, offset - folder_count)
        media_limit = limit - len(folders)
        medias: Sequence[Media] = []
        if media_limit > 0:
            medias = self.session.scalars(
                select(Media)
                .where(*media_where)
                .order_by(order_m, Media.id)
                .offset(media_offset)
                .limit(media_limit)
            ).all()
        return folders, medias, folder_count + media_count

    def folder_in_use(self, folder_id: int) -> bool:
        for stmt in (
            select(Folder.id).where(Folder.parent_id == folder_id),
            select(Media.id).where(Media.folder_id == folder_id, Media.deleted_at.is_(None)),
            select(Conference.id).where(Conference.folder_id == folder_id, Conference.deleted_at.is_(None)),
        ):
            if self.session.scalar(stmt.limit(1)) is not None:
                return True
        return False

    def delete_folder(self, folder: Folder) -> None:
        # Deleted media and conferences keep no link to a folder that is gone.
        self.session.execute(update(Media).where(Media.folder_id == folder.id).values(folder_id=None))
        self.session.execute(
            update(Conference).where(Conference.folder_id == folder.id).values(folder_id=None)
        )
        self.session.delete(folder)
        self.session.flush()

    def titles(self, media_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Media id -> (code, title), in one query (the console's charts)."""
        if not media_ids:
            return {}
        stmt = select(Media.id, Media.code, Media.title).where(Media.id.in_(list(media_ids)))
        return {int(i): (str(c), str(t)) for i, c, t in self.session.execute(stmt).all()}
