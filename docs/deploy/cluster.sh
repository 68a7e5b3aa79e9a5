#!/usr/bin/env bash
# Flowyard on several processes: one API, two schedulers, two Celery workers, on PostgreSQL.
# Tested by tests/e2e/test_deploy_recipe.py exactly as written. Every value can be overridden
# from the environment; on several machines run the same commands with the same environment.
set -euo pipefail

export FLOWYARD_DATABASE_URL="${FLOWYARD_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/flowyard}"
export FLOWYARD_EXECUTOR=celery
export FLOWYARD_BROKER_URL="${FLOWYARD_BROKER_URL:-redis://127.0.0.1:6379/0}"  # or amqp://guest:guest@127.0.0.1:5672//
ROOT="${FLOWYARD_CLUSTER_DIR:-$HOME/flowyard-cluster}"
API_PORT="${API_PORT:-8080}"
SCHEDULER_PORTS="${SCHEDULER_PORTS:-8081 8082}"
WORKERS="${WORKERS:-worker-1 worker-2}"
FLOWYARD="${FLOWYARD:-flowyard}"

mkdir -p "$ROOT"
: > "$ROOT/pids"
start() {  # name, then the flowyard command line
  local name=$1; shift
  $FLOWYARD "$@" --data-dir "$ROOT/$name" >"$ROOT/$name.log" 2>&1 &
  echo "$! $name" >> "$ROOT/pids"
}

# 1. The API first: on an empty database it migrates and writes $ROOT/api/credentials.json.
start api api --host 127.0.0.1 --port "$API_PORT"
until curl -fsS "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1; do sleep 0.2; done

# 2. Schedulers: one leads (a lease in the database), the others stand by.
i=0
for port in $SCHEDULER_PORTS; do
  i=$((i + 1))
  start "scheduler-$i" scheduler --host 127.0.0.1 --port "$port"
done

# 3. Workers: each runs the resource groups (`--queues`) it is given, `--concurrency` at a time.
for name in $WORKERS; do
  start "$name" worker --name "$name" --queues default --concurrency 4
done

for port in $SCHEDULER_PORTS; do
  until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.2; done
done
for name in $WORKERS; do
  until $FLOWYARD worker --ping --name "$name" --ping-timeout 2 >/dev/null 2>&1; do sleep 0.5; done
done
echo "Flowyard cluster up: API http://127.0.0.1:$API_PORT, credentials $ROOT/api/credentials.json"
echo "Stop it with: kill \$(cut -d' ' -f1 $ROOT/pids)"
