#!/usr/bin/env python3
"""A hostile client for measuring a chatroom server: it sends `chat_history` calls over one
connection, as fast as the socket takes them, and never reads an answer. It prints the
server's resident memory and threads (from /proc/PID/status, so run it on the server's
host) and how long another member's `chat_send` takes meanwhile.

Bounded in count and time: at most --calls calls, for at most --seconds seconds. Loopback
only, no third-party modules.

    chatroom serve --listen 127.0.0.1:7810 --rate-limit 0 --db :memory: &
    scripts/hostile-reader.py --pid $! --fill 500 --limit 500 --calls 300000 --seconds 20
"""

import argparse
import json
import os
import select
import socket
import struct
import time
import urllib.request


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["Threads"])


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(
        url, body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.load(response)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def ws_frame(payload):
    """A masked text frame, as a client must send."""
    mask = os.urandom(4)
    head = bytearray([0x81])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head += struct.pack(">H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack(">Q", n)
    return bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_connect(host, port):
    sock = socket.create_connection((host, port))
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--addr", default="127.0.0.1:7810")
    p.add_argument("--pid", type=int, required=True, help="the server's process id")
    p.add_argument("--transport", choices=["ws", "http"], default="ws",
                   help="ws: WebSocket frames; http: pipelined keep-alive POSTs")
    p.add_argument("--fill", type=int, default=0, help="messages to store first")
    p.add_argument("--size", type=int, default=4000, help="bytes per stored message")
    p.add_argument("--limit", type=int, default=500, help="`limit` of each chat_history")
    p.add_argument("--batch", type=int, default=0, help="send batches of this many calls")
    p.add_argument("--calls", type=int, default=300_000, help="most calls to send")
    p.add_argument("--seconds", type=float, default=20, help="most time to send for")
    p.add_argument("--after", type=float, default=5, help="seconds to watch after closing")
    args = p.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    url = f"http://{args.addr}"

    probe = rpc(url, "chat_join", ["probe"])["session"]
    text = "x" * args.size
    for _ in range(args.fill):
        rpc(url, "chat_send", [probe, text])
    hostile = rpc(url, "chat_join", ["hostile"])["session"]
    call = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "chat_history",
                       "params": {"session": hostile, "limit": args.limit}}).encode()
    if args.batch:
        call = b"[" + b",".join([call] * args.batch) + b"]"
    if args.transport == "ws":
        sock = ws_connect(host, port)
        one = ws_frame(call)
    else:
        sock = socket.create_connection((host, port))
        one = (f"POST / HTTP/1.1\r\nHost: {args.addr}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(call)}\r\n\r\n").encode() + call
    sock.setblocking(False)
    # Never read: the receive buffer stays small and fills.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    rss, threads = status(args.pid)
    print(f"start: server {rss} MiB, {threads} threads; one call is {len(one)} bytes")
    batch = one * 64
    pending = b""
    sent_bytes = 0
    start = time.monotonic()
    next_report = start
    peak = rss
    send_ms = []
    while time.monotonic() - start < args.seconds and sent_bytes < args.calls * len(one):
        if not pending:
            pending = batch
        _, writable, _ = select.select([], [sock], [], 0.05)
        if writable:
            try:
                n = sock.send(pending)
                pending = pending[n:]
                sent_bytes += n
            except BlockingIOError:
                pass
            except ConnectionError as err:
                print(f"{time.monotonic() - start:5.1f} s: the server dropped the connection ({err})")
                break
        now = time.monotonic()
        if now >= next_report:
            t = time.monotonic()
            rpc(url, "chat_send", [probe, "probe"])
            send_ms.append((time.monotonic() - t) * 1000)
            rss, threads = status(args.pid)
            peak = max(peak, rss)
            print(f"{now - start:5.1f} s: {sent_bytes // len(one):7d} calls taken by TCP, "
                  f"server {rss} MiB, {threads} threads, a send took {send_ms[-1]:.0f} ms")
            next_report = now + 1
    sock.close()
    print(f"closed after {sent_bytes // len(one)} calls; peak {peak} MiB; "
          f"slowest send {max(send_ms):.0f} ms")
    time.sleep(args.after)
    rss, threads = status(args.pid)
    print(f"{args.after:.0f} s after closing: server {rss} MiB, {threads} threads")


if __name__ == "__main__":
    main()
