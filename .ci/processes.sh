#!/bin/sh
# Real processes, as production runs them: gunicorn, a Celery worker on Redis,
# Celery beat and the webhook dispatcher, each its own process, against PostgreSQL
# (its own database); then .ci/smoke.py checks them end to end over HTTP. Every
# process is stopped, and the database dropped, at the end, pass or fail.
#
#   PROCESSES_DB   database (default consent_ci_processes, dropped and re-created)
#   WEB_PORT       gunicorn (default 8103)     HOOK_PORT  webhook receiver (8104)
#   REDIS_URL      broker and cache (default redis://127.0.0.1:6379/5, flushed)
set -eu
cd "$(dirname "$0")/.."

DB="${PROCESSES_DB:-consent_ci_processes}"
WEB_PORT="${WEB_PORT:-8103}"
HOOK_PORT="${HOOK_PORT:-8104}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/5}"
REDIS_DB="${REDIS_URL##*/}"
RUN="$(mktemp -d /tmp/consent_processes.XXXXXX)"
PSQL="psql -h 127.0.0.1 -p 5432 -U postgres -Atq"
PY=.venv/bin/python
PIDS=""

cleanup() {
    status=$?
    for pid in $PIDS; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $PIDS; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$status" != 0 ]; then
        for log in "$RUN"/*.log; do
            [ -f "$log" ] || continue
            echo "---- tail of $(basename "$log")"; tail -n 40 "$log"
        done
    fi
    $PSQL -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -u "$REDIS_URL" flushdb >/dev/null 2>&1 || true
    rm -rf "$RUN"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$WEB_PORT" "$HOOK_PORT"; do
    if ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN; then
        echo "port $port is already in use; set WEB_PORT / HOOK_PORT" >&2
        exit 1
    fi
done

if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save "" >/dev/null
    for _ in 1 2 3 4 5; do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -u "$REDIS_URL" flushdb >/dev/null

$PSQL -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
$PSQL -c "CREATE DATABASE $DB" >/dev/null

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export CELERY_BROKER_URL="$REDIS_URL"
export CACHE_URL="$REDIS_URL"
export MESSAGE_SENDER=file
export MESSAGE_FILE_DIR="$RUN/messages"
export SITE_BASE_URL="http://127.0.0.1:$WEB_PORT"
export ALLOWED_HOSTS="127.0.0.1,localhost"
export DEBUG=0
export DB_CONN_MAX_AGE=60
unset TESTING DATABASE_REPLICA_URL 2>/dev/null || true

echo "set-up: migrate, demo data, a sending system with a webhook, a stale one"
$PY manage.py migrate --no-input -v 0
$PY manage.py seed_demo >/dev/null
API_KEY="$($PY manage.py create_api_client --name smoke-gateway --channels sms,email | tail -1)"
HOOK_SECRET="$($PY manage.py create_webhook --client smoke-gateway --after 0 \
    --url "http://127.0.0.1:$HOOK_PORT/hooks/consent" | tail -1)"
$PY manage.py create_api_client --name stale-dialer --channels voice >/dev/null
$PY manage.py shell -v 0 -c "
from datetime import timedelta
from django.utils import timezone
from consent.models import ApiClient, SenderFeedPosition
SenderFeedPosition.objects.create(
    client=ApiClient.objects.get(name='stale-dialer'),
    read_at=timezone.now() - timedelta(hours=1),
)"
UNSUBSCRIBE_URL="$($PY manage.py unsubscribe_link --customer DEMO0003 --channel sms --topic car_loan)"

echo "start: webhook receiver, gunicorn, celery worker, celery beat, webhook dispatcher"
$PY .ci/webhook_receiver.py "$HOOK_PORT" "$HOOK_SECRET" "$RUN/hooks.jsonl" \
    >"$RUN/receiver.log" 2>&1 &
PIDS="$PIDS $!"
.venv/bin/gunicorn config.wsgi --bind "127.0.0.1:$WEB_PORT" --worker-class gthread \
    --workers 2 --threads 4 --timeout 60 --graceful-timeout 5 \
    >"$RUN/gunicorn.log" 2>&1 &
PIDS="$PIDS $!"
.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 \
    --queues fast,celery,housekeeping \
    --hostname "smoke@%h" >"$RUN/worker.log" 2>&1 &
PIDS="$PIDS $!"
.venv/bin/celery -A config beat --loglevel=INFO --schedule "$RUN/beat-schedule" \
    --pidfile= >"$RUN/beat.log" 2>&1 &
PIDS="$PIDS $!"
$PY manage.py webhook_dispatcher --interval 2 >"$RUN/dispatcher.log" 2>&1 &
PIDS="$PIDS $!"

for _ in $(seq 1 60); do
    curl -fsS -o /dev/null "http://127.0.0.1:$WEB_PORT/api/schema/" 2>/dev/null && break
    sleep 1
done
for _ in $(seq 1 60); do
    grep -q "ready" "$RUN/worker.log" 2>/dev/null && break
    sleep 1
done

echo "smoke test over HTTP"
SMOKE_BASE_URL="http://127.0.0.1:$WEB_PORT" \
SMOKE_API_KEY="$API_KEY" \
SMOKE_HOOK_FILE="$RUN/hooks.jsonl" \
SMOKE_UNSUBSCRIBE_URL="$UNSUBSCRIBE_URL" \
SMOKE_MESSAGE_DIR="$RUN/messages" \
SMOKE_DATABASE_URL="$DATABASE_URL" \
SMOKE_WORKER_LOG="$RUN/worker.log" \
    $PY .ci/smoke.py
