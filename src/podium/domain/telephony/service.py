"""Phone legs: ``conference/dial_number`` places a real call through the SIP trunk (ADR 0014).

A leg row is the desired state, as a stream's: asking for a call, or for its end, only changes rows
in the caller's unit of work and wakes the keepers (rooms/phones.py). A keeper claims a new call,
runs its gateway process (rooms/phone/) and writes back what happens: new → ringing → answered →
ended, or busy / no_answer / failed with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.attendance.service import GUEST, AttendanceService
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.telephony.ending import audit_leg, finish_leg, hang_up, hang_up_calls, tell_room
from podium.domain.telephony.repository import PhoneLegRepository
from podium.domain.telephony.views import DialOutView, view_of
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from podium.kit.uow import wake_phones
from podium.models.conference import Conference
from podium.models.phone_leg import FINAL, LegStatus, PhoneLeg
from podium.models.subscription import Feature
from podium.models.tenancy import Host

# SIP codes of a call that ended before an answer, by what Iotum calls them.
BUSY_CODES = frozenset({486, 600, 603})
NO_ANSWER_CODES = frozenset({408, 480, 487})
# The reference's instructions after the invitation; the gateway reads the keys (one joins at once).
JOIN_INSTRUCTIONS = (
    "To join this meeting, please press one or just stay on the line. "
    "If you do not wish to join this meeting, please press two or just hang up."
)


def default_invitation(session: Session, conference: Conference) -> str:
    """The reference's default: "[host name] has invited you to a meeting with the subject
    [subject]"."""
    host = session.get(Host, conference.host_id) if conference.host_id is not None else None
    who = host.name if host is not None and host.name else "Someone"
    return f"{who} has invited you to a meeting with the subject {conference.title}."


class TelephonyService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.legs = PhoneLegRepository(session)

    def may_dial(self, conference: Conference) -> None:
        """Raises Conflict when this server has no trunk, Forbidden when the organiser's plan has no
        SIP gateway (conferences without a host, of the other dialects, dial freely)."""
        if not self.settings.sip_trunk:
            raise Conflict("Dial-out is not configured on this server (PODIUM_SIP_TRUNK)")
        if conference.host_id is None:
            return
        host = self.session.get(Host, conference.host_id)
        if (
            host is None
            or Feature.SIP_GATEWAY not in SubscriptionService(self.session).host_plan(host).features()
        ):
            raise Forbidden("SIP gateway feature not enabled")

    def dial_out(
        self,
        conference: Conference,
        *,
        phone_number: str,
        country_code: str,
        name: str,
        invitation_text: str,
        actor_label: str,
    ) -> PhoneLeg:
        """A call from the live conference to ``phone_number`` (E.164 digits, checked by the caller);
        a keeper places it once this commits."""
        self.may_dial(conference)
        leg = self.legs.add(
            PhoneLeg(
                conference_id=conference.id,
                company_id=conference.company_id,
                direction="out",
                phone_number=phone_number,
                country_code=country_code,
                name=name[:255],
                invitation_text=(invitation_text or default_invitation(self.session, conference))[:2000],
                requested_by=actor_label[:255],
                status=LegStatus.NEW.value,
                reason="",
                sip_code=0,
                requested_at=utcnow(),
            )
        )
        wake_phones(self.session)
        audit_leg(self.session, leg, "conference.dialout_requested", actor_label, name=leg.name)
        tell_room(self.session, leg)
        return leg

    def speech(self, leg: PhoneLeg) -> str:
        """What the callee hears before joining."""
        return f"{leg.invitation_text.strip()} {JOIN_INSTRUCTIONS}".strip()

    # --- reading --------------------------------------------------------------------------------

    def views(
        self, conference_ids: list[int], *, open_only: bool = False, direction: str | None = "out"
    ) -> dict[int, list[DialOutView]]:
        """The conferences' calls (only those ringing or on the line with ``open_only``), by conference:
        the dial-outs (Iotum's ``dial_outs``), or every call with ``direction`` None (the room page)."""
        found: dict[int, list[DialOutView]] = defaultdict(list)
        for leg in self.legs.of_conferences(conference_ids, open_only=open_only, direction=direction):
            found[leg.conference_id].append(view_of(leg))
        return found

    # --- ending ---------------------------------------------------------------------------------

    def hang_up_all(self, conference: Conference, *, actor: str) -> int:
        return hang_up_calls(self.session, conference, actor=actor)

    # --- the keepers (rooms/phones.py) ----------------------------------------------------------

    def waiting(self) -> list[int]:
        return list(self.legs.waiting())

    def claim(self, leg_id: int, owner: str, until: datetime) -> bool:
        return self.legs.claim(leg_id, owner, until)

    def renew(self, owner: str, leg_ids: list[int], until: datetime) -> dict[int, tuple[bool, bool]]:
        """Extend ``owner``'s leases; for each call it still holds, whether a hang-up was asked for
        and whether it is muted."""
        return {
            leg.id: (leg.hangup_requested_at is not None, leg.muted)
            for leg in self.legs.renew(owner, leg_ids, until)
        }

    def to_place(self, leg_id: int) -> tuple[PhoneLeg, Conference] | None:
        """The call and its conference, while the call is still wanted and the conference live."""
        leg = self.legs.by_id(leg_id)
        conference = self.session.get(Conference, leg.conference_id) if leg is not None else None
        if leg is None or conference is None or leg.status in FINAL or leg.hangup_requested_at:
            return None
        if conference.ended_at is not None or conference.started_at is None or conference.deleted_at:
            finish_leg(self.session, leg, LegStatus.FAILED, "The meeting is not live", 0, utcnow())
            return None
        return leg, conference

    def progressed(self, leg_id: int, owner: str, event: dict[str, Any]) -> PhoneLeg | None:
        """What the call's gateway said (its status line), written into the row it holds."""
        leg = self.legs.by_id(leg_id)
        if leg is None or leg.owner != owner or leg.status in FINAL:
            return None
        kind, now = event.get("event"), utcnow()
        if kind == "ringing" and leg.status == LegStatus.NEW.value:
            leg.status = LegStatus.RINGING.value
            audit_leg(self.session, leg, "conference.dialout_ringing", "system")
        elif kind == "answered":
            leg.status, leg.answered_at = LegStatus.ANSWERED.value, now
            audit_leg(self.session, leg, "conference.dialout_answered", "system")
        elif kind == "joined":
            leg.publisher = int(event.get("publisher") or 0) or None
            conference = self.session.get(Conference, leg.conference_id)
            if conference is not None and leg.attendance_id is None:
                attendance = AttendanceService(self.session).record_join(
                    conference,
                    name=leg.name,
                    via="phone",
                    caller=leg.phone_number or leg.caller_uri,
                    role=leg.role or GUEST,  # a dial-in host who typed the moderator PIN: moderator
                    at=now,
                )
                attendance.media_publisher_id = leg.publisher  # names its track in recordings
                leg.attendance_id = attendance.id
        elif kind == "ended":
            code, reason = int(event.get("code") or 0), str(event.get("reason") or "")
            # Answered, hung up by us, or ended without a refusal: it ended; else the refusal says.
            over = event.get("answered") or leg.answered_at or leg.hangup_requested_at or code in (0, 200)
            if over:
                status = LegStatus.ENDED
            elif code in BUSY_CODES:
                status = LegStatus.BUSY
            elif code in NO_ANSWER_CODES:
                status = LegStatus.NO_ANSWER
            else:
                status = LegStatus.FAILED
            finish_leg(self.session, leg, status, f"{code} {reason}".strip() if code else reason, code, now)
        elif kind == "failed":
            finish_leg(
                self.session, leg, LegStatus.FAILED, str(event.get("reason") or "the gateway failed"), 0, now
            )
        if kind in ("ringing", "answered", "joined"):
            tell_room(self.session, leg)
        return leg

    def moderate(self, conference_id: int, leg_id: int, action: str, *, actor: str) -> PhoneLeg:
        """A moderator in the room mutes, unmutes or hangs up one of the meeting's calls.

        Raises:
            NotFound: no such call in this meeting, or it is over.
            InvalidInput: an action other than mute, unmute and hangup.
        """
        leg = self.legs.by_id(leg_id)
        if leg is None or leg.conference_id != conference_id or leg.status in FINAL:
            raise NotFound("No such phone call in this meeting")
        if action == "hangup":
            hang_up(self.session, leg, actor)
        elif action in ("mute", "unmute"):
            leg.muted = action == "mute"
            self.session.flush()
            wake_phones(self.session)
            audit_leg(self.session, leg, f"conference.dialout_{action}d", actor)
            tell_room(self.session, leg)
        else:
            raise InvalidInput("A phone call is muted, unmuted or hung up", field="action")
        return leg

    def lost(self, leg_id: int, owner: str, reason: str) -> None:
        """The gateway process died, or could not start: the call is over."""
        leg = self.legs.by_id(leg_id)
        if leg is not None and leg.owner == owner and leg.status not in FINAL:
            finish_leg(self.session, leg, LegStatus.FAILED, reason, 0, utcnow())

    def lapse(self, now: datetime, line_wait: timedelta) -> list[int]:
        """Calls whose process stopped renewing (it died, and its calls with it), and calls that no
        process placed within ``line_wait`` (every line busy), end as failed."""
        ended = []
        for leg in self.legs.lapsed(now):
            finish_leg(self.session, leg, LegStatus.FAILED, "The server running the call stopped", 0, now)
            ended.append(leg.id)
        for leg in self.legs.unplaced_since(now - line_wait):
            finish_leg(
                self.session, leg, LegStatus.FAILED, "All lines were busy: the call was not placed", 0, now
            )
            ended.append(leg.id)
        return ended
