#!/usr/bin/env bash
# redis-benchmark through ha's sharding proxy (the redis_shards example, `--serve`) and through
# twemproxy (nutcracker, distribution ketama, hash md5), in front of the same three redis-server
# processes, in the same run; prints a table of requests per second and the ratio ha / twemproxy.
#
# Usage: scripts/bench_redis_proxy.sh [requests] [clients]     (defaults: 100000 50)
# Env:   PIPELINES="1 16" (redis-benchmark -P values), ROUNDS=3 (runs per proxy, in turn; the
#        table shows each median), CACHE=1 (also ha with its L1, --cache),
#        THREADS="2" (also ha on a multi-threaded runtime of that many workers; "ha" is one thread),
#        PROXY_BIN=path (a built redis_shards example; otherwise built with cargo --release).
# Needs redis-server, redis-benchmark and nutcracker on the PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REQUESTS="${1:-100000}"
CLIENTS="${2:-50}"
PIPELINES="${PIPELINES:-1 16}"
ROUNDS="${ROUNDS:-3}"

for bin in redis-server redis-benchmark nutcracker; do
    command -v "$bin" >/dev/null || { echo "$bin not found on the PATH" >&2; exit 1; }
done

if [[ -z "${PROXY_BIN:-}" ]]; then
    cargo build --quiet --release --example redis_shards --features core,shard,cache
    PROXY_BIN="${CARGO_TARGET_DIR:-target}/release/examples/redis_shards"
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_ping() {
    for _ in $(seq 200); do
        if [[ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" == "PONG" ]]; then return 0; fi
        sleep 0.05
    done
    echo "nothing answers PING on port $1" >&2
    exit 1
}

SERVERS=()
for _ in 1 2 3; do
    port="$(free_port)"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
        >/dev/null 2>&1 &
    PIDS+=($!)
    wait_ping "$port"
    SERVERS+=("127.0.0.1:$port")
done

TW_PORT="$(free_port)"
{
    echo "pool:"
    echo "  listen: 127.0.0.1:$TW_PORT"
    echo "  hash: md5"
    echo "  distribution: ketama"
    echo "  redis: true"
    echo "  auto_eject_hosts: false"
    echo "  server_connections: 1"
    echo "  servers:"
    for s in "${SERVERS[@]}"; do echo "   - $s:1"; done
} >"$WORK/nutcracker.yml"
nutcracker -c "$WORK/nutcracker.yml" -s "$(free_port)" -a 127.0.0.1 -o "$WORK/nutcracker.log" &
PIDS+=($!)
wait_ping "$TW_PORT"

start_ha() {
    local port="$1"; shift
    "$PROXY_BIN" --serve --listen "127.0.0.1:$port" \
        --servers "$(IFS=,; echo "${SERVERS[*]}")" "$@" >"$WORK/ha-$port.log" 2>&1 &
    PIDS+=($!)
    wait_ping "$port"
}
HA_PORT="$(free_port)"
start_ha "$HA_PORT"
PROXIES=("twemproxy:$TW_PORT" "ha:$HA_PORT")
for threads in ${THREADS:-}; do
    port="$(free_port)"
    start_ha "$port" --threads "$threads"
    PROXIES+=("ha-${threads}t:$port")
done
if [[ "${CACHE:-0}" == "1" ]]; then
    HA_CACHE_PORT="$(free_port)"
    start_ha "$HA_CACHE_PORT" --cache
    PROXIES+=("ha+L1:$HA_CACHE_PORT")
fi

# requests per second of one test ("SET" or "GET") in redis-benchmark's -q output
rps() { awk -v t="$1:" '$1 == t && /requests per second/ { print $2 }'; }

# The median of a list of numbers.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "redis-benchmark -t set,get -n $REQUESTS -c $CLIENTS, median of $ROUNDS rounds run in turn through each proxy, 3 redis-server behind each ($(nproc) cores, load $(uptime | sed 's/.*load average: //'))"
printf '| %-8s | %-6s' "pipeline" "test"
for p in "${PROXIES[@]}"; do printf ' | %16s' "${p%%:*} req/s"; done
echo " | ha / twemproxy |"
printf '|%s|%s' "----------" "--------"
for _ in "${PROXIES[@]}"; do printf '|%s' "------------------:"; done
echo "|--------------:|"
for pipeline in $PIPELINES; do
    declare -A RESULT=()
    for _ in $(seq "$ROUNDS"); do
        for p in "${PROXIES[@]}"; do
            out="$(redis-benchmark -h 127.0.0.1 -p "${p##*:}" -t set,get -n "$REQUESTS" -c "$CLIENTS" \
                -P "$pipeline" -q 2>/dev/null | tr '\r' '\n')"
            RESULT["${p%%:*}/SET"]+=" $(echo "$out" | rps SET)"
            RESULT["${p%%:*}/GET"]+=" $(echo "$out" | rps GET)"
        done
    done
    for test in SET GET; do
        printf '| %-8s | %-6s' "-P $pipeline" "$test"
        for p in "${PROXIES[@]}"; do
            printf ' | %18s' "$(echo "${RESULT[${p%%:*}/$test]:-}" | median)"
        done
        ha="$(echo "${RESULT[ha/$test]:-}" | median)"; tw="$(echo "${RESULT[twemproxy/$test]:-}" | median)"
        printf ' | %13s |\n' "$(awk -v a="$ha" -v b="$tw" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }')"
    done
    unset RESULT
done
