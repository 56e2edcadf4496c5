"""The event form: HTML form values <-> the plain values the operations take (local time <-> aware UTC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.core.forms import local_values, read_local_time
from portal.core.i18n import fill
from portal.events.models import Event, Visibility

VISIBILITY_OPTIONS = [(Visibility.MEMBERS.value, _l("Members only")), (Visibility.PUBLIC.value, _l("Public: everyone"))]


def event_data(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form values -> operation values; the local start and end are read in the chosen time zone."""
    data: dict[str, Any] = {key: form.get(key, "") for key in ("title", "description", "location", "visibility")}
    errors: dict[str, str] = {}
    for key in ("start", "end"):
        value, error = read_local_time(
            form,
            key,
            _l("Enter the date and time the event starts.")
            if key == "start"
            else _l("Enter the date and time the event ends."),
        )
        if error:
            errors[f"{key}_time"] = error
        else:
            data[f"{key}_time"] = value
    return data, errors


IMAGE_ALT_MAX = 300
IMAGE_MAX_SIDE = 1600  # pixels: an event image is scaled down to fit


def image_alt_error(alt: str, *, has_image: bool) -> str | None:
    """The alt text is required with an image (new or kept), at most IMAGE_ALT_MAX characters, one line."""
    if has_image and not alt:
        return _l("Describe the image for people who cannot see it (its alt text).")
    if len(alt) > IMAGE_ALT_MAX:
        return fill(
            _l("Keep the alt text to %(limit)d characters (it has %(length)d)."), limit=IMAGE_ALT_MAX, length=len(alt)
        )
    if not alt.isprintable():
        return _l("The alt text is one line of plain text.")
    return None


def event_values(event: Event, zone: str) -> dict[str, Any]:
    """The edit form filled from a stored event, its times shown in `zone`."""
    return {
        "title": event.title,
        "description": event.description,
        "location": event.location,
        "visibility": event.visibility,
        "image_alt": event.image_alt,
        "timezone": zone,
        **local_values(event.start_time, zone, "start"),
        **local_values(event.end_time, zone, "end"),
    }


def new_values(zone: str) -> dict[str, Any]:
    return {"timezone": zone, "visibility": Visibility.MEMBERS.value}
