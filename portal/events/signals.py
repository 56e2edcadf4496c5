"""What an event's page and JSON ask of the packages above events (the sessions an event holds)."""

from portal.core.signals import namespace

_signals = namespace()

event_page = _signals.signal(
    "event-page",
    doc="""The event page is being rendered. Sender: the Event; keyword argument `viewer`. A receiver returns a
    dict that is added to the page's template context (seats adds `sessions` and their join `panels`).""",
)

event_json = _signals.signal(
    "event-json",
    doc="""An event's JSON is being built. Sender: the Event; keyword arguments `viewer` and `public_only` (only
    what anyone may see). A receiver returns a dict added to the JSON (training adds `training_sessions`).""",
)
