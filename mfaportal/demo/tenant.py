"""The demo tenant contoso.test: deterministic, so seeding twice gives the same tenant.

Every 50th generated user (index 17, 67, 117, ...) is a new hire: MFA Enabled, nothing
registered, and the printed password is a *temporary* one they must replace at their first
sign-in (DESIGN §5.7). The named accounts never are. A third of the users who have
registered methods also have a verified authentication email for password reset.
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models.functions import Lower

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.chunks import chunked
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.mfa.crypto import encrypt_secret, keyed_hash
from mfaportal.mfa.models import (
    AppPassword,
    AuthenticationEmail,
    HardwareOathToken,
    MethodType,
    MfaState,
    ServiceSettings,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.oath_csv import HEADER as OATH_HEADER
from mfaportal.mfa.services.oath_tokens import oath_tokens_upload

DEFAULT_PASSWORD = "Demo-Passw0rd!"
DOMAIN = "contoso.test"

FIRST_NAMES = [
    "Alex",
    "Allan",
    "Bianca",
    "Brian",
    "Camille",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Raul",
    "Sakura",
    "Tom",
    "Wanda",
    "Yusuf",
    "Zara",
    "Omar",
    "Priya",
    "Chen",
    "Fatima",
    "Kwame",
    "Ingrid",
    "Mateo",
    "Aisha",
    "Hiroshi",
    "Olga",
    "Pablo",
    "Sven",
    "Aroha",
    "Nadia",
    "Luca",
    "Maya",
    "Dmitri",
    "Ava",
    "Noah",
    "Liam",
    "Sofia",
    "Mia",
    "Elijah",
    "Amelia",
    "Adrian",
    "Adriana",
    "Adam",
]
LAST_NAMES = [
    "Wilber",
    "Brandt",
    "Bianchi",
    "Johnson",
    "Dupont",
    "Cline",
    "Berg",
    "Siciliani",
    "Braun",
    "Bossi",
    "Archie",
    "Cerveny",
    "Sink",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Garcia",
    "Tanaka",
    "Adams",
    "Okafor",
    "Nakamura",
    "Lindqvist",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Mensah",
    "Novak",
    "Patel",
    "Kim",
    "Nguyen",
    "Silva",
    "Moreau",
    "Andersen",
    "Kaur",
    "Ivanova",
    "Ortiz",
    "Adeyemi",
    "Addison",
    "Adler",
    "Kovacs",
    "Murphy",
    "Schmidt",
    "Walsh",
    "Yamamoto",
]
# Display names that test escaping and Unicode everywhere they are shown.
SPECIAL_NAMES = [
    ("Zoë Ångström", "zoe.angstrom"),
    ("José Núñez", "jose.nunez"),
    ("Łukasz Wróbel", "lukasz.wrobel"),
    ("Søren Kierkegård", "soren.kierkegard"),
    ("李 雷 (Li Lei)", "li.lei"),
    ("Renée O'Connor", "renee.oconnor"),
    ('Tom & Jerry "Ops"', "tom.jerry"),
    ("<script>alert('x')</script> Test", "script.test"),
    ("Ann <b>Bold</b> & Co", "ann.bold"),
    ('=HYPERLINK("http://evil.test") Formula', "formula.user"),
]


@dataclass
class UserSpec:
    upn: str
    display_name: str
    object_id: uuid.UUID
    account_enabled: bool = True
    is_licensed: bool = True
    state: MfaState = MfaState.DISABLED
    role_ids: list[str] = field(default_factory=list)
    # (kind, phone, extension, app_mode)
    methods: list[tuple[str, str, str, str]] = field(default_factory=list)
    default_method: str = ""
    app_passwords: int = 0
    # The password is temporary: replaced at the first sign-in.
    temporary_password: bool = False
    authentication_email: str = ""


def _phone(rng: random.Random) -> str:
    # +1 425 555 01xx: the fictional-number range, never a real subscriber.
    return f"+1425555{rng.randrange(100, 200):04d}"


# The named accounts with a role besides admin@ and helpdesk@: each role's pages as it sees
# them (seed_demo prints them).
ROLE_ACCOUNTS = (
    (
        f"policy@{DOMAIN}",
        "Policy Administrator",
        roles.AUTHENTICATION_POLICY_ADMINISTRATOR,
    ),
    (
        f"privileged@{DOMAIN}",
        "Privileged Helpdesk Agent",
        roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    ),
    (f"reader@{DOMAIN}", "Global Reader", roles.GLOBAL_READER),
    (f"security@{DOMAIN}", "Security Reader", roles.SECURITY_READER),
    (f"reports@{DOMAIN}", "Reports Reader", roles.REPORTS_READER),
)
NAMED_ACCOUNTS = 3 + len(ROLE_ACCOUNTS)


def tenant_specs(count: int) -> Iterator[UserSpec]:
    """The named accounts, then ``count`` more, the same every time."""
    rng = random.Random(20261122)
    yield UserSpec(
        f"admin@{DOMAIN}",
        "MOD Administrator",
        uuid.UUID(int=rng.getrandbits(128), version=4),
        role_ids=[roles.GLOBAL_ADMINISTRATOR.template_id],
    )
    yield UserSpec(
        f"helpdesk@{DOMAIN}",
        "Helpdesk Agent",
        uuid.UUID(int=rng.getrandbits(128), version=4),
        role_ids=[roles.AUTHENTICATION_ADMINISTRATOR.template_id],
    )
    yield UserSpec(f"adele@{DOMAIN}", "Adele Vance", uuid.UUID(int=rng.getrandbits(128), version=4))
    # One account for each other role DESIGN §1 lists, from a generator of their own so that
    # the rest of the tenant stays what it was before they were added.
    role_rng = random.Random(20261202)
    for upn, display_name, role in ROLE_ACCOUNTS:
        yield UserSpec(
            upn,
            display_name,
            uuid.UUID(int=role_rng.getrandbits(128), version=4),
            role_ids=[role.template_id],
        )

    other_roles = [role.template_id for role in roles.BUILT_IN_ROLES[2:]]
    for index in range(count):
        object_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        if index < len(SPECIAL_NAMES):
            display_name, local = SPECIAL_NAMES[index]
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            display_name, local = f"{first} {last}", f"{first}.{last}".lower()
        spec = UserSpec(f"{local}{index}@{DOMAIN}", display_name, object_id)
        roll = rng.random()
        spec.account_enabled = rng.random() >= 0.03
        spec.is_licensed = rng.random() >= 0.06
        if roll < 0.002:
            spec.role_ids = [roles.GLOBAL_ADMINISTRATOR.template_id]
        elif roll < 0.005:
            spec.role_ids = [roles.AUTHENTICATION_ADMINISTRATOR.template_id]
        elif roll < 0.012:
            spec.role_ids = [rng.choice(other_roles)]
        state_roll = rng.random()
        if spec.is_licensed and state_roll < 0.20:
            spec.state = MfaState.ENFORCED
            registered = rng.random() < 0.92
        elif spec.is_licensed and state_roll < 0.45:
            spec.state = MfaState.ENABLED
            registered = False
        else:
            # A few disabled users registered before: re-enabling them makes them Enforced.
            registered = spec.is_licensed and rng.random() < 0.04
        if registered:
            _add_methods(spec, rng)
            if spec.state == MfaState.ENFORCED and rng.random() < 0.15:
                spec.app_passwords = rng.randint(1, 3)
        # Decided by the index, not the random stream, so the rest of the tenant stays as
        # it was before new hires existed.
        if index % NEW_HIRE_EVERY == NEW_HIRE_AT:
            _new_hire(spec)
        elif spec.methods and index % 3 == 0:
            spec.authentication_email = f"{local}{index}@example.net"
        yield spec


NEW_HIRE_EVERY = 50
NEW_HIRE_AT = 17


def _new_hire(spec: UserSpec) -> None:
    spec.temporary_password = True
    spec.account_enabled = True
    spec.role_ids = []
    spec.state = MfaState.ENABLED if spec.is_licensed else MfaState.DISABLED
    spec.methods = []
    spec.default_method = ""
    spec.app_passwords = 0


def _add_methods(spec: UserSpec, rng: random.Random) -> None:
    kind = rng.random()
    phone = _phone(rng)
    spec.methods.append(("authentication_phone", phone, "", ""))
    if kind < 0.5:
        mode = "notification" if rng.random() < 0.7 else "code"
        spec.methods.append(("authenticator_app", "", "", mode))
        spec.default_method = (
            MethodType.PHONE_APP_NOTIFICATION
            if mode == "notification"
            else MethodType.PHONE_APP_OTP
        )
    elif kind < 0.9:
        spec.default_method = rng.choice([MethodType.ONE_WAY_SMS, MethodType.TWO_WAY_VOICE_MOBILE])
    else:
        spec.methods.append(
            (
                "office_phone",
                f"+1425555{rng.randrange(200, 300):04d}",
                str(rng.randrange(100, 999)),
                "",
            )
        )
        spec.default_method = MethodType.TWO_WAY_VOICE_OFFICE
    if rng.random() < 0.1:
        spec.methods.append(("alternate_phone", _phone(rng), "", ""))


@dataclass
class SeedResult:
    created: int
    existing: int
    seconds: float


def seed_tenant(
    *, users: int, password: str, progress: Callable[[int, int], None] | None = None
) -> SeedResult:
    started = time.monotonic()
    password_hash = make_password(password)
    role_rows = {
        role.template_id: DirectoryRole.objects.get_or_create(
            template_id=role.template_id, defaults={"display_name": role.display_name}
        )[0]
        for role in roles.BUILT_IN_ROLES
    }
    existing = set(
        DirectoryUser.objects.annotate(upn_lower=Lower("user_principal_name")).values_list(
            "upn_lower", flat=True
        )
    )
    _settings, created = ServiceSettings.objects.get_or_create(pk=1)
    if created:
        # The demo shows every feature: app passwords and remembered devices on.
        ServiceSettings.objects.filter(pk=1).update(
            app_passwords_allowed=True,
            remember_devices_allowed=True,
            password_reset_enabled=True,
        )

    batch: list[UserSpec] = []
    created_count = 0
    seen_upns: list[str] = []
    total = users + NAMED_ACCOUNTS
    for spec in tenant_specs(users):
        seen_upns.append(spec.upn)
        if spec.upn in existing:
            continue
        batch.append(spec)
        if len(batch) >= 2000:
            created_count += _create_batch(batch, password_hash, role_rows)
            batch = []
            if progress:
                progress(len(seen_upns), total)
    if batch:
        created_count += _create_batch(batch, password_hash, role_rows)
    if progress:
        progress(total, total)

    _spare_hardware_tokens()

    # The printed password must work: if the tenant was seeded with another one, reset it.
    admin = DirectoryUser.objects.by_upn(f"admin@{DOMAIN}").first()
    if admin is not None and not admin.check_password(password):
        for chunk in chunked(seen_upns):
            DirectoryUser.objects.filter(user_principal_name__in=chunk).update(
                password=password_hash
            )
    return SeedResult(created_count, len(seen_upns) - created_count, time.monotonic() - started)


def _spare_hardware_tokens() -> None:
    """Two spare hardware OATH tokens (issue 16.3), uploaded once as an admin's file would be:
    an admin assigns one on the hardware tokens page, and the authenticator simulator shows
    its code to activate it with."""
    if HardwareOathToken.objects.filter(serial_number__startswith="DEMO-").exists():
        return
    lines = [
        f",DEMO-0001,{pyotp.random_base32(32)},30,Contoso,Demo Token",
        f",DEMO-0002,{pyotp.random_base32(32)},60,Contoso,Demo Token 60",
    ]
    oath_tokens_upload(
        data="\n".join([",".join(OATH_HEADER), *lines]).encode(),
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )


def _create_batch(
    specs: list[UserSpec], password_hash: str, role_rows: dict[str, DirectoryRole]
) -> int:
    with transaction.atomic():
        users = DirectoryUser.objects.bulk_create(
            [
                DirectoryUser(
                    object_id=spec.object_id,
                    user_principal_name=spec.upn,
                    display_name=spec.display_name,
                    mail=spec.upn,
                    account_enabled=spec.account_enabled,
                    is_licensed=spec.is_licensed,
                    password=password_hash,
                    password_must_change=spec.temporary_password,
                )
                for spec in specs
            ],
            batch_size=1000,
        )
        UserMfa.objects.bulk_create(
            [
                UserMfa(user=user, state=spec.state, default_method=spec.default_method)
                for user, spec in zip(users, specs, strict=True)
            ],
            batch_size=1000,
        )
        methods = []
        app_passwords = []
        memberships = []
        for user, spec in zip(users, specs, strict=True):
            for kind, phone, extension, mode in spec.methods:
                method = VerificationMethod(
                    user=user, kind=kind, phone_number=phone, extension=extension, app_mode=mode
                )
                if kind == "authenticator_app":
                    method.device_name = "Authenticator on phone"
                    method.secret_ciphertext, method.secret_key_id = encrypt_secret(
                        pyotp.random_base32().encode(), associated_data=str(user.object_id).encode()
                    )
                methods.append(method)
            for number in range(spec.app_passwords):
                app_passwords.append(
                    AppPassword(
                        user=user,
                        name=["Outlook desktop", "iPhone mail", "Lync"][number % 3],
                        service=["", AppPassword.Service.MAIL, ""][number % 3],
                        digest=keyed_hash(secrets.token_hex(16), purpose="app-password"),
                    )
                )
            for role_id in spec.role_ids:
                memberships.append(
                    DirectoryUser.roles.through(
                        directoryuser=user, directoryrole=role_rows[role_id]
                    )
                )
        VerificationMethod.objects.bulk_create(methods, batch_size=1000)
        AuthenticationEmail.objects.bulk_create(
            [
                AuthenticationEmail(user=user, address=spec.authentication_email)
                for user, spec in zip(users, specs, strict=True)
                if spec.authentication_email
            ],
            batch_size=1000,
        )
        AppPassword.objects.bulk_create(app_passwords, batch_size=1000)
        DirectoryUser.roles.through.objects.bulk_create(memberships, batch_size=1000)
    return len(users)


def tenant_domain() -> str:
    return settings.MFAPORTAL_TENANT_NAME
