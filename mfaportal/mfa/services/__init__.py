"""State changes of the MFA domain: the only code that writes the mfa app's tables.

Every page, the CSV bulk update, the CLI, self-service and graph mode's sync and outbox call
these functions, so they cannot drift apart; the rules they apply are in
``mfaportal.mfa.policy``. Each takes the users as a queryset (a bulk step over 10k users
never loads 10k model objects), a ``ChangeContext`` saying who acts from where, and
optionally the Directory to write through (tests hand one in).

- ``state``: enable, enforce, disable (``mfa_state_set``; in local mode a job's chunk goes
  to ``mfa_state_set_in_database``, the same change as a few set-based statements);
- ``registration``: the wizard's result, and the Enforced it brings;
- ``methods``: the person's own method changes, and *require re-registration*;
- ``app_passwords``: create, delete, delete all, verify;
- ``access``: remembered devices, sessions, fraud-report blocks;
- ``settings``: the service settings tab and *Manage user settings*;
- ``reconcile``: what the directory of record reported, brought into the cache.
"""

from mfaportal.mfa.services.access import (
    fraud_block_lift,
    remembered_devices_restore,
    sessions_revoke,
)
from mfaportal.mfa.services.app_passwords import app_passwords_delete_all
from mfaportal.mfa.services.methods import mfa_reregistration_require
from mfaportal.mfa.services.registration import mfa_registration_complete
from mfaportal.mfa.services.settings import service_settings_update, user_settings_manage
from mfaportal.mfa.services.state import mfa_state_set

__all__ = [
    "app_passwords_delete_all",
    "fraud_block_lift",
    "mfa_registration_complete",
    "mfa_reregistration_require",
    "mfa_state_set",
    "remembered_devices_restore",
    "service_settings_update",
    "sessions_revoke",
    "user_settings_manage",
]
