#!/usr/bin/env bash
# Server memory per idle member: starts a server, reads its VmRSS, connects N members that
# join and subscribe (`chatroom bench`, one publisher sending one message a second), waits
# until all N are connected and the join storm has drained (the server's RSS steady and its
# CPU quiet), reads VmRSS again and prints (after - before) / N. Loopback only; bounded in
# time (--max-secs); ends only the two processes it started.
#
#   cargo build --release --locked
#   scripts/idle-memory.sh 2000            # N members, port 7850
#   CHATROOM_BIN=/path/to/chatroom scripts/idle-memory.sh 4000 7851
#
# Extra server flags can be passed in SERVE_FLAGS, e.g. SERVE_FLAGS="--history 0".
set -euo pipefail

N=${1:?usage: idle-memory.sh MEMBERS [PORT]}
PORT=${2:-7850}
BIN=${CHATROOM_BIN:-target/release/chatroom}
MAX_SECS=${MAX_SECS:-900}
# Seconds between samples, and how many steady samples in a row count as drained.
STEP=${STEP:-3}
STEADY=${STEADY:-4}
# Percent of a core under which the server counts as quiet. One message a second to N
# members costs more as N grows: at 10,000 members it is about 20 %, so BUSY=40 there.
BUSY=${BUSY:-10}

ulimit -n "$(ulimit -Hn)"
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release --locked)" >&2; exit 1; }

server_pid=
bench_pid=
cleanup() {
    [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    [ -n "$bench_pid" ] && wait "$bench_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Established TCP connections whose local port is $PORT (the server's side of each).
established() {
    local hex
    hex=$(printf '%04X' "$PORT")
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "01" { n++ } END { print n + 0 }' /proc/net/tcp
}

# shellcheck disable=SC2086
"$BIN" serve --db :memory: --listen "127.0.0.1:$PORT" --rate-limit 0 \
    --queue-capacity 65536 --max-connections $((N + 100)) ${SERVE_FLAGS:-} \
    >/tmp/idle-memory-serve.$PORT.log 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done
sleep 2
before=$(rss_kib "$server_pid")

"$BIN" bench "127.0.0.1:$PORT" --clients "$N" --publishers 1 --rate 1 \
    --duration "${MAX_SECS}s" --json >/tmp/idle-memory-bench.$PORT.log 2>&1 &
bench_pid=$!

hz=$(getconf CLK_TCK)
started=$SECONDS
steady=0
last_rss=0
last_cpu=$(cpu_ticks "$server_pid")
after=
while [ $((SECONDS - started)) -lt "$MAX_SECS" ]; do
    sleep "$STEP"
    kill -0 "$bench_pid" 2>/dev/null || { echo "the bench ended early:" >&2; cat /tmp/idle-memory-bench.$PORT.log >&2; exit 1; }
    rss=$(rss_kib "$server_pid")
    cpu=$(cpu_ticks "$server_pid")
    conns=$(established)
    # Percent of one core over the step.
    busy=$(( (cpu - last_cpu) * 100 / (hz * STEP) ))
    echo "t=$((SECONDS - started))s members=$conns rss=${rss}KiB cpu=${busy}%" >&2
    delta=$(( rss > last_rss ? rss - last_rss : last_rss - rss ))
    # Steady: every member in, RSS within 1 % of the last sample, the server under BUSY % busy.
    if [ "$conns" -ge "$N" ] && [ $((delta * 100)) -le "$rss" ] && [ "$busy" -lt "$BUSY" ]; then
        steady=$((steady + 1))
    else
        steady=0
    fi
    last_rss=$rss
    last_cpu=$cpu
    if [ "$steady" -ge "$STEADY" ]; then after=$rss; break; fi
done
[ -n "$after" ] || { echo "not steady within ${MAX_SECS}s" >&2; exit 1; }

echo "members=$N before=${before}KiB after=${after}KiB per_member=$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN { printf "%.1f", (a - b) / n }')KiB steady_after=$((SECONDS - started))s"
