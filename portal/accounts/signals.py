"""What accounts tell the packages above them."""

from portal.core.signals import namespace

_signals = namespace()

user_changed = _signals.signal(
    "user-changed",
    doc="""An account was created or changed. Sender: the User; keyword arguments: `action` (user.create,
    user.role, user.active), `actor` (the User who did it, None for the system), `changes` (field -> value, or
    field -> [old, new]). The audit log records it.""",
)
