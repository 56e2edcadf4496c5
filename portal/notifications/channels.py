"""The channel port: how one notification row reaches its person, whatever the medium.

A channel has a name (stored on each row: `Notification.channel`) and two steps: `compose` turns a row, its
recipient and its session into a message of that channel, `deliver` hands the message over and says where it
went, or raises so the row is retried. The send-once machinery (portal.notifications.sending) looks the channel up
by the row's name and knows nothing else about it.

Channels register themselves when their module is imported; the package imports each of them once
(portal/notifications/__init__.py). Email (portal.notifications.email_channel) is the first.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from portal.accounts.models import User
from portal.config import Settings
from portal.notifications.models import CHANNEL_NAME_LENGTH, Notification
from portal.training.models import TrainingSession

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str  # stored on each of its rows (Notification.channel)

    def enabled(self, settings: Settings) -> bool:
        """Whether planning creates rows for this channel (e.g. once its settings block is filled in). Rows
        planned before it was switched off are still re-timed and sent."""

    def compose(
        self, notification: Notification, user: User, session: TrainingSession | None, settings: Settings
    ) -> Any:
        """The message this row says to `user`, in this channel's form. `session` is None for a message about
        no session (an account email: verification, reset, invitation)."""

    def deliver(self, message: Any, settings: Settings) -> str:
        """Hand the message over; return where it went. Raise when it was not accepted: the row is retried."""

    def describe(self, settings: Settings) -> str:
        """Where this channel's messages go, for the start-up lines of `portal run` and the worker log."""

    # Optional: `connection(settings)` returns an object with `deliver(message) -> str` and `close()`, one
    # connection reused for a batch of rows (portal.notifications.sending uses it when the channel has it; email
    # keeps one SMTP session open for the batch).


CHANNELS: dict[str, Channel] = {}  # by name, in the order they registered
_announced: set[str] = set()


def register(channel: Channel) -> Channel:
    if not 0 < len(channel.name) <= CHANNEL_NAME_LENGTH:
        raise ValueError(f"a notification channel's name has 1 to {CHANNEL_NAME_LENGTH} characters: {channel.name!r}")
    if channel.name in CHANNELS:
        raise ValueError(f"a notification channel named {channel.name!r} is registered already")
    CHANNELS[channel.name] = channel
    return channel


def channel_named(name: str) -> Channel:
    try:
        return CHANNELS[name]
    except KeyError:
        raise LookupError(f"no notification channel named {name!r} (registered: {', '.join(CHANNELS)})") from None


def enabled_channels(settings: Settings) -> list[str]:
    """Names of the channels a notification is planned on: one row per channel and person."""
    return [name for name, channel in CHANNELS.items() if channel.enabled(settings)]


def describe_transport(settings: Settings) -> str:
    return "; ".join(f"{name}: {CHANNELS[name].describe(settings)}" for name in enabled_channels(settings))


def announce_transport(settings: Settings) -> None:
    """Say once per process where notifications go."""
    text = describe_transport(settings)
    if text not in _announced:
        _announced.add(text)
        log.info("notifications: %s", text)
