"""Boomstream conference group: info, list, create, update, invite, client/*, delete."""

from __future__ import annotations

from typing import Any

from podium.domain.attendance.service import AttendanceService
from podium.domain.conferences.service import CREATIONS, UNSET, ConferenceService
from podium.domain.participants.service import INVITATIONS, Invitation, ParticipantService
from podium.edges.boomstream.methods import Call, Method, Param
from podium.edges.boomstream.params import integer, optional, yes_no
from podium.edges.common import MethodSpec, Payload
from podium.kit.uow import Handed
from podium.models.conference import Conference
from podium.models.participant import Participant, ParticipantRole

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _conferences(call: Call) -> ConferenceService:
    return ConferenceService(call.ctx.session, call.ctx.settings)


def _participants(call: Call) -> ParticipantService:
    return ParticipantService(call.ctx.session, call.ctx.settings)


def conference_fields(service: ConferenceService, conference: Conference) -> dict[str, Any]:
    return {
        "title": conference.title,
        "code": conference.code,
        "description": conference.description,
        "folderCode": service.folder_code(conference),
    }


def client_fields(participant: Participant, conference: Conference, state: str) -> dict[str, Any]:
    return {
        "email": participant.email,
        "name": participant.name,
        "code": participant.code,
        "conferenceCode": conference.code,
        "moderator": "yes" if participant.role != ParticipantRole.PARTICIPANT else "no",
        "added": participant.created_at.strftime(TIME_FORMAT),
        "is_deleted": "yes" if participant.deleted_at is not None else "no",
        # From presence: "yes" while the client is in the room (an addition to the reference's fields).
        "online": "yes" if state == "in_progress" else "no",
    }


def info(call: Call) -> dict[str, Any]:
    service = _conferences(call)
    return conference_fields(service, service.get(call.actor, call.params.required("code")))


def list_(call: Call) -> dict[str, Any]:
    service = _conferences(call)
    return {"conferences": [conference_fields(service, c) for c in service.list(call.actor)]}


def create(call: Call) -> Payload:
    # The creation is the whole request's change: it is made with others (kit/group_commit).
    new = _conferences(call).checked_creation(
        call.actor,
        title=call.params.required("title"),
        description=call.params.text("description"),
        folder_code=call.params.text("folderCode"),
    )
    return Handed(CREATIONS, new, lambda conference: {"Code": conference.code})


def update(call: Call) -> dict[str, Any]:
    service = _conferences(call)
    conference = service.get(call.actor, call.params.required("code"))
    title = optional(call.params, "title")
    description = optional(call.params, "description")
    folder_code = optional(call.params, "folderCode")
    service.update(
        call.actor,
        conference,
        # An empty title would blank the conference's name: treat it as "not given".
        title=title if title else UNSET,
        description=UNSET if description is None else description,
        folder_code=UNSET if folder_code is None else folder_code,
    )
    return conference_fields(service, conference)


def invite(call: Call) -> Payload:
    # The invitation is the whole request's change: it is made with others (kit/group_commit), its
    # conference found there too.
    new = ParticipantService(call.ctx.session, call.ctx.settings).checked_invitation(
        call.actor,
        call.params.required("code"),
        email=call.params.required("email"),
        name=optional(call.params, "name") or None,
        moderator=yes_no(call.params, "moderator"),
        avatar_url=optional(call.params, "avatarUrl"),
        timeout=integer(call.params, "timeout"),
        notify_email=bool(yes_no(call.params, "notifyEmail")),
    )
    return Handed(INVITATIONS, new, _invited)


def _invited(invitation: Invitation) -> dict[str, Any]:
    participant, conference = invitation.participant, invitation.conference
    return {
        "name": participant.name,
        "email": participant.email,
        "codeConference": conference.id,
        "code": conference.code,
        "clientCode": participant.code,
        "isModerator": participant.role == ParticipantRole.MODERATOR,
        "token": invitation.token,
        "inviteLink": invitation.link,
    }


def client_list(call: Call) -> dict[str, Any]:
    conference = _conferences(call).get(call.actor, call.params.required("code"))
    participants = _participants(call).list(call.actor, conference)
    states = AttendanceService(call.ctx.session).participant_states(conference.id, participants)
    return {"Clients": [client_fields(p, conference, states[p.id]) for p in participants]}


def client_info(call: Call) -> dict[str, Any]:
    participant, conference = _participants(call).get(call.actor, call.params.required("code"))
    return client_fields(
        participant, conference, AttendanceService(call.ctx.session).participant_state(participant)
    )


def client_update(call: Call) -> dict[str, Any]:
    service = _participants(call)
    participant, _ = service.get(call.actor, call.params.required("code"))
    email = optional(call.params, "email")
    name = optional(call.params, "name")
    moderator = yes_no(call.params, "moderator")
    service.update(
        call.actor,
        participant,
        email=email if email else UNSET,
        name=name if name else UNSET,
        moderator=UNSET if moderator is None else moderator,
    )
    return {"message": "Client changed successfully", "clientCode": participant.code}


def client_delete(call: Call) -> dict[str, Any]:
    service = _participants(call)
    participant, _ = service.get(call.actor, call.params.required("code"))
    service.remove(call.actor, participant)
    return {"message": "Client is deleted successfully", "clientCode": participant.code}


def delete(call: Call) -> dict[str, Any]:
    service = _conferences(call)
    conference = service.get(call.actor, call.params.required("code"))
    service.delete(call.actor, conference)
    # The reference's sample answers with this very text (see docs/compat.md).
    return {"message": "Client is deleted successfully"}


CODE = Param("code", "Conference code (xxx-xxxx-xxx)", required=True)
CLIENT_CODE = Param("code", "Client code", required=True)

METHODS: tuple[MethodSpec, ...] = (
    Method("conference/info", "Conference by its code", info, (CODE,), cached=True),
    Method("conference/list", "List of conferences", list_, cached=True),
    Method(
        "conference/create",
        "Create a conference",
        create,
        (
            Param("title", "Conference title", required=True),
            Param("folderCode", "Folder code (created on first use)"),
            Param("description", "Conference description"),
        ),
    ),
    Method(
        "conference/update",
        "Update title, description, folder",
        update,
        (
            CODE,
            Param("title", "Conference title"),
            Param("description", "Conference description"),
            Param("folderCode", "Folder code; empty to remove from its folder"),
        ),
    ),
    Method(
        "conference/invite",
        "Invite a user (signed JWT link)",
        invite,
        (
            CODE,
            Param("email", "User email", required=True),
            Param("name", "Display name"),
            Param("timeout", "Link lifetime in seconds (default 86400)"),
            Param("notifyEmail", "yes: send the invitation by email"),
            Param("moderator", "yes: the user is a moderator"),
            Param("avatarUrl", "URL of the user's avatar"),
        ),
    ),
    Method("conference/client/list", "Users of a conference", client_list, (CODE,), cached=True),
    Method(
        "conference/client/info",
        "A user of a conference by its code",
        client_info,
        (CLIENT_CODE,),
        cached=True,
    ),
    Method(
        "conference/client/update",
        "Update a user's email, name or moderator flag",
        client_update,
        (
            CLIENT_CODE,
            Param("email", "User email"),
            Param("name", "Display name"),
            Param("moderator", "yes or no"),
        ),
    ),
    Method("conference/client/delete", "Remove a user from a conference", client_delete, (CLIENT_CODE,)),
    Method("conference/delete", "Delete a conference", delete, (CODE,)),
)
