#!/usr/bin/env python3
"""Failover timings of a chatroom cluster, over JSON-RPC on HTTP POST (standard library only).

Members sit on every chatroom node, each polling with its cursor; one publisher on a node
that survives sends in a closed loop (the next chat_send once the last is answered). Then
one process is killed with SIGKILL:

  --kill node    the first chatroom node (its members move to the next node, with a new
                 session and their last seq as the cursor);
  --kill leader  the nats-server leading the default room's stream (found on /jsz).

It prints when sends were acknowledged again, the longest time without an acknowledgement,
the errors the publisher saw, when every member had caught up (held every message acked up
to the first acknowledgement after the kill), and, after the traffic stops, whether every
member holds every acknowledged message sent after it joined, once each (gap-free).
Started by scripts/cluster-bench.sh, which starts and kills the cluster itself.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

ROOM = "#general"


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code} {message}")
        self.code = code


def call(url, method, timeout, **params):
    """One JSON-RPC call over HTTP; the result, or RpcError, or OSError when nothing answers."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        reply = json.load(answer)
    if "error" in reply:
        raise RpcError(reply["error"]["code"], reply["error"]["message"])
    return reply["result"]


def now():
    return time.monotonic()


class Publisher(threading.Thread):
    def __init__(self, url, stop):
        super().__init__(daemon=True)
        self.url, self.stop = url, stop
        self.acks = []  # (seq, time answered, time sent)
        self.errors = []  # (time, what)
        self.lock = threading.Lock()

    def run(self):
        session = call(self.url, "chat_join", 10, name="publisher")["session"]
        k = 0
        while not self.stop.is_set():
            k += 1
            started = now()
            try:
                seq = call(self.url, "chat_send", 10, session=session, text=f"m{k}")["seq"]
                with self.lock:
                    self.acks.append((seq, now(), started))
            except RpcError as err:
                with self.lock:
                    self.errors.append((now(), f"{str(err)[:60]} (after {now() - started:.1f} s)"))
                if err.code == 1005:  # the session is gone: a new one
                    session = call(self.url, "chat_join", 10, name="publisher")["session"]
            except OSError as err:
                with self.lock:
                    self.errors.append((now(), f"{type(err).__name__}: {str(err)[:60]}"))
                self.stop.wait(0.01)  # do not spin on a refused connection

    def acked(self):
        with self.lock:
            return list(self.acks)


class Member(threading.Thread):
    def __init__(self, name, nodes, home, dead, stop):
        super().__init__(daemon=True)
        self.name, self.nodes, self.node, self.dead, self.stop = name, nodes, home, dead, stop
        self.home = home
        self.received = {}  # message seq -> time first received
        self.dups = 0
        self.cursor = None
        self.joined_at_seq = None
        self.reconnected_at = None  # time the new session was made after a failure
        self.failed_at = None
        self.poll_errors = []
        self.lock = threading.Lock()
        self.ready = threading.Event()

    def enter(self):
        answer = call(self.nodes[self.node], "chat_join", 10, name=self.name)
        if self.cursor is None:
            self.cursor = answer["last_seq"]
            self.joined_at_seq = answer["last_seq"]
        return answer["session"]

    def run(self):
        session = self.enter()
        self.ready.set()
        while not self.stop.is_set():
            try:
                events = call(self.nodes[self.node], "chat_poll", 10, session=session,
                              timeout_ms=1000, cursors={ROOM: self.cursor})
            except RpcError as err:
                self.poll_errors.append((now(), str(err)))
                if err.code == 1005:
                    session = self.enter()
                continue
            except OSError as err:
                # The node is gone: a new session on the next live node, same cursor.
                if self.failed_at is None:
                    self.failed_at = now()
                self.poll_errors.append((now(), f"{type(err).__name__}: {err}"))
                self.node = (self.node + 1) % len(self.nodes)
                while self.node in self.dead:
                    self.node = (self.node + 1) % len(self.nodes)
                try:
                    session = self.enter()
                    self.reconnected_at = now()
                except (OSError, RpcError) as err2:
                    self.poll_errors.append((now(), f"rejoin: {err2}"))
                    self.stop.wait(0.05)
                continue
            t = now()
            with self.lock:
                for event in events:
                    if event["room"] != ROOM:
                        continue
                    seq = event["seq"]
                    if seq <= self.cursor:
                        self.dups += 1
                        continue
                    self.cursor = seq
                    if event["kind"] == "message" and event["from"]["name"].startswith("publisher"):
                        self.received[seq] = t

    def caught_up_at(self, seqs):
        """When this member first held every seq of seqs, or None."""
        with self.lock:
            times = [self.received.get(s) for s in seqs if s > self.joined_at_seq]
        if any(t is None for t in times):
            return None
        return max(times, default=None)

    def missing(self, seqs):
        with self.lock:
            return [s for s in seqs if s > self.joined_at_seq and s not in self.received]


def stream_leader(monitors):
    """The index of the monitor whose server leads the default room's stream, or None."""
    stream = "CHATROOM_R_" + ROOM.encode().hex()
    for monitor in monitors:
        try:
            with urllib.request.urlopen(f"{monitor}/jsz?accounts=true&streams=true", timeout=2) as r:
                jsz = json.load(r)
        except OSError:
            continue
        for account in jsz.get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail["name"] == stream and detail.get("cluster", {}).get("leader"):
                    leader = detail["cluster"]["leader"]
                    names = []
                    for m in monitors:
                        try:
                            with urllib.request.urlopen(f"{m}/varz", timeout=2) as r:
                                names.append(json.load(r)["server_name"])
                        except OSError:
                            names.append(None)
                    return names.index(leader) if leader in names else None
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", required=True, help="chatroom nodes' http:// URLs, comma-separated")
    parser.add_argument("--node-pids", required=True, help="their PIDs, same order")
    parser.add_argument("--nats-monitors", default="", help="nats-servers' monitoring URLs")
    parser.add_argument("--nats-pids", default="", help="their PIDs, same order")
    parser.add_argument("--kill", choices=["node", "leader"], required=True)
    parser.add_argument("--members-per-node", type=int, default=10)
    parser.add_argument("--before", type=float, default=3.0, help="seconds of traffic before the kill")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of traffic after recovery")
    parser.add_argument("--wait", type=float, default=30.0, help="longest wait for recovery")
    args = parser.parse_args()
    nodes = [u.rstrip("/") + "/" for u in args.nodes.split(",")]
    node_pids = [int(p) for p in args.node_pids.split(",")]
    stop = threading.Event()  # the publisher's
    members_stop = threading.Event()
    dead = set()

    members = [Member(f"m{n}-{i}", nodes, n, dead, members_stop)
               for n in range(len(nodes)) for i in range(args.members_per_node)]
    for m in members:
        m.start()
    for m in members:
        if not m.ready.wait(20):
            sys.exit(f"{m.name} did not join")
    # The publisher sits on a node that survives: the second one (the first is killed).
    publisher = Publisher(nodes[1], stop)
    publisher.start()
    time.sleep(args.before)  # traffic before the kill (a measurement window, not a wait)

    if args.kill == "node":
        victim = "chatroom node 0"
        dead.add(0)
        t_kill = now()
        os.kill(node_pids[0], signal.SIGKILL)
    else:
        monitors = args.nats_monitors.split(",")
        leader = stream_leader(monitors)
        if leader is None:
            sys.exit("no leader found for the stream")
        try:
            with urllib.request.urlopen(f"{monitors[leader]}/connz", timeout=2) as r:
                clients = json.load(r)["num_connections"]
        except OSError:
            clients = "?"
        victim = f"nats-server {leader} (the stream's leader, {clients} client connections)"
        t_kill = now()
        os.kill(int(args.nats_pids.split(",")[leader]), signal.SIGKILL)

    acked_before = publisher.acked()
    # Wait (bounded) for a send acknowledged after the kill, then for everyone to catch up.
    deadline = t_kill + args.wait
    first_after = None
    while now() < deadline and first_after is None:
        # The first send made after the kill and acknowledged.
        first_after = next(((s, t) for s, t, sent in publisher.acked() if sent > t_kill), None)
        stop.wait(0.01)
    if first_after is None:
        stop.set()
        members_stop.set()
        sys.exit(f"no send was acknowledged within {args.wait} s of killing {victim}")
    target = [s for s, _, _ in publisher.acked() if s <= first_after[0]]
    caught = {}
    while now() < deadline and len(caught) < len(members):
        for m in members:
            if m.name not in caught:
                t = m.caught_up_at(target)
                if t is not None:
                    caught[m.name] = t
        stop.wait(0.01)
    time.sleep(args.after)  # traffic after recovery (a measurement window)
    stop.set()
    publisher.join(15)
    acks = publisher.acked()
    all_seqs = [s for s, _, _ in acks]
    # Drain: every member should end up holding every acknowledged message (bounded wait).
    drain_end = now() + 15
    while now() < drain_end and any(m.missing(all_seqs) for m in members):
        time.sleep(0.05)
    members_stop.set()

    times = [t for _, t, _ in acks]
    gaps = [b - a for a, b in zip(times, times[1:])]
    longest = max(gaps, default=0)
    longest_at = times[gaps.index(longest)] - t_kill if gaps else 0
    errors_after = [(t - t_kill, e) for t, e in publisher.errors if t >= t_kill]
    moved = [m for m in members if m.home == 0] if args.kill == "node" else []
    report = {
        "killed": victim,
        "members": len(members),
        "sends_acked": len(acks),
        "acked_before_kill": len(acked_before),
        "send_rate_per_s": round(len(acks) / (times[-1] - times[0]), 1) if len(times) > 1 else None,
        "first_ack_of_a_send_after_kill_ms": round((first_after[1] - t_kill) * 1000, 1),
        "longest_ack_gap_ms": round(longest * 1000, 1),
        "longest_ack_gap_ends_ms_after_kill": round((longest_at + longest) * 1000, 1),
        "median_ack_gap_ms": round(sorted(gaps)[len(gaps) // 2] * 1000, 2) if gaps else None,
        "publisher_errors_after_kill": len(errors_after),
        "publisher_errors": [f"{t * 1000:.0f} ms: {e}" for t, e in errors_after[:5]],
        "all_caught_up_ms": (round((max(caught.values()) - t_kill) * 1000, 1)
                             if len(caught) == len(members) else None),
        "moved_members_caught_up_ms": (round((max(caught[m.name] for m in moved) - t_kill) * 1000, 1)
                                       if moved and all(m.name in caught for m in moved) else None),
        "moved_members_rejoined_ms": (round((max(m.reconnected_at for m in moved) - t_kill) * 1000, 1)
                                      if moved and all(m.reconnected_at for m in moved) else None),
        "stayed_members_caught_up_ms": (round((max(t for n, t in caught.items()
                                                   if n not in {m.name for m in moved}) - t_kill) * 1000, 1)
                                        if len(caught) == len(members) else None),
        "caught_up_ms_by_node": [
            (round((max(caught[m.name] for m in members if m.home == n) - t_kill) * 1000, 1)
             if all(m.name in caught for m in members if m.home == n) else None)
            for n in range(len(nodes))],
        "members_missing_messages": sum(1 for m in members if m.missing(all_seqs)),
        "messages_missing": sum(len(m.missing(all_seqs)) for m in members),
        "duplicates_dropped": sum(m.dups for m in members),
        "member_poll_errors": sum(len(m.poll_errors) for m in members),
    }
    print(json.dumps(report))
    for key, value in report.items():
        print(f"  {key:38} {value}", file=sys.stderr)
    sys.exit(0 if report["messages_missing"] == 0 else 3)


if __name__ == "__main__":
    main()
