"""Roster import: a CSV of people (`email`, `name`, `role`, `time_zone`) read into a preview, kept on the server,
then stored in one transaction once an admin confirms it.

- `read_roster(data, delimiter)` reads the upload without touching the database's rows: each row with its errors
  (bad email, unknown role or zone, a name too long, the same email twice in the file, a wrong number of cells);
  the whole file refused with one message when it is not CSV text at all (binary, not UTF-8), too big, longer
  than MAX_ROWS, or without the `email` and `name` columns. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is
  dropped; the delimiter (comma, semicolon, tab) is detected with csv.Sniffer, or chosen by the admin.
- `plan(rows)` compares the rows with the accounts: new people are created, people found by email are updated
  (name, role, zone), identical ones are left alone.
- The preview is kept in Redis under a random id (`keep` / `load`), bound to the admin who uploaded it: the
  confirming request only names the id, so nothing the browser sends back is trusted.
- `commit` re-plans against the accounts as they are now and stores every row, or nothing: it refuses while any
  row has an error (an admin fixes the file and uploads it again, so the portal and the file never disagree about
  who was imported).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import asdict, dataclass, field

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.accounts import signals
from portal.accounts.models import User
from portal.accounts.people import new_person, require_admin
from portal.accounts.roles import Role
from portal.accounts.rules import MAX_NAME, check_role, is_plausible_email, normalise_email
from portal.config import current_settings
from portal.core.errors import Conflict, ValidationFailed
from portal.core.i18n import fill
from portal.core.queue import get_redis
from portal.core.timezones import is_valid_timezone
from portal.core.validation import storable_text
from portal.extensions import db

MAX_ROWS = 10_000
MAX_BYTES = 2 * 1024 * 1024  # 10,000 rows of long names and addresses fit well below
KEEP_SECONDS = 3600  # a preview not confirmed within the hour is forgotten
COLUMNS = ("email", "name", "role", "time_zone")
REQUIRED = ("email", "name")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
DELIMITER_PLURALS = {",": _l("commas"), ";": _l("semicolons"), "\t": _l("tabs")}
CREATE, UPDATE, SAME = "create", "update", "unchanged"
_REDIS_KEY = "portal:roster:{}"
_LOOKUP_BATCH = 500


class RosterRefused(ValueError):
    """The upload cannot be read as a roster at all (the message says why and what to do)."""


@dataclass
class RosterRow:
    line: int  # the line of the file (the header is line 1)
    email: str
    name: str
    role: str  # "" when blank: a new person is a member, a known one keeps theirs
    time_zone: str  # "" when blank: a new person gets the default zone, a known one keeps theirs
    errors: dict[str, str] = field(default_factory=dict)
    action: str = ""  # create, update, unchanged (set by `plan`)
    changes: list[str] = field(default_factory=list)  # the fields an update changes


@dataclass
class Roster:
    rows: list[RosterRow]
    delimiter: str
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> list[RosterRow]:
        return [row for row in self.rows if row.errors]

    @property
    def valid(self) -> bool:
        return bool(self.rows) and not self.error_rows

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action and not row.errors)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Roster:
        data = json.loads(text)
        return cls(
            rows=[RosterRow(**row) for row in data["rows"]],
            delimiter=data["delimiter"],
            ignored_columns=data.get("ignored_columns", []),
        )


# ------------------------------------------------------------------------------------------------ reading
def read_roster(data: bytes, delimiter: str = "", *, max_bytes: int = MAX_BYTES) -> Roster:
    """The upload as rows with their own errors; RosterRefused when it is no roster at all. `delimiter` "" detects
    it; else one of DELIMITERS."""
    if not data.strip():
        raise RosterRefused(_l("The file is empty. Upload a CSV file with a header row: email,name,role,time_zone."))
    if len(data) > max_bytes:
        raise RosterRefused(
            fill(
                _l("The file is larger than %(mb)s MB; split it into smaller files."),
                mb=f"{max_bytes / (1024 * 1024):g}",
            )
        )
    if b"\x00" in data:
        raise RosterRefused(
            _l("This is not a CSV file (it contains binary data). Export the roster as CSV and try again.")
        )
    try:
        text = data.decode("utf-8-sig")  # drops the byte-order mark Excel writes
    except UnicodeDecodeError as exc:
        raise RosterRefused(
            _l("The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” and upload it again.")
        ) from exc
    if delimiter and delimiter not in DELIMITERS:
        raise RosterRefused(_l("Choose a comma, a semicolon or a tab as the delimiter."))
    delimiter = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        people, ignored = _rows(reader, _columns(header, delimiter))
    except csv.Error as exc:
        raise RosterRefused(
            fill(
                _l("The file cannot be read as CSV at line %(line)d: %(problem)s."),
                line=reader.line_num,
                problem=str(exc),
            )
        ) from exc
    if not people:
        raise RosterRefused(_l("The file has a header but no people."))
    check_duplicates(people)
    return Roster(rows=people, delimiter=delimiter, ignored_columns=ignored)


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: a semicolon when Excel wrote the file in a comma-decimal locale."""
    first = text.lstrip().split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def _columns(header: list[str] | None, delimiter: str) -> dict[str, int]:
    if not header:
        raise RosterRefused(
            _l("The file has no header row: the first line names the columns email,name,role,time_zone.")
        )
    names = [cell.strip().lower().replace(" ", "_") for cell in header]
    positions = {name: i for i, name in reversed(list(enumerate(names)))}
    missing = [name for name in REQUIRED if name not in positions]
    if missing:
        found = ", ".join(f"“{n}”" for n in names[:6] if n) or gettext("nothing")
        raise RosterRefused(
            fill(
                _l(
                    "The header row must name the columns email,name,role,time_zone (missing: %(missing)s; found "
                    "%(found)s, separated by %(delimiter)s). Is this the roster file?"
                ),
                missing=", ".join(missing),
                found=found,
                delimiter=DELIMITER_PLURALS.get(delimiter, delimiter),
            )
        )
    positions["_width"] = len(header)
    positions["_ignored"] = [n for n in names if n and n not in COLUMNS]  # type: ignore[assignment]
    return positions


def _rows(reader, columns: dict) -> tuple[list[RosterRow], list[str]]:
    rows: list[RosterRow] = []
    width = columns["_width"]
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(rows) >= MAX_ROWS:
            raise RosterRefused(
                f"The file has more than {MAX_ROWS:,} people; import at most {MAX_ROWS:,} at a time (split the file)."
            )

        def cell(name: str, cells=cells) -> str:
            i = columns.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        row = RosterRow(
            line=reader.line_num,
            email=normalise_email(cell("email")),
            name=cell("name"),
            role=cell("role").lower().replace(" ", "_"),
            time_zone=cell("time_zone"),
        )
        if len(cells) != width:
            row.errors["row"] = gettext(
                "This line has %(cells)d cells; the header has %(width)d.", cells=len(cells), width=width
            )
        row.errors.update(row_errors(row))
        rows.append(row)
    return rows, list(columns["_ignored"])


def row_errors(row: RosterRow) -> dict[str, str]:
    """The errors of one row on its own (duplicates and the accounts are checked across rows)."""
    errors: dict[str, str] = {}
    if not row.email:
        errors["email"] = gettext("The email is missing.")
    elif not is_plausible_email(row.email):
        errors["email"] = gettext("“%(email)s” is not a valid email address.", email=_shown(row.email))
    if not row.name:
        errors["name"] = gettext("The name is missing.")
    elif len(row.name) > MAX_NAME:
        errors["name"] = gettext("The name is longer than %(num)d characters.", num=MAX_NAME)
    elif not storable_text(row.name):
        errors["name"] = gettext("The name contains a character that cannot be stored.")
    if row.role and check_role(row.role):
        errors["role"] = gettext(
            "“%(role)s” is not a role; use one of: %(roles)s.",
            role=_shown(row.role),
            roles=", ".join(r.value for r in Role),
        )
    if row.time_zone and not is_valid_timezone(row.time_zone):
        errors["time_zone"] = gettext(
            "“%(zone)s” is not a time zone; use a name like Europe/Berlin.", zone=_shown(row.time_zone)
        )
    return errors


def _shown(text: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= 60 else cleaned[:57] + "..."


def check_duplicates(rows: list[RosterRow]) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        if not row.email or "email" in row.errors:
            continue
        if row.email in first_line:
            row.errors["email"] = gettext(
                "%(email)s is already on line %(line)d of this file.", email=row.email, line=first_line[row.email]
            )
        else:
            first_line[row.email] = row.line


# ------------------------------------------------------------------------------------------------ against the accounts
def _accounts_by_email(emails: list[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(emails), _LOOKUP_BATCH):
        batch = emails[start : start + _LOOKUP_BATCH]
        found.update({u.email: u for u in db.session.scalars(select(User).where(User.email.in_(batch)))})
    return found


def plan(roster: Roster, *, actor: User) -> Roster:
    """Mark each valid row create, update or unchanged against the accounts as they are now."""
    for row in roster.rows:
        row.errors.pop("account", None)  # planned again: against the accounts as they are now
    valid = [row for row in roster.rows if not row.errors]
    known = _accounts_by_email([row.email for row in valid])
    for row in roster.rows:
        row.action, row.changes = "", []
        if row.errors:
            continue
        user = known.get(row.email)
        if user is None:
            row.action = CREATE
            continue
        row.changes = [f for f, new, old in _fields(row, user) if new != old]
        if user.id == actor.id and "role" in row.changes and row.role != Role.ADMIN.value:
            row.errors["account"] = gettext(
                "This is you: you cannot take the admin role from yourself; ask another admin."
            )
            continue
        row.action = UPDATE if row.changes else SAME
    return roster


def _fields(row: RosterRow, user: User) -> list[tuple[str, str, str]]:
    return [
        ("name", row.name, user.name),
        ("role", row.role or user.role, user.role),
        ("time_zone", row.time_zone or user.timezone, user.timezone),
    ]


def commit(roster: Roster, *, actor: User) -> dict[str, int]:
    """Store every row (create or update by email), or nothing: ValidationFailed while any row has an error."""
    require_admin(actor, "import people")
    plan(roster, actor=actor)
    if not roster.valid:
        raise ValidationFailed(
            {"file": f"{len(roster.error_rows)} rows have errors; correct the file and upload it again."}
        )
    known = _accounts_by_email([row.email for row in roster.rows])
    default_zone = current_settings().DEFAULT_TIMEZONE
    created: list[User] = []
    updated: list[tuple[User, dict[str, list[str]]]] = []
    for row in roster.rows:
        user = known.get(row.email)
        if user is None:
            role, zone = row.role or Role.MEMBER.value, row.time_zone or default_zone
            created.append(new_person(row.email, row.name, role, zone))
        elif row.action == UPDATE:
            old = {"name": user.name, "role": user.role, "time_zone": user.timezone}
            user.name, user.role, user.timezone = row.name, row.role or user.role, row.time_zone or user.timezone
            new = {"name": user.name, "role": user.role, "time_zone": user.timezone}
            updated.append((user, {k: [old[k], new[k]] for k in old if old[k] != new[k]}))
    db.session.add_all(created)
    db.session.flush()  # one round of INSERTs: the ids the audit entries name
    for user in created:
        changes = {"email": user.email, "role": user.role, "timezone": user.timezone, "import": True}
        signals.user_changed.send(user, action="user.create", actor=actor, changes=changes)
    for user, changes in updated:
        signals.user_changed.send(user, action="user.import", actor=actor, changes=changes)
    db.session.flush()
    return {
        "created": len(created),
        "updated": len(updated),
        "unchanged": len(roster.rows) - len(created) - len(updated),
    }


# ------------------------------------------------------------------------------------------------ kept between steps
def keep(roster: Roster, *, actor: User) -> str:
    """Keep the preview on the server for KEEP_SECONDS; the random id the confirming request names."""
    upload_id = secrets.token_urlsafe(16)
    payload = json.dumps({"owner": actor.id, "roster": roster.to_json()})
    get_redis().set(_REDIS_KEY.format(upload_id), payload, ex=KEEP_SECONDS)
    return upload_id


def load(upload_id: str, *, actor: User) -> Roster:
    """The preview kept under `upload_id` by this admin; Conflict when it expired, was used, or is another's."""
    raw = get_redis().get(_REDIS_KEY.format(upload_id)) if _plausible_id(upload_id) else None
    data = json.loads(raw) if raw else None
    if data is None or data.get("owner") != actor.id:
        raise Conflict(_l("This preview has expired or was already imported; upload the file again."))
    return Roster.from_json(data["roster"])


def forget(upload_id: str) -> None:
    if _plausible_id(upload_id):
        get_redis().delete(_REDIS_KEY.format(upload_id))


def _plausible_id(upload_id: str) -> bool:
    return isinstance(upload_id, str) and 0 < len(upload_id) <= 64 and upload_id.isascii() and upload_id.isprintable()
