"""Iotum enterprise API: chat: System messages to DM rooms and channels."""

from __future__ import annotations

from podium.domain.chat.service import ChatService
from podium.edges.iotum import present
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint


def chat_create(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    company = call.policy.company(call.body.id_("company_id"))
    chat = ChatService(call.ctx.session)
    room = chat.room(
        company.id, room_id=call.body.int_("id", required=False), slug=call.body.str_("slug") or None
    )
    chat.post_system(call.actor.label, room, call.body.str_("message", required=True))
    return MESSAGE_OK


def chat_fetch(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    chat = ChatService(call.ctx.session)
    room = chat.room(
        company.id, room_id=call.body.int_("id", required=False), slug=call.body.str_("slug") or None
    )
    return Answer(
        {
            "id": room.id,
            "slug": room.slug,
            "messages": [present.chat_message(m) for m in chat.messages(room_id=room.id)],
        }
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("chat/create", "A System message to a DM room or channel", chat_create, "write"),
    Endpoint("chat/fetch", "Messages of a DM room or channel (extension)", chat_fetch, "read"),
)
