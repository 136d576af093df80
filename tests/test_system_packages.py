"""A fresh machine needs nothing by hand (issue 13, item 9): scripts/system-packages.sh,
which `make demo`, `make test` and .ci/run call, installs what is missing as root and
otherwise stops with the one command to run.

Each test runs the script with a PATH of its own: the commands a machine "has" are stubs in
a temporary folder, ``apt-get`` records what it is asked (and "installs" by adding stubs), and
``id`` says whether we are root. No real package is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-packages.sh"
# What each Debian package brings, as the stubs the checks look for.
PROVIDES = {
    "gettext": ["msgfmt"],
    "chromium": ["chromium"],
    "npm": ["npm"],
    "nodejs": ["node"],
    "redis-server": ["redis-server"],
}
EVERYTHING = ["msgfmt", "chromium", "npm", "node", "redis-server"]


@dataclass
class Machine:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def apt_log(self) -> Path:
        return self.root / "apt.log"

    def stub(self, name: str, body: str = "exit 0") -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def remove(self, *names: str) -> None:
        for name in names:
            (self.bin / name).unlink()

    def apt_calls(self) -> list[str]:
        return self.apt_log.read_text().splitlines() if self.apt_log.exists() else []

    def run(self, *groups: str, root: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        self.stub("id", f"echo {0 if root else 1000}")
        environment = {
            "PATH": str(self.bin),
            "VENV": str(self.root / "venv"),
            "PGBIN": str(self.root / "pg"),
            "LIBERATION_FONTS": str(self.root / "fonts"),
            **env,
        }
        return subprocess.run(
            [str(self.bin / "bash"), str(SCRIPT), *groups],
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """A machine with everything installed: change it by removing commands."""
    found = Machine(tmp_path)
    found.bin.mkdir()
    bash = shutil.which("bash")
    assert bash
    os.symlink(bash, found.bin / "bash")
    for name in EVERYTHING:
        found.stub(name)
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(bash)
    (tmp_path / "fonts").mkdir()
    (tmp_path / "pg").mkdir()
    found.stub("initdb")
    (found.bin / "initdb").rename(tmp_path / "pg" / "initdb")
    chmod = shutil.which("chmod")
    installs = " ".join(
        f'{package}) for c in {" ".join(commands)}; do printf "#!/bin/sh\\n" > "{found.bin}/$c";'
        f' {chmod} +x "{found.bin}/$c"; done ;;'
        for package, commands in PROVIDES.items()
    )
    found.stub(
        "apt-get",
        f'echo "$*" >> "{found.apt_log}"\n'
        'if [ "$1" = install ]; then for p in "$@"; do case "$p" in '
        f"{installs} esac; done; fi",
    )
    return found


def test_nothing_is_installed_when_nothing_is_missing(machine: Machine) -> None:
    result = machine.run("test", "postgres")
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == []
    assert result.stdout == result.stderr == ""


def test_as_root_what_is_missing_is_installed_after_one_update(machine: Machine) -> None:
    machine.remove("msgfmt", "redis-server", "npm")
    result = machine.run("test")
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == [
        "update -qq",
        "install -y -qq --no-install-recommends gettext nodejs npm redis-server",
    ]
    assert "Installing system packages: gettext nodejs npm redis-server" in result.stdout
    # Installed: the next run finds everything.
    assert machine.run("test").returncode == 0
    assert len(machine.apt_calls()) == 2


def test_not_as_root_it_stops_at_once_with_the_one_command_to_run(machine: Machine) -> None:
    machine.remove("chromium", "msgfmt")
    result = machine.run("test", root=False)
    assert result.returncode == 1
    assert machine.apt_calls() == []
    assert (
        "  sudo apt-get update && sudo apt-get install -y --no-install-recommends gettext chromium"
        in result.stderr.splitlines()
    )


def test_the_demo_needs_gettext_but_not_the_browser_tests_tools(machine: Machine) -> None:
    machine.remove("chromium", "npm", "redis-server")
    assert machine.run("demo").returncode == 0
    assert machine.apt_calls() == []
    machine.remove("msgfmt")
    assert machine.run("demo").returncode == 0
    assert machine.apt_calls()[-1] == "install -y -qq --no-install-recommends gettext"


def test_fonts_postgres_and_the_venv_module_are_found_where_they_live(machine: Machine) -> None:
    (machine.root / "fonts").rmdir()
    (machine.root / "pg" / "initdb").unlink()
    shutil.rmtree(machine.root / "venv")
    machine.stub("python3", "exit 1")  # a Python without ensurepip (no python3-venv)
    result = machine.run("test", "postgres")
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls()[-1] == (
        "install -y -qq --no-install-recommends python3-venv fonts-liberation postgresql-15"
    )


def test_chromium_named_by_mfaportal_chromium_is_looked_for_there(machine: Machine) -> None:
    machine.remove("chromium")
    elsewhere = machine.root / "chrome"
    elsewhere.write_text("#!/bin/sh\n")
    elsewhere.chmod(0o755)
    assert machine.run("test", MFAPORTAL_CHROMIUM=str(elsewhere)).returncode == 0
    assert machine.apt_calls() == []


def test_without_apt_get_it_names_what_to_install(machine: Machine) -> None:
    machine.remove("apt-get", "msgfmt")
    result = machine.run("demo")
    assert result.returncode == 1
    assert "Missing system packages (Debian names): gettext." in result.stderr


def test_an_unknown_group_is_refused(machine: Machine) -> None:
    assert machine.run("everything").returncode == 2


def make_dry_run(*goals: str) -> list[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *goals],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("goals", "group"),
    [(("test",), "test"), (("demo",), "demo"), ((), "demo"), (("lint",), "base")],
)
def test_make_checks_the_system_packages_first(goals: tuple[str, ...], group: str) -> None:
    lines = make_dry_run(*goals)
    assert lines, "make printed nothing"
    assert lines[0].endswith(f"scripts/system-packages.sh {group}"), lines[:3]


def test_ci_uses_the_same_script_then_make_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/system-packages.sh test postgres" in ci
    assert ci.index("scripts/system-packages.sh") < ci.index("\nmake test")
    assert "apt-get install" not in ci  # one place installs: the script
