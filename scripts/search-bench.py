#!/usr/bin/env python3
"""Search speed over a large history: starts `chatroom serve` (the binary given, default
target/release/chatroom) on a free loopback port with a fresh SQLite file in a temp dir,
fills one room with N messages over HTTP (JSON-RPC batches of 16, rate limit off), then
times `chat_search` for a few queries, each asked REPEAT times, and prints the median and
worst in ms with the number of hits. Also reports how long the fill took (the write path
with the index's triggers). Bounded: N at most 1,000,000, every call with a 30 s timeout;
the server is killed by its PID at the end.

    scripts/search-bench.py [--bin PATH] [--messages 100000] [--repeat 20] [--db FILE]
"""
import argparse, json, os, random, signal, socket, statistics, subprocess, sys, tempfile, time
import urllib.request

WORDS = ("deploy build green red ship review merge lunch coffee tests flaky night pager "
         "rollback canary staging release branch ticket").split()

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def call(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/chatroom")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--db", help="the SQLite file to use (kept) instead of a fresh one")
    a = ap.parse_args()
    n = min(a.messages, 1_000_000)
    work = tempfile.mkdtemp(prefix="chatroom-search-bench-")
    port = free_port()
    server = subprocess.Popen([a.bin, "serve", "--listen", f"127.0.0.1:{port}", "--rate-limit", "0",
                               "--db", a.db or os.path.join(work, "chat.db"), "--max-batch", "16"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close(); break
            except OSError:
                if time.time() > deadline: sys.exit("server did not start")
                time.sleep(0.05)
        # One member writes every line: another, never polling, would fill its queue and
        # be put out as too slow.
        sessions = {"alice": call(url, {"jsonrpc": "2.0", "id": 1, "method": "chat_join",
                                        "params": {"name": "alice"}})["result"]["session"]}
        rng = random.Random(7)
        start = time.time()
        sent = 0
        while sent < n:
            batch = []
            for i in range(min(16, n - sent)):
                who = "alice"
                text = " ".join(rng.choice(WORDS) for _ in range(8)) + f" line {sent + i}"
                batch.append({"jsonrpc": "2.0", "id": i, "method": "chat_send",
                              "params": {"session": sessions[who], "text": text}})
            for answer in call(url, batch):
                if "error" in answer: sys.exit(f"send refused: {answer['error']}")
            sent += len(batch)
        fill = time.time() - start
        print(f"filled {n} messages in {fill:.1f} s ({n / fill:.0f} messages/s over HTTP)")
        queries = ["deploy", "\"rollback canary\"", "from:alice", "from:alice pager night",
                   "line 4242", "nosuchword"]
        for q in queries:
            times, hits = [], 0
            for _ in range(a.repeat):
                t = time.perf_counter()
                r = call(url, {"jsonrpc": "2.0", "id": 2, "method": "chat_search",
                               "params": {"session": sessions["alice"], "query": q, "limit": 50}})
                times.append((time.perf_counter() - t) * 1000)
                if "error" in r: sys.exit(f"search refused: {r['error']}")
                hits = len(r["result"]["hits"])
            print(f"{q!r:28} hits {hits:3}  median {statistics.median(times):7.2f} ms  worst {max(times):7.2f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        try: server.wait(10)
        except subprocess.TimeoutExpired: server.kill()

if __name__ == "__main__":
    main()
