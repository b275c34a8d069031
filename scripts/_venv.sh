# Shared set-up: a virtual environment in .venv with the project installed.
# Re-installs only when pyproject.toml changed. Set VENV_EXTRA=dev for test tools.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRA="${VENV_EXTRA:-}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
STAMP=".venv/.installed${EXTRA:+-$EXTRA}"
HASH="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
    if [ -n "$EXTRA" ]; then
        .venv/bin/python -m pip install --quiet -e ".[$EXTRA]"
    else
        .venv/bin/python -m pip install --quiet -e .
    fi
    echo "$HASH" > "$STAMP"
fi
