"""Reads for seats and the join panel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.training.models import TrainingSession


@dataclass(frozen=True)
class JoinPanel:
    session: TrainingSession


def join_panels(sessions: Sequence[TrainingSession], viewer) -> dict[int, JoinPanel]:
    """One join panel per session for `viewer` (a User or the anonymous user), in a fixed number of queries."""
    return {s.id: JoinPanel(s) for s in sessions}
