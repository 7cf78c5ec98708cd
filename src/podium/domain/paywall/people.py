"""Who a buyer is in a paywall (``PaywallService.add_buyer``): its email, compared case-insensitively,
else its phone; in a ``single`` paywall, for the media it was added for (a single pass opens only
that media). Adding the same person again updates that buyer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from podium.models.media import Media
from podium.models.paywall import AccessPass, Paywall

# (the media in a single paywall, else None; "email" or "phone"; the lower-cased email or the phone)
Person = tuple[int | None, str, str]


def person(paywall: Paywall, media: Media, email: str, phone: str) -> Person:
    scope = media.id if paywall.scope == "single" else None
    return (scope, "email", email.lower()) if email else (scope, "phone", phone)


class People:
    """Live passes filed by the people they are, the newest last; a pass made or changed in the work
    is filed again, so that a later buyer of the same person finds it."""

    def __init__(self, paywalls: Mapping[int, Paywall], passes: Iterable[AccessPass]) -> None:
        self.paywalls = paywalls
        self._passes: dict[tuple[int, Person], list[AccessPass]] = {}
        self._filed: dict[int, list[tuple[int, Person]]] = {}  # id(pass): its keys
        for buyer in passes:
            self.file(buyer)

    def file(self, buyer: AccessPass) -> None:
        """File ``buyer`` under the people it is now (its phone may have changed)."""
        for key in self._filed.pop(id(buyer), []):
            self._passes[key].remove(buyer)
        scope = buyer.media_id if self.paywalls[buyer.paywall_id].scope == "single" else None
        keys = [
            (buyer.paywall_id, (scope, how, value))
            for how, value in (("email", buyer.email.lower()), ("phone", buyer.phone))
            if value
        ]
        for key in keys:
            passes = self._passes.setdefault(key, [])
            passes.append(buyer)
            # By id, the ones not inserted yet (no id) last, in the order made: the newest is last.
            passes.sort(key=lambda b: (b.id is None, b.id or 0))
        self._filed[id(buyer)] = keys

    def of(self, paywall: Paywall, who: Person) -> list[AccessPass]:
        return self._passes.get((paywall.id, who), [])

    def latest(self, paywall: Paywall, who: Person) -> AccessPass | None:
        passes = self.of(paywall, who)
        return passes[-1] if passes else None
