"""Boomstream PPV group: subscriptions, their media, buyers (access passwords), seller contacts,
``ppv/info`` and ``ppv/sessions``."""

from __future__ import annotations

from typing import Any

from podium.domain.conferences.service import UNSET
from podium.domain.media.service import MediaService
from podium.domain.paywall.service import BUYERS, AddedBuyer, BuyerChanges, PaywallChanges, PaywallService
from podium.domain.stats.service import StatsService
from podium.edges.boomstream.methods import Call, Method, Param
from podium.edges.boomstream.params import (
    TIME_FORMAT,
    date_time,
    flag,
    given_integer,
    given_text,
    integer,
    optional,
    plain_date,
    show_time,
    yes_no,
)
from podium.edges.boomstream.routes.media import media_fields
from podium.edges.common import MethodSpec, Payload
from podium.kit.uow import Handed
from podium.models.media import Media
from podium.models.paywall import AccessPass, Paywall


def _paywalls(call: Call) -> PaywallService:
    return PaywallService(call.ctx.session, call.ctx.settings)


def _version(call: Call) -> tuple[int, ...]:
    return tuple(int(part) for part in (call.params.text("ver").strip() or "1.0").split("."))


def _cost(paywall: Paywall) -> str | None:
    return f"{paywall.cost:.2f}" if paywall.cost is not None else None


def paywall_fields(paywall: Paywall, amount_files: int | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Code": paywall.code,
        "Name": paywall.name,
        "Type": paywall.scope,
        "SubscriptionType": paywall.access_kind,
        "CollectionType": paywall.collection_type or "",
        "Cost": _cost(paywall),
        "Period": paywall.period_days,
        "AccessStartDate": show_time(paywall.access_start),
        "AccessExpirationDate": show_time(paywall.access_expire),
        "Activation": paywall.activations,
        "Description": paywall.description,
        "Materials": paywall.materials,
        "BuyRedirectUrl": paywall.buy_redirect_url,
        "CustomUrl": paywall.custom_url,
        "IpRecovery": paywall.ip_recovery,
        "DeviceBan": paywall.device_ban,
        "BuyerCommission": paywall.buyer_commission,
        "DownloadableOrigin": paywall.downloadable_origin,
        "Preview": paywall.preview_seconds or 0,
        "Watermark": paywall.watermark,
        "WatermarkEmail": paywall.watermark_email,
        "WatermarkName": paywall.watermark_name,
        "WatermarkIp": paywall.watermark_ip,
        "AddedDate": paywall.created_at.strftime(TIME_FORMAT),
    }
    if amount_files is not None:
        fields["AmountFiles"] = amount_files
    return fields


def buyer_fields(service: PaywallService, paywall: Paywall, buyer: AccessPass) -> dict[str, Any]:
    window = service.window(paywall, buyer)
    return {
        "Email": buyer.email,
        "Phone": buyer.phone,
        "Name": buyer.name,
        "Hash": buyer.password,
        "Recovery": service.recovery_link(paywall, buyer),
        "Period": paywall.period_days,
        "Activation": service.activation_limit(paywall, buyer),
        "LeftActivations": service.left_activations(paywall, buyer),
        "AccessStartDate": show_time(window.start or buyer.purchased_at),
        "AccessExpirationDate": show_time(window.expire),
        "DatePurchase": buyer.purchased_at.strftime(TIME_FORMAT),
    }


def _changes(call: Call) -> PaywallChanges:
    p = call.params
    return PaywallChanges(
        name=given_text(p, "name"),
        description=given_text(p, "description"),
        scope=given_text(p, "type"),
        collection_type=given_text(p, "collection_type"),
        cost=given_text(p, "cost"),
        period_days=given_integer(p, "period"),
        access_start=date_time(p, "access_start", end_of_day=False),
        access_expire=date_time(p, "access_expire", end_of_day=True),
        activations=given_integer(p, "activation"),
        materials=given_text(p, "materials"),
        buy_redirect_url=given_text(p, "buy_redirect_url"),
        custom_url=given_text(p, "custom_url"),
        ip_recovery=flag(p, "ip_recovery"),
        device_ban=flag(p, "device_ban"),
        buyer_commission=flag(p, "buyer_commission"),
        downloadable_origin=flag(p, "downloadable_origin"),
        preview_seconds=given_integer(p, "preview"),
        watermark=flag(p, "watermark"),
        watermark_email=flag(p, "watermark_email"),
        watermark_name=flag(p, "watermark_name"),
        watermark_ip=flag(p, "watermark_ip"),
    )


def _subscription(call: Call) -> Paywall:
    return _paywalls(call).get(call.actor, call.params.required("code"))


def _media(call: Call) -> Media:
    return MediaService(call.ctx.session, call.ctx.settings).get(call.actor, call.params.required("media"))


def _medias(call: Call, medias: list[Media]) -> dict[str, Any]:
    """The full media object in every version: the reference's samples, sent without ``ver``,
    answer it with its links, poster, renditions and screenshots (see docs/compat.md)."""
    service = MediaService(call.ctx.session, call.ctx.settings)
    return {"Medias": [media_fields(view) for view in service.views(medias)]}


def create(call: Call) -> dict[str, Any]:
    changes = _changes(call)
    paywall = _paywalls(call).create(
        call.actor, access_kind=call.params.text("subscription_type"), changes=changes
    )
    return {"Items": [paywall_fields(paywall)]}


def update(call: Call) -> dict[str, Any]:
    service = _paywalls(call)
    changes = _changes(call)
    if changes.name == "":
        changes.name = UNSET  # an empty name would blank the subscription's: treat it as "not given"
    paywall = service.update(call.actor, _subscription(call), changes)
    return {"Items": [paywall_fields(paywall)]}


def delete(call: Call) -> dict[str, Any]:
    _paywalls(call).delete(call.actor, _subscription(call))
    return {}


def list_(call: Call) -> dict[str, Any]:
    return {"Items": [paywall_fields(p, count) for p, count in _paywalls(call).list(call.actor)]}


def addmedia(call: Call) -> dict[str, Any]:
    paywall, media = _subscription(call), _media(call)
    _paywalls(call).add_media(call.actor, paywall, media)
    return _medias(call, [media])


def deletemedia(call: Call) -> dict[str, Any]:
    _paywalls(call).remove_media(call.actor, _subscription(call), _media(call))
    return {}


def listmedia(call: Call) -> dict[str, Any]:
    medias = _paywalls(call).media_page(
        _subscription(call), integer(call.params, "limit"), integer(call.params, "offset")
    )
    return _medias(call, list(medias))


def addbuyer(call: Call) -> Payload:
    """Add a buyer, or update the one its email already is; ``hash`` is its password when sent."""
    # The buyer is the whole request's change: it is made with others (kit/group_commit), its
    # subscription and media found there too.
    service = PaywallService(call.ctx.session, call.ctx.settings)
    p = call.params
    new = service.checked_buyer(
        call.actor.label,
        call.actor.company_id,
        p.required("code"),
        p.required("media"),
        email=p.text("email"),
        phone=p.text("phone"),
        name=p.text("name"),
        password=optional(p, "hash"),
        activations=given_integer(p, "activation"),
        access_start=date_time(p, "access_start", end_of_day=False),
        access_expire=date_time(p, "access_expire", end_of_day=True),
        custom_url=p.text("custom_url"),
        use_subscription_custom_url=bool(yes_no(p, "use_subscription_custom_url")),
        notify=bool(yes_no(p, "notification")),
    )

    def answer(added: AddedBuyer) -> dict[str, Any]:
        fields = buyer_fields(service, added.paywall, added.buyer)
        # The sample's Items, and the buyer at the top level, where the official PHP plugin reads
        # ``Recovery`` and ``AccessExpirationDate``.
        return {"Items": [fields], **fields}

    return Handed(BUYERS, new, answer)


def updatebuyer(call: Call) -> dict[str, Any]:
    service = _paywalls(call)
    paywall = _subscription(call)
    buyer = service.buyer(paywall, call.params.required("hash"))
    name = given_text(call.params, "name")
    service.update_buyer(
        call.actor,
        paywall,
        buyer,
        BuyerChanges(
            name=name,
            activations=given_integer(call.params, "activation"),
            access_start=date_time(call.params, "access_start", end_of_day=False),
            access_expire=date_time(call.params, "access_expire", end_of_day=True),
        ),
    )
    return {"Message": "Recovery code is updated"}


def deletebuyer(call: Call) -> dict[str, Any]:
    service = _paywalls(call)
    paywall = _subscription(call)
    service.delete_buyer(call.actor, paywall, service.buyer(paywall, call.params.required("hash")))
    return {"Message": "Recovery code is deleted"}


def listbuyers(call: Call) -> dict[str, Any]:
    """``ver=1.1`` answers every buyer's dates; 1.0 only email and password (see docs/compat.md)."""
    service = _paywalls(call)
    paywall = _subscription(call)
    email = call.params.text("email").strip() or None
    buyers = service.buyers(paywall, _media(call), email)
    if _version(call) >= (1, 1):
        return {"Items": [buyer_fields(service, paywall, b) for b in buyers]}
    return {"Items": [{"Email": b.email, "Hash": b.password} for b in buyers]}


def info(call: Call) -> dict[str, Any]:
    """A buyer's access, by email and/or password (the Moodle plugin's check)."""
    service = _paywalls(call)
    paywall = _subscription(call)
    p = call.params
    media = _media(call) if p.text("media").strip() else None
    buyers = service.find_buyers(paywall, media=media, email=p.text("email"), password=p.text("hash"))
    items = [buyer_fields(service, paywall, b) for b in buyers]
    # ``Items.Item`` is one buyer object when one matches (the Moodle plugin reads
    # ``Items['Item']['Activation']``), a list of them otherwise; XML is <Items><Item>… either way.
    # One buyer is also answered at the top level, as ``addbuyer`` does.
    if len(items) == 1:
        return {"Items": {"Item": items[0]}, **items[0]}
    return {"Items": {"Item": items}}


def contact_fields(contacts: Any) -> dict[str, Any]:
    return {
        "Name": contacts.name or "",
        "Phone": contacts.phone or "",
        "Email": contacts.email or "",
        "Site": contacts.site or "",
        "Description": contacts.description or "",
    }


def contacts(call: Call) -> dict[str, Any]:
    return contact_fields(_paywalls(call).contacts(call.actor))


def updatecontacts(call: Call) -> dict[str, Any]:
    updated = _paywalls(call).update_contacts(
        call.actor,
        name=call.params.required("name"),
        phone=given_text(call.params, "phone"),
        email=given_text(call.params, "email"),
        site=given_text(call.params, "site"),
        description=given_text(call.params, "description"),
    )
    return {**contact_fields(updated), "Message": "Updated success"}


def sessions(call: Call) -> dict[str, Any]:
    """``ppv/sessions``: the sample puts each session in an ``Item`` straight under ``Response``."""
    page = StatsService(call.ctx.session, call.ctx.settings).sessions(
        call.actor,
        call.params.required("code"),
        call.params.required("hash"),
        start=plain_date(call.params, "start"),
        end=plain_date(call.params, "end"),
        order=call.params.text("order").strip(),
        page=integer(call.params, "page"),
    )
    return {
        "Page": page.page,
        "PageLimit": page.page_limit,
        "PageCount": page.page_count,
        "ItemCount": page.item_count,
        "Item": [
            {
                "Place": page.media.title,
                "ip": view.ip,
                "IP": view.ip,
                "Country": view.country,
                "UserAgent": view.user_agent,
                "Start": view.started_at.strftime(TIME_FORMAT),
                "CreatedAt": view.started_at.strftime(TIME_FORMAT),
                "LeftActivations": view.left_activations,
                "WatchedTime": view.watched_ms,
            }
            for view in page.rows
        ],
    }


CODE = Param("code", "Subscription code", required=True)
MEDIA = Param("media", "Media code", required=True)
DATE_HELP = "YYYY-MM-DD (time {default}) or YYYY-MM-DD H:i:s"
SETTINGS = (
    Param("type", "single (default) or group"),
    Param("description", "Description"),
    Param("collection_type", "collection only: collect (form opens access) or protect (listed viewers)"),
    Param("cost", "Cost, e.g. 100.00"),
    Param("period", "Access period in days (from the purchase)"),
    Param("access_start", "Access start: " + DATE_HELP.format(default="00:00:01")),
    Param("access_expire", "Access end: " + DATE_HELP.format(default="23:59:59")),
    Param("activation", "Device activations per password"),
    Param("materials", "Additional materials"),
    Param("buy_redirect_url", "Where buyers go after purchasing"),
    Param("custom_url", "Link in buyers' emails"),
    Param("ip_recovery", "1: the same IP resumes without a new activation"),
    Param("device_ban", "1: one live device per password"),
    Param("buyer_commission", "1: the buyer pays the payment gateway's commission"),
    Param("downloadable_origin", "1: buyers may download the original after watching"),
    Param("preview", "Preview seconds before the password is asked"),
    Param("watermark", "1: show a watermark"),
    Param("watermark_email", "1: the buyer's email in the watermark"),
    Param("watermark_name", "1: the buyer's name in the watermark"),
    Param("watermark_ip", "1: the viewer's IP in the watermark"),
)
BUYER_DATES = (
    Param("activation", "Device activations of this password"),
    Param("access_start", "Access start: " + DATE_HELP.format(default="00:00:01")),
    Param("access_expire", "Access end: " + DATE_HELP.format(default="23:59:59")),
)

METHODS: tuple[MethodSpec, ...] = (
    Method(
        "ppv/create",
        "Create a subscription (pay per view, password or registration form)",
        create,
        (
            Param("name", "Subscription name", required=True),
            Param("subscription_type", "subscription (default), password or collection"),
            *SETTINGS,
        ),
    ),
    Method(
        "ppv/update", "Update a subscription", update, (CODE, Param("name", "Subscription name"), *SETTINGS)
    ),
    Method("ppv/delete", "Delete a subscription", delete, (CODE,)),
    Method("ppv/list", "Subscriptions of the project", list_),
    Method("ppv/addmedia", "Put a media behind a subscription", addmedia, (CODE, MEDIA)),
    Method("ppv/deletemedia", "Take a media out of a subscription", deletemedia, (CODE, MEDIA)),
    Method(
        "ppv/listmedia",
        "Media of a subscription",
        listmedia,
        (CODE, Param("limit", "Items count"), Param("offset", "Items offset")),
    ),
    Method(
        "ppv/addbuyer",
        "Add a buyer (an access password), or update the buyer with this email",
        addbuyer,
        (
            CODE,
            MEDIA,
            Param("notification", "1: email the password to the buyer"),
            Param("email", "Buyer's email (or phone): the same email again updates that buyer"),
            Param("phone", "Buyer's phone (or email; no SMS is sent)"),
            Param("hash", "The access password to give (else one is made; an existing buyer keeps its own)"),
            Param("name", "Buyer's name"),
            *BUYER_DATES,
            Param("custom_url", "Link in the email (wins over use_subscription_custom_url)"),
            Param("use_subscription_custom_url", "1: the subscription's custom_url in the email"),
        ),
    ),
    Method(
        "ppv/updatebuyer",
        "Update an access password's name, dates or activations",
        updatebuyer,
        (CODE, Param("hash", "Access password", required=True), Param("name", "Buyer's name"), *BUYER_DATES),
    ),
    Method(
        "ppv/deletebuyer",
        "Delete an access password",
        deletebuyer,
        (CODE, Param("hash", "Access password", required=True)),
    ),
    Method(
        "ppv/listbuyers",
        "Buyers of a subscription's media (ver=1.1: with dates)",
        listbuyers,
        (CODE, MEDIA, Param("email", "Filter by email (several buyers may share one)")),
    ),
    Method(
        "ppv/info",
        "A buyer's access by email and/or password",
        info,
        (
            CODE,
            Param("email", "Buyer's email (or hash)"),
            Param("hash", "Access password (or email)"),
            Param("media", "Media code"),
        ),
    ),
    Method("ppv/contacts", "The seller's contacts", contacts),
    Method(
        "ppv/updatecontacts",
        "Update the seller's contacts",
        updatecontacts,
        (
            Param("name", "Seller's name", required=True),
            Param("phone", "Phone (or email)"),
            Param("email", "Email (or phone)"),
            Param("site", "Site of the shop"),
            Param("description", "Description of the shop"),
        ),
    ),
    Method(
        "ppv/sessions",
        "Viewer sessions of an access password on a media",
        sessions,
        (
            Param("code", "Media code", required=True),
            Param("hash", "Access password", required=True),
            Param("start", "YYYY-MM-DD (default: today)"),
            Param("end", "YYYY-MM-DD (default: tomorrow)"),
            Param("order", "asc (default) or desc"),
            Param("page", "Page (1000 sessions a page)"),
        ),
    ),
)
