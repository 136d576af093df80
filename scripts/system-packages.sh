#!/usr/bin/env bash
# The Debian packages a goal needs, checked before anything else runs; `make` and .ci/run
# both call this, so a fresh machine needs nothing by hand.
#
#   scripts/system-packages.sh base            # a virtual environment (python3-venv)
#   scripts/system-packages.sh demo            # make demo: + gettext (compiled translations)
#   scripts/system-packages.sh test            # make test: + Chromium, fonts, npm, redis-server
#   scripts/system-packages.sh test postgres   # .ci/run: + PostgreSQL 15
#
# What is missing is installed when this runs as root (one `apt-get update`, then one
# `apt-get install`); otherwise it stops at once, printing the one command to run.
set -euo pipefail

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
LIBERATION_FONTS=${LIBERATION_FONTS:-/usr/share/fonts/truetype/liberation}

needs=()
need() {
  local wanted have
  for wanted in "$@"; do
    for have in "${needs[@]+"${needs[@]}"}"; do
      [ "$have" = "$wanted" ] && continue 2
    done
    needs+=("$wanted")
  done
}

[ $# -gt 0 ] || set -- base
for group in "$@"; do
  case "$group" in
    base) need venv ;;
    demo) need venv gettext ;;
    test) need venv gettext chromium fonts npm redis ;;
    postgres) need postgres ;;
    *) echo "system-packages.sh: unknown group '$group' (base, demo, test, postgres)" >&2; exit 2 ;;
  esac
done

has() { command -v "$1" >/dev/null 2>&1; }

missing=()
for wanted in "${needs[@]}"; do
  case "$wanted" in
    # The project's own .venv, once made, no longer needs the system's venv module.
    venv) [ -x "$VENV/bin/python" ] || "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 \
            || missing+=(python3-venv) ;;
    gettext) has msgfmt || missing+=(gettext) ;;
    # The browser tests launch Debian's Chromium (tests/e2e/conftest.py), never a download.
    chromium) if [ -n "${MFAPORTAL_CHROMIUM:-}" ]; then [ -x "$MFAPORTAL_CHROMIUM" ]; else has chromium; fi \
            || missing+=(chromium) ;;
    # Text in the screenshots and in axe's contrast checks needs real fonts.
    fonts) [ -d "$LIBERATION_FONTS" ] || missing+=(fonts-liberation) ;;
    npm) has npm || missing+=(nodejs npm) ;;
    redis) has redis-server || missing+=(redis-server) ;;
    postgres) [ -x "$PGBIN/initdb" ] || missing+=(postgresql-15) ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if ! has apt-get; then
  echo "Missing system packages (Debian names): ${missing[*]}." >&2
  echo "Install them with your system's package manager, then run this again." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "Missing system packages: ${missing[*]}. Install them once, as root:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
