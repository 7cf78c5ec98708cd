"""Host conferences (the Iotum conference API): the Iotum entry point over the conference building
blocks — timing, series, access codes and the roster — with create, update and cancel on top.

Every public method takes the actor and ids and checks access itself (``access.conferences``):
whoever administers a conference's organiser may manage it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.conferences import ConferenceAccess
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.auth.service import AuthService
from podium.domain.chat.service import ChatService
from podium.domain.conferences import lifecycle, rows
from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.conferences.options import apply_options, check_features
from podium.domain.conferences.recurrence import parse
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.room_urls import RoomUrls
from podium.domain.conferences.roster import LEADING, Roster, Seat
from podium.domain.conferences.schemas import ConferenceOptions, ConferenceView, DialOut, Invitee, Unset
from podium.domain.conferences.series import HORIZON, Series, is_instance, is_master, rule_of
from podium.domain.conferences.timing import (
    DEFAULT_DURATION,
    TIME_FORMAT,
    end_of,
    is_active,
    local,
    require_active,
    require_past,
    set_validity,
    to_utc,
    zone_of,
)
from podium.domain.contacts.service import Book, ContactService, ContactView
from podium.domain.recordings.service import RecordingService
from podium.domain.streams.previews import PreviewService, PreviewView
from podium.domain.streams.service import StreamService, streaming_url
from podium.domain.telephony.service import TelephonyService
from podium.domain.tenancy.repository import TenancyRepository
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput
from podium.models.conference import Conference
from podium.models.participant import ParticipantRole
from podium.models.tenancy import Host

# ConferenceView and local are also read from here by the Iotum presenters and the web summary page.
__all__ = ["ConferenceView", "SchedulingService", "local"]

PHONE_RE = re.compile(r"[1-9]\d{6,14}")
MEDIA_KINDS = ("recordings", "transcriptions")


CONSOLE_KINDS = ("upcoming", "live", "past")


class SchedulingService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ConferenceRepository(session)
        self.roster = Roster(session)
        self.series = Series(session, self.roster)
        self.emails = ConferenceEmails(session, settings)

    def _access(self, actor: Actor) -> ConferenceAccess:
        return ConferenceAccess(self.session, actor)

    def _access_code(self, conference: Conference, host: Host) -> str | None:
        """A fresh one-time code, or the host's dedicated code."""
        if conference.one_time_code:
            return AccessCodes(self.session).draw_one_time()
        return host.access_code

    def _seats(self, host: Host, invitees: Sequence[Invitee] | None) -> list[Seat] | None:
        return None if invitees is None else self.roster.resolve(host, invitees)

    # --- create, update, cancel -------------------------------------------------------------

    def create(
        self,
        actor: Actor,
        host_id: int,
        options: ConferenceOptions,
        invitees: Sequence[Invitee] | None = None,
    ) -> Conference:
        """Schedule a conference (or the master of a series) organised by a host.

        Args:
            actor: Who is calling; must administer the host.
            host_id: The organiser.
            options: ``start`` and ``duration`` are required; ``schedule`` makes a series.
            invitees: Who is invited besides the organiser (always first, a moderator).

        Returns:
            The conference (the master, for a series, whose instances are materialised too).

        Raises:
            Forbidden: the host is beyond the actor's scope, its plan cannot host, or lacks a feature
                an option needs (the reference's messages).
            NotFound: no such live host.
            InvalidInput: a missing or bad option, a PIN without a one-time code, invitees outside the
                host's contacts or company, a schedule rule error.
            QuotaExceeded: the company holds its quota of conferences.
        """
        host = self._access(actor).organiser(host_id)
        if isinstance(options.start, Unset):
            raise InvalidInput("start is required", field="start")
        if isinstance(options.duration, Unset):
            raise InvalidInput("duration is required", field="duration")
        conference = rows.insert_for_host(self.session, self.settings, host, actor_label=actor.label)
        apply_options(conference, options)
        conference.starts_at = to_utc(options.start, zone_of(conference))
        conference.one_time_code = options.one_time_access_code is True
        check_features(self.session, host, conference)
        conference.access_code = self._access_code(conference, host)
        schedule = None if isinstance(options.schedule, Unset) else rule_of(options.schedule)
        seats = self._seats(host, invitees)
        if schedule is not None:
            self.series.begin(conference, schedule)
        set_validity(conference)
        self.roster.seat(conference, host, seats)
        if schedule is not None:
            self.series.materialise(conference, host)
        rows.audit(self.session, "conference.scheduled", conference, actor.label, host_id=host.id)
        self.emails.announce(conference)
        return conference

    def create_reservationless(
        self,
        actor: Actor,
        host_id: int,
        options: ConferenceOptions,
        invitees: Sequence[Invitee] | None = None,
    ) -> Conference:
        """Start a host's reservationless conference now, active at once: a one-time code and/or a
        secure URL, or the host's dedicated code.

        Every option ``create`` takes means the same here (recording, streaming, PIN, mute mode…);
        only ``start`` and ``schedule`` have no meaning for a call that starts now, and are refused
        rather than ignored.

        Args:
            actor: Who is calling; must administer the host.
            host_id: The organiser.
            options: As for ``create``, without ``start`` and ``schedule``.
            invitees: Who is invited besides the organiser.

        Returns:
            The started conference.

        Raises:
            Forbidden: as for ``create``.
            NotFound: no such live host.
            InvalidInput: ``start`` or ``schedule`` given, or as for ``create``.
            QuotaExceeded: the company holds its quota of conferences.
        """
        host = self._access(actor).organiser(host_id)
        for key, given in (
            ("start", not isinstance(options.start, Unset)),
            ("schedule", not isinstance(options.schedule, Unset) and bool(options.schedule)),
        ):
            if given:
                raise InvalidInput(
                    f"{key} cannot be given to a reservationless conference: it starts now "
                    "(use conference/create to schedule one)",
                    field=key,
                )
        conference = rows.insert_for_host(self.session, self.settings, host, actor_label=actor.label)
        conference.reservationless = True
        conference.title = f"{host.name}'s meeting"
        conference.duration_minutes = DEFAULT_DURATION
        conference.mute_mode = "conversation"
        conference.host_initiated_recording = bool(
            (host.settings or {}).get("host_initiated_recording", False)
        )
        apply_options(conference, options)
        conference.one_time_code = options.one_time_access_code is True
        check_features(self.session, host, conference)
        seats = self._seats(host, invitees)
        now = utcnow()
        conference.starts_at = now
        conference.access_code = self._access_code(conference, host)
        set_validity(conference)
        self.roster.seat(conference, host, seats)
        lifecycle.mark_started(self.session, conference, now, actor_label="system")
        self.emails.announce(conference)
        return conference

    def update(
        self,
        actor: Actor,
        conference_id: int,
        options: ConferenceOptions,
        invitees: Sequence[Invitee] | None = None,
    ) -> Conference:
        """Change the given options of a conference; on a series' master the series follows.

        A new ``start`` or ``schedule`` on a master makes its future instances again; ``schedule``
        ``None`` ends the series (the master stays). Invitees, when given, replace the current ones
        (the organiser stays first). Turning the one-time code off drops the security PIN.

        Args:
            actor: Who is calling; must administer the organiser.
            conference_id: The conference (a master, an instance or a single one).
            options: What changes; ``UNSET`` options stay as they are.
            invitees: The new invitees, or ``None`` to keep them.

        Returns:
            The conference.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope, or the plan lacks a feature.
            Conflict: the conference has ended.
            InvalidInput: ``schedule`` on an instance, or as for ``create``.
        """
        conference, host = self._access(actor).conference(conference_id)
        if not isinstance(options.schedule, Unset) and is_instance(conference):
            raise InvalidInput("Can only include schedule details in the master conference", field="schedule")
        if conference.ended_at is not None:
            raise Conflict("The conference has ended")
        apply_options(conference, options)
        reschedule = not isinstance(options.start, Unset)
        if not isinstance(options.start, Unset):
            conference.starts_at = to_utc(options.start, zone_of(conference))
        if not isinstance(options.one_time_access_code, Unset):
            wanted = options.one_time_access_code
            if wanted != conference.one_time_code:
                conference.one_time_code = wanted
                conference.access_code = self._access_code(conference, host)
            if not wanted and isinstance(options.security_pin, Unset):
                # The PIN exists only with a one-time code: turning the code off drops it. Naming a
                # PIN in the same request is still refused by the feature check below.
                conference.security_pin = None
        check_features(self.session, host, conference)
        seats = self._seats(host, invitees)
        self.roster.seat(conference, host, seats)
        set_validity(conference)
        master = is_master(conference)
        new_schedule = None if isinstance(options.schedule, Unset) else rule_of(options.schedule)
        if not isinstance(options.schedule, Unset) and new_schedule is None and master:
            self.series.end(conference)
        elif new_schedule is not None or (master and reschedule):
            if new_schedule is None:
                assert conference.schedule is not None
                new_schedule = parse(conference.schedule)
            self.series.drop_future(conference)
            self.series.begin(conference, new_schedule)
            set_validity(conference)
            self.series.materialise(conference, host)
        elif master:
            self.series.follow(conference, host, seats)
        self.session.flush()
        rows.audit(self.session, "conference.updated", conference, actor.label)
        self.emails.announce(conference)
        return conference

    def cancel(self, actor: Actor, conference_id: int) -> None:
        """Cancel a conference; cancelling a series' master cancels the whole series. A live one
        stops first (its room closes).

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
            Conflict: the conference has ended.
        """
        conference, _ = self._access(actor).conference(conference_id)
        if conference.ended_at is not None:
            raise Conflict("The conference has ended")
        now = utcnow()
        targets = self.series.members(conference) if is_master(conference) else [conference]
        for target in targets:
            rows.remove(
                self.session, target, now, actor_label=actor.label, reason="cancelled", cancelled=True
            )
        self.session.flush()
        rows.audit(self.session, "conference.cancelled", conference, actor.label, series=len(targets) > 1)
        self.emails.cancelled(conference)

    def end(self, actor: Actor, conference_id: int) -> None:
        """End an active conference: everyone leaves, the room closes.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
            Conflict: the conference is not active.
        """
        conference, _ = self._access(actor).conference(conference_id)
        lifecycle.end_active(self.session, conference, actor_label=actor.label)

    # --- reads ---------------------------------------------------------------------------------

    def fetch(self, actor: Actor, conference_id: int) -> Conference:
        """A live conference the actor may manage.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
        """
        conference, _ = self._access(actor).conference(conference_id)
        return conference

    def visible_to(self, viewer: Host, conference_id: int) -> Conference:
        """A conference (cancelled ones included) its organiser, or an admin whose scope holds the
        organiser, may look at (the web app's summary page).

        Raises:
            NotFound: no such host conference.
            Forbidden: someone else's conference beyond the viewer's scope.
        """
        actor = AuthService(self.session, self.settings).actor_for_host(viewer, "web")
        return self._access(actor).readable(conference_id)

    def for_host(self, actor: Actor, host_id: int) -> list[Conference]:
        """A host's scheduled conferences from now to the 18-month horizon, soonest first (unbounded
        series are extended as time passes).

        Raises:
            Forbidden: the host is beyond the actor's scope.
            NotFound: no such live host.
        """
        host = self._access(actor).organiser(host_id)
        for master in self.repo.masters_of_host(host.id):
            self.series.materialise(master, host)
        now = utcnow()
        return [
            c
            for c in self.repo.upcoming_for_host(host.id, now - timedelta(days=1), now + HORIZON)
            if c.ended_at is None and (end_of(c) > now or is_active(self.session, c, now))
        ]

    def view(self, conference: Conference) -> ConferenceView:
        """What the Iotum answers show of a conference the caller already holds."""
        zone = zone_of(conference)
        start = conference.starts_at or conference.created_at
        participants = self.roster.invited(conference)
        moderators = [p for p in participants if p.role in LEADING]
        return ConferenceView(
            conference=conference,
            participants=[p.contact_id for p in participants if p.contact_id is not None],
            moderators=[p.contact_id for p in moderators if p.contact_id is not None],
            moderator_people=[{"person_id": p.host_id, "name": p.name, "email": p.email} for p in moderators],
            participant_emails=[
                {"email": p.email, "moderator": p.role != ParticipantRole.PARTICIPANT} for p in participants
            ],
            room_url=RoomUrls(self.settings).of(conference),
            streaming_url=streaming_url(self.settings, conference.id),
            active=is_active(self.session, conference),
            start_local=local(start, zone).strftime(TIME_FORMAT),
            end_local=local(end_of(conference), zone).strftime(TIME_FORMAT),
            master=self.series.master_of(conference),
        )

    def end_of(self, conference: Conference) -> datetime:
        """When the conference is scheduled to end."""
        return end_of(conference)

    def participant_contacts(
        self, actor: Actor, conference_id: int
    ) -> tuple[list[ContactView], list[ContactView]]:
        """The contacts of a conference's participants, and of its moderators, as the organiser's
        book shows them.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
        """
        access = self._access(actor)
        conference, host = access.conference(conference_id)
        everyone, moderators = self.roster.contacts_of(conference)
        contacts = ContactService(self.session)
        book = Book(access.contacts_company(host), host)
        return [contacts.view(book, c) for c in everyone], [contacts.view(book, c) for c in moderators]

    # --- the operator console ------------------------------------------------------------------

    def console_meetings(
        self, actor: Actor, kind: str, *, limit: int = 50, offset: int = 0
    ) -> tuple[Sequence[Conference], int]:
        """A page of the meetings the console shows the actor, and their count: a plain host its
        own; a company admin its company's; a reseller admin those of every company of its tree.

        Raises:
            InvalidInput: an unknown ``kind`` (upcoming, live, past) or paging.
        """
        if kind not in CONSOLE_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(CONSOLE_KINDS)}", field="kind")
        if not 1 <= limit <= 200 or offset < 0:
            raise InvalidInput("limit must be 1 to 200 and offset 0 or more", field="limit")
        host_id: int | None = None
        company_ids: list[int] | None = None
        if not actor.is_admin:
            host_id = actor.host_id or 0
        elif actor.is_reseller_admin:
            policy = AccessPolicy(self.session, actor)
            company_ids = [
                c.id for c in TenancyRepository(self.session).live_companies(policy.reseller_ids())
            ]
        else:
            company_ids = [actor.company_id]
        return self.repo.console_page(
            kind, utcnow(), company_ids=company_ids, host_id=host_id, limit=limit, offset=offset
        )

    def console_meeting(self, actor: Actor, conference_id: int) -> Conference:
        """A meeting the console shows the actor (see ``ConferenceAccess.in_console``).

        Raises:
            NotFound: no such live conference.
            Forbidden: beyond the actor's scope.
        """
        return self._access(actor).in_console(conference_id)

    def console_end(self, actor: Actor, conference_id: int) -> Conference:
        """End a live meeting from the console: everyone leaves, the room closes.

        Raises:
            NotFound: no such live conference.
            Forbidden: beyond the actor's scope.
            Conflict: the conference is not active.
        """
        conference = self._access(actor).in_console(conference_id)
        lifecycle.end_active(self.session, conference, actor_label=actor.label)
        return conference

    def livestream_viewers(self, actor: Actor, conference_id: int) -> int:
        """How many watch the conference's livestream now.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
        """
        conference, _ = self._access(actor).conference(conference_id)
        return StreamService(self.session, self.settings).viewers(conference.id)

    def stream_previews(self, actor: Actor, conference_id: int) -> list[PreviewView]:
        """The conference's stream previews (host ``stream_preview``) kept for the last 24 hours.

        Raises:
            NotFound: no such conference.
            Forbidden: the organiser is beyond the actor's scope.
        """
        conference, _ = self._access(actor).conference(conference_id)
        return PreviewService(self.session, self.settings).of_conference(conference.id)

    def stream_preview_image(self, actor: Actor, conference_id: int) -> PreviewView:
        """An image of the conference's stream now (host ``stream_preview.image_preview``).

        Raises:
            NotFound: no such conference.
            Forbidden: the organiser is beyond the actor's scope, or the host's images are off.
            Conflict: the meeting is not streaming, or its stream has no picture.
        """
        conference, _ = self._access(actor).conference(conference_id)
        return PreviewService(self.session, self.settings).take_image(conference)

    # --- other actions ---------------------------------------------------------------------------

    def stop_streaming(self, actor: Actor, conference_id: int) -> None:
        """Stop the conference's livestream (nothing to do when none runs).

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
        """
        conference, _ = self._access(actor).conference(conference_id)
        StreamService(self.session, self.settings).stop(conference, actor=actor.label)

    def dial_number(self, actor: Actor, conference_id: int, dial: DialOut) -> str:
        """Call a phone into an active conference through the SIP trunk (a server process's phone
        keeper places the call once this commits; domain/telephony).

        Returns:
            The dial-out's status: ``new``.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope, or their plan has no SIP gateway.
            Conflict: the conference is not active, or this server has no SIP trunk.
            InvalidInput: the number is no E.164 number.
        """
        conference, _ = self._access(actor).conference(conference_id)
        require_active(self.session, conference)
        phone = dial.phone_number.lstrip("+")
        if not PHONE_RE.fullmatch(phone):
            raise InvalidInput(
                "phone_number must be an E.164 number such as 14165551212", field="phone_number"
            )
        leg = TelephonyService(self.session, self.settings).dial_out(
            conference,
            phone_number=phone,
            country_code=dial.country_code,
            name=dial.name or phone,
            invitation_text=dial.invitation_text,
            actor_label=actor.label,
        )
        return leg.status

    def post_message(self, actor: Actor, conference_id: int, message: str) -> None:
        """A System message in an active conference (shown in its chat).

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
            Conflict: the conference is not active.
            InvalidInput: an empty or too long message.
        """
        conference, _ = self._access(actor).conference(conference_id)
        require_active(self.session, conference)
        ChatService(self.session).post_to_conference(
            actor.label, conference.company_id, conference.id, message
        )

    def delete_media(self, actor: Actor, conference_id: int, kind: str) -> None:
        """Delete a past conference's recordings (with their transcripts) or transcriptions.

        Args:
            actor: Who is calling.
            conference_id: The conference.
            kind: ``recordings`` or ``transcriptions``.

        Raises:
            NotFound: no such live conference.
            Forbidden: the organiser is beyond the actor's scope.
            Conflict: the conference is not over.
        """
        assert kind in MEDIA_KINDS
        conference, _ = self._access(actor).conference(conference_id)
        require_past(conference)
        recordings = RecordingService(self.session, self.settings)
        if kind == "recordings":
            recordings.delete_all(conference, actor_label=actor.label)
        else:
            recordings.delete_transcripts(conference, actor_label=actor.label)
