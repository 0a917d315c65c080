# Shared set-up for scripts/demo and scripts/test (sourced, not run): a virtual environment in .venv with the
# project installed in editable mode. Needs Python 3.11+ (python3.13/3.12/3.11 or python3 on PATH).
set -euo pipefail

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

ensure_venv() {
  # $1: pip extras, e.g. "test,dev"
  local extras=$1 venv=${VENV:-.venv}
  if [ ! -x "$venv/bin/python" ]; then
    "$(pick_python)" -m venv "$venv"
  fi
  local stamp="$venv/.installed-$extras" hash
  hash=$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    local log="$venv/pip-install.log"
    echo "Installing Python packages into $venv (log: $log)"
    if ! { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
      "$venv/bin/python" -m pip install --disable-pip-version-check -e ".[$extras]"; } >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      return 1
    fi
    echo "$hash" >"$stamp"
  fi
  PY="$(cd "$venv" && pwd)/bin/python"
  export PY
}

apt_install() {
  # Install Debian packages when missing (root or sudo needed); a no-op when all are present.
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
