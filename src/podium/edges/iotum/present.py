"""JSON shapes of the Iotum reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from podium.domain.attendance.service import ConferenceUsage, minutes
from podium.domain.conferences.scheduling import ConferenceView, local
from podium.domain.contacts.service import ContactView
from podium.domain.hosts.service import HostView
from podium.domain.recordings.service import RecordingView
from podium.domain.streams.previews import PreviewView
from podium.domain.telephony.views import DialOutView
from podium.domain.tenancy.companies import ResellerNode
from podium.kit.links import Links
from podium.models.activity import Attendance, ChatMessage, DriveFile, WebhookDelivery, WebhookEndpoint
from podium.models.conference import Conference
from podium.models.subscription import Product, Subscription
from podium.models.tenancy import Company, Host

_CODE_PADDING = (
    "id",
    "participant_id",
    "lock_version",
    "updated_at",
    "conference_call_id",
    "person_id",
    "account_id",
    "recording_id",
    "site_domain_id",
    "organization_id",
)


def reseller_tree(node: ResellerNode) -> dict[str, Any]:
    return {
        "id": node.reseller.id,
        "domain": node.reseller.domain,
        "display_name": node.reseller.name,
        "descendants": [reseller_tree(child) for child in node.descendants],
    }


def company(company: Company, host_ids: list[int]) -> dict[str, Any]:
    return {
        "id": company.id,
        "subdomain": company.subdomain,
        "name": company.name,
        "host_count": len(host_ids),
        "hosts": host_ids,
        "partner_id": company.partner_id,
        "customer_id": company.customer_id,
        "openid_provider": company.openid_provider,
        "primary_color": company.primary_color,
        "accent_color": company.accent_color,
        "currency": company.currency,
    }


def product(product: Product, *, description: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"slug": product.slug, "name": product.name, "plan": product.is_plan}
    if description:
        body["description"] = product.description
    return body


def subscription(subscription: Subscription, product_: Product) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "status": subscription.status.value,
        "host_limit": subscription.host_limit,
        "product": product(product_, description=False),
    }


def _code(number: str) -> dict[str, Any]:
    return {"number": number, **{key: None for key in _CODE_PADDING}}


def host(view: HostView) -> dict[str, Any]:
    h, settings = view.host, view.settings
    return {
        "host_id": h.id,
        "company_id": h.company_id,
        "name": h.name,
        "email": h.email,
        "primary_dialin_number": view.primary_dialin_number,
        "meeting_url": view.meeting_url,
        "role": h.role.value,
        "openid_sub": h.openid_sub,
        "access_code": _code(h.access_code),
        "moderator_pin": _code(h.moderator_pin),
        "password_creation_link": None if h.no_login else view.password_creation_link,
        "login_token_public_key": h.login_token_public_key,
        "plan_slug": view.plan.plan_slug,
        "add_on_slugs": view.plan.add_on_slugs,
        "subscription_ids": view.plan.subscription_ids,
        "sip_uri": view.sip_uri,
        "no_login": h.no_login,
        "native_streaming": settings["native_streaming"],
        "auto_record": settings["auto_record"],
        "auto_stream": settings["auto_stream"],
        "host_initiated_recording": settings["host_initiated_recording"],
        "waiting_room": settings["waiting_room"],
        "stream_preview": settings["stream_preview"],
        "disable_emails": settings["disable_emails"],
        "time_format": settings["time_format"],
        "public_username": h.public_username,
        "image_url": h.image_url,
        "locale": h.locale,
        "country_code": h.country_code,
        "time_zone": h.time_zone,
    }


def host_summary(view: HostView) -> dict[str, Any]:
    return {
        "host_id": view.host.id,
        "name": view.host.name,
        "email": view.host.email,
        "meeting_url": view.meeting_url,
        "role": view.host.role.value,
        "access_code": view.host.access_code,
        "plan_slug": view.plan.plan_slug,
        "add_on_slugs": view.plan.add_on_slugs,
    }


def contact(view: ContactView) -> dict[str, Any]:
    c = view.contact
    return {
        "contact_id": c.id,
        "name": c.name,
        "email": c.email,
        "business_phone": c.business_phone,
        "mobile_phone": c.mobile_phone,
        "home_phone": c.home_phone,
        "other_phone": c.other_phone,
        "time_zone": c.time_zone,
        "has_host": view.has_host,
    }


# --- part 2: conferences, reports, drive, chat, webhooks -----------------------------------------

TIME = "%Y-%m-%d %H:%M:%S"


def _moment(at: datetime | None, zone: ZoneInfo) -> str | None:
    return local(at, zone).strftime(TIME) if at else None


def recording(view: RecordingView, zone: ZoneInfo) -> dict[str, Any]:
    """The reference's recording: times in the conference's zone, the state, the signed link."""
    r = view.recording
    return {
        "id": r.id,
        "start_time": _moment(r.started_at, zone),
        "end_time": _moment(r.ended_at, zone),
        "type": r.kind,
        "publishing_state": view.publishing_state,
        "download_link": view.download_link,
    }


UTC_ZONE = ZoneInfo("UTC")


def stream_preview(view: PreviewView) -> dict[str, Any]:
    """A stream preview (extension, docs/compat.md): a clip or an image, times in UTC."""
    p = view.preview
    return {
        "id": p.id,
        "type": p.kind,
        "offset": p.offset_seconds,
        "duration": p.duration_seconds,
        "size": p.size,
        "created_at": _moment(p.created_at, UTC_ZONE),
        "expires_at": _moment(p.expires_at, UTC_ZONE),
        "download_link": view.download_link,
    }


def recording_detail(view: RecordingView, zone: ZoneInfo) -> dict[str, Any]:
    """The detailed output's recording: the above, its transcript and its size by format."""
    return {
        **recording(view, zone),
        "transcription_segments": view.segments,
        "transcription_tags": [],
        "transcript_link": view.transcript_link,
        "size": view.sizes,
    }


def conference(view: ConferenceView, recordings: Sequence[RecordingView] = ()) -> dict[str, Any]:
    c = view.conference
    body: dict[str, Any] = {
        "conference_id": c.id,
        "subject": c.title,
        "agenda": c.description or None,
        "start": view.start_local,
        "end_time": view.end_local,
        "active": view.active,
        "time_zone": c.time_zone,
        "duration": int(c.duration_minutes or 0),
        "auto_record": c.auto_record,
        "auto_stream": c.auto_stream,
        "auto_transcribe": c.auto_transcribe,
        "one_time_access_code": int(c.access_code) if c.one_time_code and c.access_code else False,
        "secure_url": c.secure_url,
        "host_initiated_recording": c.host_initiated_recording,
        "security_pin": c.security_pin,
        "mute_mode": c.mute_mode,
        "room_url": view.room_url,
        "recordings": [recording(r, ZoneInfo(c.time_zone or "UTC")) for r in recordings],
        "participants": view.participants,
        "moderators": view.moderators,
        "participant_emails": view.participant_emails,
        "is_streaming": c.is_streaming,
        "streaming_url": view.streaming_url,
        "moderator_token": c.moderator_token,
        "broadcast_stream_url": broadcast(c),
    }
    if view.master is not None:
        body["is_master"] = view.master.id == c.id
        body["master_id"] = view.master.id
        body["schedule"] = view.master.schedule
    return body


def broadcast(c: Conference) -> dict[str, Any] | None:
    """``broadcast_stream_url``: the file and its state; why it failed, when it did (docs/compat.md)."""
    if not c.broadcast_stream_url:
        return None
    body: dict[str, Any] = {"source": c.broadcast_stream_url, "state": c.broadcast_state}
    if c.broadcast_state == "FAILED":
        body["reason"] = c.broadcast_reason or "The broadcast failed"
    return body


def dial_out(view: DialOutView) -> dict[str, Any]:
    """A phone call of the conference (``conference/dial_number``): its ``dialout_status``, and why it
    ended when it did not simply end."""
    return {
        "phone_number": view.phone_number,
        "name": view.name,
        "dialout_status": view.status,
        "reason": view.reason or None,
        "started_at": _iso(view.started_at),
        "answered_at": _iso(view.answered_at),
        "ended_at": _iso(view.ended_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return (
        moment.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if moment
        else None
    )


def conference_detail(
    view: ConferenceView,
    usage: ConferenceUsage,
    chat: Sequence[ChatMessage],
    *,
    now: datetime,
    zone: ZoneInfo | None = None,
    recordings: Sequence[RecordingView] = (),
    dial_outs: Sequence[DialOutView] = (),
) -> dict[str, Any]:
    """The reference's detailed output, built from attendance, chat and recordings (and the
    conference's phone calls, ``dial_outs``: an extension)."""
    c = view.conference
    zone = zone or ZoneInfo(c.time_zone or "UTC")
    start = usage.first_join() or c.starts_at or c.created_at
    end = usage.last_leave() or c.ended_at or (start + timedelta(minutes=c.duration_minutes or 0))
    start_local = local(start, zone)
    published = [r for r in recordings if r.publishing_state == "published"]
    # An invited participant's calls together; people without an invitation (guests, phones) by
    # their name and how they came, so two guests are not one.
    by_participant: dict[tuple[int | None, str, str], list[Attendance]] = {}
    for attendance in usage.attendances:
        key = (
            (attendance.participant_id, "", "")
            if attendance.participant_id is not None
            else (None, attendance.name, attendance.via)
        )
        by_participant.setdefault(key, []).append(attendance)
    participants = []
    for (participant_id, _, _), spans in by_participant.items():
        first = spans[0]
        participants.append(
            {
                "id": participant_id,
                "person_id": first.host_id,
                "name": first.name,
                "email": first.email,
                "live_cdrs": [
                    {
                        "id": a.id,
                        "ani": a.caller,
                        "dnis": c.access_code,
                        "start_time": _iso(a.joined_at),
                        "end_time": _iso(a.left_at),
                        "is_internet?": a.via != "phone",
                        "minute_usage": {
                            "minutes": minutes(a, now),
                            "billing_group": "webrtc_billing" if a.via != "phone" else "pstn_billing",
                            "rate": None,
                            "cost": None,
                            "chargeable_minutes": None,
                        },
                    }
                    for a in spans
                ],
            }
        )
    return {
        "agenda": c.description or None,
        "subject": c.title,
        "start_time": start_local.strftime(TIME),
        "end_time": local(end, zone).strftime(TIME),
        "day": start_local.strftime("%A"),
        "month": start_local.strftime("%B"),
        "year": start_local.strftime("%Y"),
        "conference_mode": {
            "conversation": "CONVERSATION_MODE",
            "q&a": "QA_MODE",
            "presentation": "PRESENTATION_MODE",
        }.get(c.mute_mode, "CONVERSATION_MODE"),
        "recurrence": view.master.schedule if view.master is not None else None,
        "one_time_access_code": c.one_time_code,
        "additional_security_type": 1 if c.security_pin else 0,
        "cancelled": c.cancelled_at is not None,
        "participants": participants,
        "invited_count": len(view.participants),
        "attended_count": usage.total_participants(),
        "chat_messages": [
            {
                "id": m.id,
                "content": m.content,
                "participant_id": m.participant_id,
                "sender": m.sender,
                "created_at": _iso(m.created_at),
            }
            for m in chat
        ],
        "uploaded_documents": [],
        "recordings": [recording_detail(r, zone) for r in recordings],
        "dial_outs": [dial_out(d) for d in dial_outs],
        "sentiment_available": False,
        "sentiment_mean": None,
        "sentiment_max": None,
        "sentiment_min": None,
        "has_video": any(r.recording.has_video for r in published),
        "has_audio": any(r.recording.has_audio for r in published),
        "conference_id": c.id,
        "moderators": view.moderator_people,
        "is_streaming": c.is_streaming,
        "streaming_url": view.streaming_url,
        "time_zone": str(zone),
        "room_url": view.room_url,
        "moderator_token": c.moderator_token,
        "duration": int(c.duration_minutes or 0),
        "mute_mode": c.mute_mode,
    }


def conference_summary(
    usage: ConferenceUsage, scheduled_end: datetime, zone: ZoneInfo, now: datetime, links: Links
) -> dict[str, Any]:
    c = usage.conference
    start = usage.first_join() or c.started_at or c.starts_at or c.created_at
    end = usage.last_leave() or c.ended_at or scheduled_end
    return {
        "conference_id": c.id,
        "start_time": local(start, zone).strftime(TIME),
        "end_time": local(end, zone).strftime(TIME),
        "total_participants": usage.total_participants(),
        "total_participant_minutes": usage.total_minutes(now),
        "meeting_summary_url": links.conference_summary(c.id),
    }


def cdr(
    attendance: Attendance, conference: Conference, host: Host, zone: ZoneInfo, minutes_: int
) -> dict[str, Any]:
    return {
        "id": attendance.id,
        "conference_id": conference.id,
        "host_id": host.id,
        "host_name": host.name,
        "host_email": host.email,
        "start_time": local(attendance.joined_at, zone).strftime(TIME),
        "end_time": local(attendance.left_at, zone).strftime(TIME) if attendance.left_at else None,
        "participant_id": attendance.participant_id,
        "participant_name": attendance.name,
        "participant_email": attendance.email,
        "from": attendance.caller,
        "to": conference.access_code,
        "minutes": minutes_,
    }


def drive_file_brief(file: DriveFile) -> dict[str, Any]:
    return {"id": file.id, "created_at": _iso(file.created_at), "filename": file.filename, "size": file.size}


def drive_file(file: DriveFile, download_link: str) -> dict[str, Any]:
    return {
        **drive_file_brief(file),
        "presentation_status": file.presentation_status,
        "download_link": download_link,
        "mimetype": file.mimetype,
        "page_count": file.page_count,
    }


def chat_message(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender": message.sender,
        "content": message.content,
        "created_at": _iso(message.created_at),
    }


def webhook(endpoint: WebhookEndpoint, *, with_token: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "created_at": _iso(endpoint.created_at),
    }
    if with_token:
        body["signing_token"] = endpoint.signing_token
    return body


def webhook_delivery(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event,
        "attempt": delivery.attempt,
        "status_code": delivery.status_code,
        "succeeded": delivery.succeeded,
        "error": delivery.error,
        "created_at": _iso(delivery.created_at),
    }
