"""axe-core accessibility checks for the browser tests.

axe-core comes from the npm registry (package.json pins it; ``make install`` runs ``npm ci``)
and is injected into the page under test through Playwright's evaluate, which the portal's
Content-Security-Policy (no inline script) does not apply to.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_JS = Path(
    os.environ.get(
        "MFAPORTAL_AXE_JS",
        Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js",
    )
)
WCAG_TAGS = {"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}
# Outside the WCAG rules (axe's best practices), a violation this grave fails the page too.
GRAVE = {"serious", "critical"}


@cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"axe-core not found at {AXE_JS}: run `make install` (it runs `npm ci`).")
    return AXE_JS.read_text(encoding="utf-8")


def _fails_the_page(violation: dict[str, Any]) -> bool:
    return bool(WCAG_TAGS.intersection(violation["tags"])) or violation["impact"] in GRAVE


def _report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['failureSummary']}")
    return "\n".join(lines)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds wrong on the page as it is now: every WCAG 2.x A/AA violation,
    and any best-practice violation axe rates serious or critical."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
        ".then(results => results.violations.map(violation => ({"
        " id: violation.id, impact: violation.impact, tags: violation.tags,"
        " help: violation.help,"
        " nodes: violation.nodes.map(node => ({target: node.target,"
        " failureSummary: node.failureSummary}))})))"
    )
    return [violation for violation in results if _fails_the_page(violation)]


def assert_accessible(page: Page) -> None:
    """axe-core finds nothing on the page that fails it (see ``axe_violations``)."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n{_report(violations)}"
