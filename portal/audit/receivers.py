"""The audit log records what the packages below it announce (accounts)."""

from __future__ import annotations

from typing import Any

from portal.accounts import signals as account_signals
from portal.audit.operations import record


@account_signals.user_changed.connect
def record_user_change(user, *, action: str, actor, changes: dict[str, Any], **_: Any) -> None:
    record(action, "user", user.id, actor, changes)
