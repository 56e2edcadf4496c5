"""What accounts tell the packages above them."""

from portal.core.signals import namespace

_signals = namespace()

user_changed = _signals.signal(
    "user-changed",
    doc="""An account was created or changed. Sender: the User; keyword arguments: `action` (user.create,
    user.role, user.active), `actor` (the User who did it, None for the system), `changes` (field -> value, or
    field -> [old, new]). The audit log records it.""",
)

user_deactivated = _signals.signal(
    "user-deactivated",
    doc="""An admin is deactivating an account: the person will no longer sign in. Sent right before the account
    is marked inactive, in the same transaction. Sender: the User; keyword argument `actor` (the admin). Seats
    release the person's places in sessions not over yet (the waitlist is promoted as usual); their history
    (attendance, past seats, audit) stays.""",
)

account_mail = _signals.signal(
    "account-mail",
    doc="""An account email is wanted (a one-time link: verification, password reset, invitation, email change).
    Sender: the User it is for; keyword arguments: `kind` (portal.accounts.tokens: verify_email, password_reset,
    invitation, email_change), `context` (what the email needs besides the user: {"new_email": ...} for an email
    change, {"invited_by": name} for an invitation). Notifications queue it through the send-once machinery.""",
)
