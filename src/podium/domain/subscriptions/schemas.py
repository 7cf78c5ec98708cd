"""Typed inputs of the subscriptions service."""

from __future__ import annotations

from dataclasses import dataclass

from podium.kit.unset import UNSET, Unset


@dataclass(frozen=True)
class NewSubscription:
    """Subscribe a company to the product ``slug``.

    ``switch_plan`` (plans only): UNSET replaces the company's current plans, an id replaces that plan
    subscription only, None adds the plan beside the others. ``host_limit`` None lets a per-host
    subscription's limit follow its hosts.
    """

    slug: str
    switch_plan: int | None | Unset = UNSET
    host_limit: int | None = None
    subscribe_all_hosts: bool = True
