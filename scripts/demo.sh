#!/bin/sh
# Set up and run the site on the embedded default (SQLite, Celery eager) with demo data.
. "$(dirname "$0")/_venv.sh"
PORT="${PORT:-8000}"
# Links in demo messages (sign-in, unsubscribe, confirmation) point to this server.
export SITE_BASE_URL="${SITE_BASE_URL:-http://127.0.0.1:$PORT}"
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
echo
echo "Portal:      http://127.0.0.1:$PORT/"
echo "Admin:       http://127.0.0.1:$PORT/admin/"
echo "API docs:    http://127.0.0.1:$PORT/api/docs/"
echo "One-time codes and messages are printed in this terminal."
echo
exec .venv/bin/python manage.py runserver "127.0.0.1:$PORT"
