"""The events capability as a Feature: the bus stops delivering when the application stops."""

from __future__ import annotations

from authkit.core.feature import Feature
from authkit.events.bus import EventBus

__all__ = ["events_feature"]


def events_feature(bus: EventBus) -> Feature:
    return Feature("events", on_shutdown=[bus.close])
