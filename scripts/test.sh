#!/bin/sh
# Set up and run the whole test suite (SQLite by default; set DATABASE_URL for
# PostgreSQL). Extra arguments go to pytest.
. "$(dirname "$0")/_venv.sh" dev
export TESTING=1
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
