#!/bin/sh
# Regenerate the hashed lock files from pyproject.toml (run after changing a
# dependency there, commit the result): requirements/dev.lock (runtime and the
# `dev` extra, for tests and CI) and requirements/runtime.lock (what production and
# the demo install), pinned to the same versions. Needs network access to PyPI.
# Pass --upgrade to move every pin to the newest version the bounds allow.
set -eu
VENV_EXTRA=dev . "$(dirname "$0")/_venv.sh"
COMMON="--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url"
# shellcheck disable=SC2086
.venv/bin/pip-compile $COMMON "$@" --extra dev -o requirements/dev.lock pyproject.toml
# shellcheck disable=SC2086
.venv/bin/pip-compile $COMMON -c requirements/dev.lock -o requirements/runtime.lock pyproject.toml
echo "Locked: requirements/dev.lock, requirements/runtime.lock"
