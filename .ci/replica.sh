#!/bin/sh
# A real streaming replica for the replica tests: pg_basebackup from the local
# cluster (127.0.0.1:5432) into a new data directory, started as a hot standby on
# REPLICA_PORT, the tests marked `replica` run against both, and the standby is
# stopped and removed at the end, pass or fail.
#
#   REPLICA_DB        database the tests use on the primary (default consent_ci_replica)
#   REPLICA_PORT      port of the standby (default 5544)
#   REPLICA_DATA_DIR  its data directory (default: a new /tmp/consent_replica.*)
set -eu
cd "$(dirname "$0")/.."

PRIMARY_HOST=127.0.0.1
PRIMARY_PORT=5432
REPLICA_PORT="${REPLICA_PORT:-5544}"
REPLICA_DB="${REPLICA_DB:-consent_ci_replica}"
PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"
PGBIN="${PGBIN:-/usr/lib/postgresql/$PG_VERSION/bin}"
DATA="${REPLICA_DATA_DIR:-$(mktemp -d /tmp/consent_replica.XXXXXX)}"
PSQL="psql -h $PRIMARY_HOST -p $PRIMARY_PORT -U postgres -Atq"

# PostgreSQL refuses to run as root: the standby runs as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_replica() {
    if [ -f "$DATA/postmaster.pid" ]; then
        as_owner "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DATA"
}
trap stop_replica EXIT
trap 'exit 130' INT TERM

# --- the primary must allow streaming replication --------------------------------
WAL_LEVEL="$($PSQL -c 'SHOW wal_level')"
if [ "$WAL_LEVEL" = minimal ]; then
    # Needs a restart of the primary; ALTER SYSTEM keeps it across restarts.
    $PSQL -c "ALTER SYSTEM SET wal_level = 'replica'"
    $PSQL -c "ALTER SYSTEM SET max_wal_senders = 10"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main restart
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pg_isready -h $PRIMARY_HOST -p $PRIMARY_PORT -q && break; sleep 1
    done
fi
if [ "$($PSQL -c "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database)")" = 0 ]; then
    HBA="$($PSQL -c 'SHOW hba_file')"
    echo "host replication postgres 127.0.0.1/32 trust" >> "$HBA"
    $PSQL -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
fi

# --- the standby -------------------------------------------------------------------
mkdir -p "$DATA"
chown postgres "$DATA" 2>/dev/null || true
chmod 700 "$DATA"
echo "pg_basebackup into $DATA"
as_owner "$PGBIN/pg_basebackup" -h $PRIMARY_HOST -p $PRIMARY_PORT -U postgres \
    -D "$DATA" -R -X stream -c fast
# Debian keeps the configuration outside the data directory: give the standby its own.
cat > "$DATA/postgresql.conf" <<CONF
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
hot_standby = on
hot_standby_feedback = on
shared_buffers = 32MB
CONF
# A hot standby needs at least the primary's values of these.
for setting in max_connections max_worker_processes max_wal_senders \
        max_prepared_transactions max_locks_per_transaction; do
    echo "$setting = $($PSQL -c "SHOW $setting")" >> "$DATA/postgresql.conf"
done
: > "$DATA/pg_ident.conf"
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$DATA/pg_hba.conf"
chown postgres "$DATA/postgresql.conf" "$DATA/pg_hba.conf" "$DATA/pg_ident.conf" \
    2>/dev/null || true
as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start
test "$(psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -Atc 'SELECT pg_is_in_recovery()')" = t
echo "hot standby on port $REPLICA_PORT is streaming"

# --- the tests ---------------------------------------------------------------------
$PSQL -c "SELECT 1 FROM pg_database WHERE datname = '$REPLICA_DB'" | grep -q 1 \
    || $PSQL -c "CREATE DATABASE $REPLICA_DB"
DATABASE_URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/$REPLICA_DB" \
DATABASE_REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/$REPLICA_DB" \
    scripts/test.sh -n 0 -m replica -s tests/consent/test_replica.py
