"""Iotum enterprise API: chat: System messages to DM rooms and channels."""

from __future__ import annotations

from podium.domain.chat.schemas import RoomRef
from podium.domain.chat.service import ChatService
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes.companies import ADMINS_COMPANY_ID, COMPANY_ID
from podium.edges.iotum.routes_base import INTEGER, MESSAGE_OK, TEXT, Answer, Call, Endpoint


def _room(body: Body) -> RoomRef:
    return RoomRef(room_id=body.int_("id", required=False), slug=body.str_("slug") or None)


# What ``_room`` reads: one of them names the room.
ROOM = (
    Param("id", "Id of the DM chat room (or give slug)", schema=INTEGER),
    Param("slug", "Slug of the channel (or give id)", schema=TEXT),
)


def chat_create(call: Call) -> Answer:
    """A System message to a DM room or channel."""
    company_id = call.body.id_("company_id")
    ChatService(call.ctx.session).post_to_room(
        call.actor, company_id, _room(call.body), call.body.str_("message")
    )
    return MESSAGE_OK


def chat_fetch(call: Call) -> Answer:
    """Messages of a DM room or channel (extension)."""
    log = ChatService(call.ctx.session).room_log(
        call.actor, call.body.int_("company_id", required=False), _room(call.body)
    )
    return Answer(
        {
            "id": log.room.id,
            "slug": log.room.slug,
            "messages": [present.chat_message(m) for m in log.messages],
        }
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "chat/create",
        "A System message to a DM room or channel",
        chat_create,
        "write",
        params=(
            COMPANY_ID,
            *ROOM,
            Param("message", "Message shown in the room as from System", required=True, schema=TEXT),
        ),
    ),
    Endpoint(
        "chat/fetch",
        "Messages of a DM room or channel (extension)",
        chat_fetch,
        "read",
        params=(ADMINS_COMPANY_ID, *ROOM),
    ),
)
