"""Database sessions, each read by one statement the ORM compiles once (issue 15).

Every signed-in page starts by reading its session. Django's database backend builds and
compiles that query on each request (~700 Python calls, a tenth of the users page); here
it is compiled once per database (core.prepared) and bound to the request's key and the
time. What is stored, how it is signed and when it expires are Django's own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from mfaportal.core.prepared import Prepared, prepared_rows

_LOAD = Prepared(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now),
    ("stand-in session key " + "k" * 19, datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)),
)


class SessionStore(DatabaseSessionStore):
    """Django's database session store (``SESSION_ENGINE = "mfaportal.core.sessions"``)."""

    def _get_session_from_db(self) -> Session | None:
        found = prepared_rows(_LOAD, Session, (self.session_key, timezone.now()))
        if not found:
            # As Django's: the key named no live session, so saving makes a new one.
            self._session_key = None
            return None
        return found[0]
