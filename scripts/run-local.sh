#!/usr/bin/env bash
# Set everything up (idempotently) and run fraiday locally: Redis and a MongoDB-wire server when none is
# configured, then the API server and one worker per queue. Ctrl+C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

state=.fraiday
mkdir -p "$state/redis" "$state/mongo" "$state/logs"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -z "${REDIS_URL:-}${REDIS_HOST:-}" ]; then
  port=6379; while ! port_free "$port"; do port=$((port + 1)); done
  redis-server --bind 127.0.0.1 --port "$port" --dir "$state/redis" --appendonly yes --save "" \
    > "$state/logs/redis.log" 2>&1 &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$port/0"
fi
if [ -z "${MONGODB_URI:-}" ]; then
  port=27017; while ! port_free "$port"; do port=$((port + 1)); done
  # FerretDB on its own PostgreSQL cluster, the same server the tests run against.
  .venv/bin/python -m tests.harness.mongo_server --dir "$state/mongo" --port "$port" \
    > "$state/logs/ferretdb.log" 2>&1 &
  pids+=($!)
  export MONGODB_URI="mongodb://127.0.0.1:$port/api_service"
fi
export LOG_FORMAT="${LOG_FORMAT:-text}"
# Local conveniences, never defaults in production: a known API key, and webhooks to this machine.
export FRAIDAY_API_KEYS="${FRAIDAY_API_KEYS:-local-dev-key}"
export FRAIDAY_WEBHOOK_ALLOWLIST="${FRAIDAY_WEBHOOK_ALLOWLIST:-127.0.0.1,localhost}"
port="${PORT:-8080}"
sleep 1

.venv/bin/fraiday server --port "$port" > "$state/logs/server.log" 2>&1 &
pids+=($!)
for queue in chat_workflow events semantic_layer; do
  .venv/bin/fraiday worker --queue "$queue" --concurrency 2 > "$state/logs/worker-$queue.log" 2>&1 &
  pids+=($!)
done

cat <<MSG
fraiday is running:
  API        http://127.0.0.1:$port   (try: curl http://127.0.0.1:$port/health)
  Redis      $REDIS_URL
  MongoDB    $MONGODB_URI
  logs       $state/logs/
Press Ctrl+C to stop.
MSG
wait
