#!/bin/sh
# Set up and run the whole test suite (SQLite by default; set DATABASE_URL for
# PostgreSQL). Extra arguments go to pytest.
VENV_EXTRA=dev . "$(dirname "$0")/_venv.sh"
export TESTING=1
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
