"""The folder tree is the architecture (docs/architecture.md): these tests keep its arrows true.

Every import of one portal app by another is read from the source (imports inside functions
and ``TYPE_CHECKING`` blocks included: a lazy import is still an arrow), and each must be one
the architecture allows. Writes to the mfa app's tables must come from the mfa app.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mfaportal"

# app -> the apps it may import. Nothing points back up: pages use services, services use
# the user cache, graph mode (entra) uses the domain, the cache and the Graph client.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "graph": {"core"},
    "directory": {"core"},
    "mfa": {"core", "directory"},
    "entra": {"core", "directory", "mfa", "graph"},
    "admin_portal": {"core", "directory", "mfa", "entra"},
    "selfservice": {"core", "directory", "mfa"},
    "demo": {"core", "directory", "mfa", "selfservice"},
}
# The project's own modules (settings, URLs, WSGI) wire the apps together.
PROJECT_MODULES = {"settings", "urls", "wsgi", "asgi", "__init__"}

MFA_MODELS = {
    "UserMfa",
    "VerificationMethod",
    "AppPassword",
    "RememberedDevice",
    "ServiceSettings",
    "VerificationChallenge",
    "TelephonyMessage",
    "ThrottleBucket",
    "AuthenticationEmail",
    "OutboxEmail",
    "SecretShownOnce",
}
WRITES = {"create", "update", "delete", "bulk_create", "bulk_update", "get_or_create"}
WRITES |= {"update_or_create", "save"}
# The demo tenant's seeder loads fixture rows for every app at once, as loaddata would (a
# 100k-user tenant in seconds); it never runs in production.
WRITE_EXEMPT = {PACKAGE / "demo" / "tenant.py"}


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _app_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_apps(path: Path) -> set[tuple[str, int]]:
    """(app, line) for every ``mfaportal.<app>`` this module imports."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module and node.level == 0:
            names = [node.module]
            if node.module == "mfaportal":
                names = [f"mfaportal.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mfaportal" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def test_every_app_is_known_to_the_architecture() -> None:
    apps = {path.name for path in PACKAGE.iterdir() if (path / "apps.py").exists()}
    assert apps - {"graph"} <= set(ALLOWED), "add the new app to ALLOWED and to the docs"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_app_imports_across_a_forbidden_arrow(path: Path) -> None:
    app = _app_of(path)
    if app in PROJECT_MODULES:
        return
    allowed = ALLOWED[app] | {app}
    crossing = sorted(
        (imported, line) for imported, line in _imported_apps(path) if imported not in allowed
    )
    assert not crossing, f"{app} may import only {sorted(allowed)}; found " + ", ".join(
        f"mfaportal.{imported} (line {line})" for imported, line in crossing
    )


def test_the_graph_client_is_plain_http() -> None:
    """The graph package talks HTTP: no models, no ORM (Django only for settings, lazily)."""
    for path in (PACKAGE / "graph").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("django.db"), f"{path.name} imports the ORM"


def _mfa_table_writes(path: Path) -> list[int]:
    """Lines where ``<MfaModel>.objects...<write>(`` or ``<MfaModel>(...).save()`` happens."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in WRITES:
            continue
        target = node.func.value
        while isinstance(target, ast.Call | ast.Attribute):
            if isinstance(target, ast.Attribute) and target.attr == "objects":
                model = target.value
                if isinstance(model, ast.Name) and model.id in MFA_MODELS:
                    lines.append(node.lineno)
                break
            target = target.func if isinstance(target, ast.Call) else target.value
    return lines


@pytest.mark.parametrize(
    "path",
    [p for p in _sources() if _app_of(p) != "mfa" and p not in WRITE_EXEMPT],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_only_the_mfa_app_writes_its_tables(path: Path) -> None:
    assert not _mfa_table_writes(path), (
        f"{path.relative_to(PACKAGE)} writes the mfa app's tables at lines "
        f"{_mfa_table_writes(path)}: call an mfa service instead"
    )


def test_the_write_check_finds_a_write() -> None:
    """The check itself: it must see the writes the mfa services do make."""
    assert _mfa_table_writes(PACKAGE / "mfa" / "services" / "state.py")


def test_the_arrow_check_sees_lazy_and_typing_only_imports(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from mfaportal.entra.models import OutboxChange\n"
        "def f():\n"
        "    import mfaportal.admin_portal.jobs\n"
        "    from mfaportal import selfservice\n"
    )
    assert {app for app, _line in _imported_apps(module)} == {
        "entra",
        "admin_portal",
        "selfservice",
    }
