"""*Manage user settings* for the selected users (a quick step)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from django.utils.translation import gettext

from mfaportal.admin_portal.jobs.base import UserUnits, Work, user_ids_of
from mfaportal.admin_portal.models import BulkJob
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.directory.interface import APP_PASSWORDS, REMEMBERED_DEVICES, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.services import user_settings_manage


@dataclass(frozen=True)
class UserSettingsParams:
    require_reregistration: bool = False
    delete_app_passwords: bool = False
    restore_remembered_devices: bool = False

    @classmethod
    def of(cls, job: BulkJob) -> UserSettingsParams:
        return cls(**{name: bool(job.params.get(name)) for name in cls.__dataclass_fields__})

    def as_json(self) -> dict[str, bool]:
        return asdict(self)

    @property
    def chosen(self) -> list[str]:
        return [name for name, on in asdict(self).items() if on]


class UserSettingsJob:
    kind: str = BulkJob.Kind.USER_SETTINGS
    source: AuditSource = AuditSource.PAGE
    may_run_inline = True

    def describe(self, job: BulkJob, users: str) -> str:
        return gettext("Manage user settings for %(users)s") % {"users": users}

    def work(self, job: BulkJob) -> Sequence[Work]:
        return UserUnits(job.user_ids)

    def prepare(self, job: BulkJob) -> bool:
        return False

    def set_based(self, job: BulkJob) -> bool:
        return False

    def apply(self, job: BulkJob, chunk: Sequence[Work], context: ChangeContext) -> Outcome:
        params = UserSettingsParams.of(job)
        return user_settings_manage(
            users=DirectoryUser.objects.filter(pk__in=user_ids_of(chunk)),
            require_reregistration=params.require_reregistration,
            delete_app_passwords=params.delete_app_passwords,
            restore_remembered_devices=params.restore_remembered_devices,
            context=context,
        )

    def requested(self, job: BulkJob, work: Work) -> str:
        return ", ".join(UserSettingsParams.of(job).chosen)

    def notes(self, job: BulkJob) -> list[str]:
        return user_settings_notes(UserSettingsParams.of(job))


def user_settings_notes(params: UserSettingsParams) -> list[str]:
    """What the directory does not do, or does its own way, of the settings chosen."""
    directory = get_directory()
    found = []
    if params.delete_app_passwords and APP_PASSWORDS in directory.portal_only:
        found.append(str(directory.portal_only[APP_PASSWORDS]))
    if params.restore_remembered_devices and REMEMBERED_DEVICES in directory.notes:
        found.append(str(directory.notes[REMEMBERED_DEVICES]))
    return found
