#!/usr/bin/env bash
# Run fraiday on this machine: Redis and a MongoDB-wire server (unless REDIS_URL or REDIS_HOST, and
# MONGODB_URI, name others), the API server, one worker per queue and the periodic scheduler, each on its
# own ports. The banner appears only once the API's /health and every worker's /readyz answer 200; if
# any part exits, this names it, shows the end of its log and stops the rest. Ctrl+C drains the server
# and the workers first, then stops Redis and MongoDB.
#
#   ./scripts/run-local.sh           set up (idempotent) and start; data and logs in .fraiday/
#   ./scripts/run-local.sh --reset   delete .fraiday/ (local data and logs) first, then start
#
# PORT sets the API port (default 8080); Redis, MongoDB and the workers' metrics ports are the first free
# ones from 6379, 27017 and 9100 (a part whose port is taken before it binds moves to the next one).
# FRAIDAY_LOCAL_STATE moves .fraiday/. fraiday's variables pass through.
# Exit status: 0 after a stop asked for (Ctrl+C, SIGTERM), 1 when a part failed, 2 for a bad argument.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'run-local: %s\n' "$*" >&2; }

reset=false
case "${1:-}" in
  "") ;;
  --reset) reset=true ;;
  -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) say "unknown argument '$1' (use --reset, or --help)"; exit 2 ;;
esac
[ $# -le 1 ] || { say "one argument at most (use --reset, or --help)"; exit 2; }

state="${FRAIDAY_LOCAL_STATE:-.fraiday}"
mkdir -p "$state"
state=$(cd "$state" && pwd)
# Every process started here inherits this lock, so a second run cannot share the data directories
# while anything of the first is still alive.
exec 9>>"$state/lock"
if ! flock -n 9; then
  say "$state is in use by another run-local.sh or by processes it left running:"
  sed 's/^/  /' "$state/pids" >&2 2>/dev/null || true
  exit 1
fi
if $reset; then
  # As root, PostgreSQL's data lives outside $state (the postgres user cannot enter it): remove it too.
  if [ -x .venv/bin/python ]; then .venv/bin/python -m tests.harness.mongo_server --dir "$state/mongo" --remove-data; fi
  find "$state" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +
  say "deleted local data and logs in $state"
fi
mkdir -p "$state/redis" "$state/mongo" "$state/logs"
logs="$state/logs"
: > "$state/pids"

./scripts/setup.sh
command -v curl > /dev/null || { say "curl is needed (apt-get install curl)"; exit 1; }

# --- the parts: name, pid and log of each, in start order -------------------------------------------
names=() pids=() part_logs=() part_ports=() part_commands=() moves=() running=false
launch() { # NAME LOG COMMAND...: in its own session, so a Ctrl+C reaches only this script, which stops the parts in order
  local name=$1 log=$2
  shift 2
  setsid "$@" > "$log" 2>&1 < /dev/null &
  names+=("$name") pids+=("$!") part_logs+=("$log")
  echo "$name $!" >> "$state/pids"
}
launch_on_port() { # NAME LOG FIRST_PORT COMMAND...: on the first free port from FIRST_PORT, {port} in COMMAND
  local name=$1 log=$2 first=$3
  shift 3
  pick_port "$first"
  launch "$name" "$log" "${@//\{port\}/$picked}"
  part_ports[${#pids[@]} - 1]=$picked
  part_commands[${#pids[@]} - 1]=$(printf '%q ' "$@")
}
move_part() { # INDEX: start the part again on the next free port; false when it did not exit for its port
  local i=$1 j command
  [ -n "${part_commands[$i]:-}" ] && ! $running && [ "${moves[$i]:-0}" -lt 5 ] || return 1
  grep -q 'already in use' "${part_logs[$i]}" || return 1
  say "${names[$i]}: port ${part_ports[$i]} was taken meanwhile; trying the next free one"
  eval "command=(${part_commands[$i]})"
  pick_port $((part_ports[$i] + 1))
  setsid "${command[@]//\{port\}/$picked}" > "${part_logs[$i]}" 2>&1 < /dev/null &
  pids[$i]=$! part_ports[$i]=$picked moves[$i]=$((${moves[$i]:-0} + 1))
  for j in "${!pids[@]}"; do echo "${names[$j]} ${pids[$j]}"; done > "$state/pids"
}
alive() { kill -0 "$1" 2> /dev/null; }

stop_requested=false force=false
on_signal() { if $stop_requested; then force=true; fi; stop_requested=true; }
trap on_signal INT TERM HUP

any_alive() { local pid; for pid in "$@"; do if alive "$pid"; then return 0; fi; done; return 1; }

wait_for_exit() { # SECONDS PID...: true when all exited in time; a second Ctrl+C cuts the wait short
  local deadline=$((SECONDS + $1))
  shift
  while any_alive "$@"; do
    if [ "$SECONDS" -ge "$deadline" ] || $force; then return 1; fi
    sleep 0.2
  done
}

stop_parts() { # SECONDS INDEX...: SIGTERM, then SIGKILL of the whole session after SECONDS
  local seconds=$1 i targets=()
  shift
  for i in "$@"; do
    if alive "${pids[$i]}"; then
      kill -TERM "${pids[$i]}" 2> /dev/null || true
      targets+=("${pids[$i]}")
    fi
  done
  [ ${#targets[@]} -gt 0 ] || return 0
  if ! wait_for_exit "$seconds" "${targets[@]}"; then
    for i in "$@"; do
      if alive "${pids[$i]}"; then
        say "${names[$i]} did not stop: killing it"
        kill -KILL -- "-${pids[$i]}" 2> /dev/null || true
      fi
    done
  fi
  for i in "$@"; do wait "${pids[$i]}" 2> /dev/null || true; done
}

stopped=false
stop_all() {
  if $stopped; then return; fi
  stopped=true
  local i apps=() data=()
  for i in "${!names[@]}"; do
    case "${names[$i]}" in redis | mongodb) data+=("$i") ;; *) apps+=("$i") ;; esac
  done
  if [ ${#apps[@]} -gt 0 ]; then
    say "stopping the server, workers and scheduler (running jobs get up to ${grace}s; Ctrl+C again to kill them)"
    stop_parts $((grace + 10)) "${apps[@]}"
  fi
  if [ ${#data[@]} -gt 0 ]; then stop_parts 15 "${data[@]}"; fi
  : > "$state/pids"
  say "stopped"
}
grace="${FRAIDAY_WORKER_GRACE_SECONDS:-25}"
trap stop_all EXIT

exited_part() { # prints the index of a part that is no longer running, if any
  local i
  for i in "${!pids[@]}"; do alive "${pids[$i]}" || { echo "$i"; return 0; }; done
  return 1
}

fail_part() { # INDEX: say which part exited, with the end of its log, stop everything, exit 1
  local i=$1 status=0
  wait "${pids[$i]}" 2> /dev/null || status=$?
  # Between the pick of a free port and the part's bind, another program may take it (two runs starting
  # at once): that part moves on, the rest stays.
  if [ "$status" != 0 ] && move_part "$i"; then return 0; fi
  say "${names[$i]} exited (status $status); the end of ${part_logs[$i]}:"
  tail -n 15 "${part_logs[$i]}" | sed 's/^/  | /' >&2
  stop_all
  exit 1
}

# --- ports -------------------------------------------------------------------------------------------
taken=() picked=
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
pick_port() { # FIRST: sets $picked to the first port from FIRST that is free and not handed out here
  local port=$1
  while [[ " ${taken[*]} " == *" $port "* ]] || ! port_free "$port"; do port=$((port + 1)); done
  taken+=("$port") picked=$port
}

wait_until() { # WHAT SECONDS COMMAND...: poll COMMAND while every part runs
  local what=$1 deadline=$((SECONDS + $2)) i
  shift 2
  until "$@" > /dev/null 2>&1; do
    $stop_requested && exit 0
    if i=$(exited_part); then fail_part "$i"; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$what did not answer within $(($2))s"
      exit 1
    fi
    sleep 0.2
  done
}

# --- Redis and MongoDB -------------------------------------------------------------------------------
if [ -z "${REDIS_URL:-}${REDIS_HOST:-}" ]; then
  launch_on_port redis "$logs/redis.log" 6379 redis-server --bind 127.0.0.1 --port '{port}' \
    --dir "$state/redis" --appendonly yes --save ""
  redis=$((${#pids[@]} - 1))
  say "starting Redis on 127.0.0.1:${part_ports[$redis]}"
  redis_answers() { redis-cli -p "${part_ports[$redis]}" ping; }
  wait_until "Redis" 30 redis_answers
  redis_port=${part_ports[$redis]}
  # Nothing uses this Redis yet, so any worker or scheduler registered in it was left by a run that did
  # not stop cleanly (killed, machine off): forget them, or `fraiday queues` counts workers that are gone.
  # A clean stop leaves only RQ's death records (kept 60 s), deleted too but not worth a word.
  read -r stale_workers stale_leader < <(redis-cli -p "$redis_port" EVAL "
    local found = {redis.call('SCARD', 'rq:workers'), redis.call('EXISTS', 'fraiday:scheduler:leader')}
    for _, pattern in ipairs(ARGV) do
      for _, key in ipairs(redis.call('KEYS', pattern)) do redis.call('DEL', key) end
    end
    return found" 0 'rq:workers' 'rq:workers:*' 'rq:worker:*' 'rq:scheduler:*' 'rq:scheduler-lock:*' \
    'fraiday:scheduler:leader' | paste -sd ' ')
  if [ "$stale_workers$stale_leader" != 00 ]; then
    leader_shown=
    [ "$stale_leader" = 0 ] || leader_shown=" and a scheduler leader"
    say "forgot $stale_workers worker registration(s)$leader_shown left by a run that did not stop cleanly"
  fi
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"
  redis_shown=$REDIS_URL
else
  redis_shown="yours (REDIS_URL / REDIS_HOST)"
fi
if [ -z "${MONGODB_URI:-}" ]; then
  # FerretDB on its own PostgreSQL cluster, the same server the tests run against.
  launch_on_port mongodb "$logs/ferretdb.log" 27017 .venv/bin/python -m tests.harness.mongo_server \
    --dir "$state/mongo" --port '{port}'
  mongo=$((${#pids[@]} - 1))
  say "starting FerretDB (MongoDB wire, on PostgreSQL) on 127.0.0.1:${part_ports[$mongo]}"
  # Its own line once it answers: a port that merely accepts connections may be another program's.
  mongo_answers() { grep -q "^mongodb://127.0.0.1:${part_ports[$mongo]} " "${part_logs[$mongo]}"; }
  wait_until "FerretDB" 120 mongo_answers
  mongo_port=${part_ports[$mongo]}
  export MONGODB_URI="mongodb://127.0.0.1:$mongo_port/api_service"
  mongo_shown=$MONGODB_URI
else
  mongo_shown="yours (MONGODB_URI)"
fi

# --- fraiday -----------------------------------------------------------------------------------------
export LOG_FORMAT="${LOG_FORMAT:-text}"
# Local conveniences, never defaults in production: a known API key, and webhooks to this machine.
if [ -n "${FRAIDAY_API_KEYS:-}" ]; then key_shown="yours (FRAIDAY_API_KEYS)"; else key_shown=local-dev-key; fi
export FRAIDAY_API_KEYS="${FRAIDAY_API_KEYS:-local-dev-key}"
export FRAIDAY_WEBHOOK_ALLOWLIST="${FRAIDAY_WEBHOOK_ALLOWLIST:-127.0.0.1,localhost}"
api_port="${PORT:-8080}"

say "starting the API server, one worker per queue and the scheduler (logs in $logs/)"
launch server "$logs/server.log" .venv/bin/fraiday server --host 127.0.0.1 --port "$api_port"
queues=(chat_workflow events semantic_layer)
workers=()
for queue in "${queues[@]}"; do
  launch_on_port "worker $queue" "$logs/worker-$queue.log" 9100 \
    .venv/bin/fraiday worker --queue "$queue" --concurrency 2 --metrics-port '{port}'
  workers+=($((${#pids[@]} - 1)))
done
launch scheduler "$logs/scheduler.log" .venv/bin/fraiday scheduler

answers_200() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" = 200 ]; }
wait_until "the API (http://127.0.0.1:$api_port/health)" 120 answers_200 "http://127.0.0.1:$api_port/health"
worker_ready() { answers_200 "http://127.0.0.1:${part_ports[$1]}/readyz"; }
for i in "${!queues[@]}"; do
  wait_until "worker ${queues[$i]} (/readyz)" 120 worker_ready "${workers[$i]}"
done
if i=$(exited_part); then fail_part "$i"; fi

if [ -n "${AI_SERVICE_URL:-}" ]; then
  ai_shown="$AI_SERVICE_URL"
else
  ai_shown="not configured: chat replies, suggestions and syncs fail (set AI_SERVICE_URL and SLACK_AI_TOKEN, restart)"
fi
workers_shown=""
for i in "${!queues[@]}"; do workers_shown+="${queues[$i]} :${part_ports[${workers[$i]}]}  "; done
running=true
cat << MSG
fraiday is running (Ctrl+C stops it):
  API         http://127.0.0.1:$api_port/api/v1   (docs: http://127.0.0.1:$api_port/docs)
  API key     $key_shown
  AI service  $ai_shown
  webhooks    may reach $FRAIDAY_WEBHOOK_ALLOWLIST (FRAIDAY_WEBHOOK_ALLOWLIST)
  workers     ${workers_shown}(metrics, /livez, /readyz); periodic scheduler
  Redis       $redis_shown
  MongoDB     $mongo_shown
  logs        $logs/
  reset       stop, then ./scripts/run-local.sh --reset (deletes local data and logs)
MSG

until $stop_requested; do
  if i=$(exited_part); then fail_part "$i"; fi
  sleep 0.5 || true # Ctrl+C interrupts the sleep too
done
stop_all
exit 0
