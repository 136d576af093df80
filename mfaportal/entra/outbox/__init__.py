"""The durable outbox: changes for Graph, recorded with the action, sent until Graph answers.

Life of a change (``OutboxChange.status``)::

    pending ──claim──▶ sending ──Graph accepts──▶ done
       ▲                  │ ──Graph refuses (4xx)──▶ failed   (audited, shown with Graph's reason)
       └── retry later ◀──┘ ──429/5xx/timeout/no token──▶ pending again, next_attempt_at later

- ``outbox_record`` writes the rows in the caller's transaction and enqueues the send task
  on commit. A crash before the commit records nothing (and the action did not happen
  either); a crash after it leaves the rows pending for ``outbox_deliver`` to find.
- ``outbox_deliver`` claims due rows (``select_for_update(skip_locked=True)`` where the
  database has it; SQLite serialises writers anyway) by moving them to ``sending`` under a
  claim token and a lease, sends them, then finishes them only if the claim still holds. A
  worker that dies mid-send leaves rows whose lease runs out; they are claimed again. Every
  operation sent is idempotent (PATCH a state, DELETE a method that may be gone already,
  revoke sessions), so the rare resend after a lost lease does no harm, and a row finished
  once is never sent again.
- A newer change of the same kind for the same user replaces a pending one (the admin's
  latest word wins) and waits while an older one is in flight, so changes for one user
  reach Graph in order.
"""

from mfaportal.entra.outbox.deliver import DeliveryReport, outbox_deliver, retry_delay
from mfaportal.entra.outbox.record import outbox_record

__all__ = ["DeliveryReport", "outbox_deliver", "outbox_record", "retry_delay"]
