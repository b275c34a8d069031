# Shared set-up: a virtual environment in .venv with the project installed from the
# hashed lock file (requirements/runtime.lock, or requirements/dev.lock with
# VENV_EXTRA=dev). Re-installs only when the lock or pyproject.toml changed.
# Regenerate the locks with scripts/lock.sh.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRA="${VENV_EXTRA:-}"
LOCK="requirements/${EXTRA:-runtime}.lock"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
STAMP=".venv/.installed-${EXTRA:-runtime}"
HASH="$(cat pyproject.toml "$LOCK" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
    # Every package, pip and setuptools included, at its locked version and hash.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        --require-hashes -r "$LOCK"
    # The project itself, built with the locked setuptools, adding nothing.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        --no-deps --no-build-isolation -e .
    echo "$HASH" > "$STAMP"
fi
