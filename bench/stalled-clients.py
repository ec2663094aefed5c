"""Clients that resume an SSE stream and never read: the `stalled-resume` scenario of bench/loadgen.ts.

Node cannot set a TCP socket's receive buffer, so these few sockets are Python's. Each one gets a small
SO_RCVBUF before it connects (so the kernel takes little of what the server sends), sends
`GET <path>` with a `Last-Event-ID`, and reads nothing. Once all are connected it prints one JSON line
`{"ready": n, "rcvbuf": <bytes the kernel granted>}` and waits for a line on stdin; then it reads every
socket until the server ends it (EOF) or nothing arrives for `idleS` seconds, and prints
`{"clients": [{"bytes", "events", "eof", "reset"}, ...]}`. Every wait is bounded by `limitS`.

    python3 bench/stalled-clients.py '{"port": 8080, "path": "/events", "clients": 30, "lastEventId": "1", ...}'
"""
import json
import select
import selectors
import socket
import sys
import time

config = json.loads(sys.argv[1])
host = config.get("host", "127.0.0.1")
port = int(config["port"])
path = config.get("path", "/events")
count = int(config["clients"])
last_event_id = str(config["lastEventId"])
rcvbuf = int(config.get("rcvbuf", 4096))
limit_s = float(config.get("limitS", 120))
idle_s = float(config.get("idleS", 3))
started = time.monotonic()

request = (
    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
    f"Last-Event-ID: {last_event_id}\r\n\r\n"
).encode("latin-1")

sockets = []
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connect, so that the window offered in the handshake is already small.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((host, port))
    s.sendall(request)
    sockets.append(s)

granted = sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) if sockets else 0
print(json.dumps({"ready": len(sockets), "rcvbuf": granted}), flush=True)

# Never read until told to (or until the time is up).
ready, _, _ = select.select([sys.stdin], [], [], max(0.0, limit_s - (time.monotonic() - started)))
if ready:
    sys.stdin.readline()

marker = b"\ndata:"
stats = [{"bytes": 0, "events": 0, "eof": False, "reset": False} for _ in sockets]
tails = [b""] * len(sockets)
selector = selectors.DefaultSelector()
for i, s in enumerate(sockets):
    s.setblocking(False)
    selector.register(s, selectors.EVENT_READ, i)

open_count = len(sockets)
last_data = time.monotonic()
deadline = started + limit_s
while open_count > 0 and time.monotonic() < deadline and time.monotonic() - last_data < idle_s:
    for key, _ in selector.select(timeout=0.2):
        i = key.data
        try:
            data = key.fileobj.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
            stats[i]["reset"] = True
        except BlockingIOError:
            continue
        if data:
            stats[i]["bytes"] += len(data)
            # Events: `data:` at a line start, counted across reads.
            joined = tails[i] + data
            stats[i]["events"] += joined.count(marker)
            tails[i] = joined[-(len(marker) - 1):]
            last_data = time.monotonic()
        else:
            stats[i]["eof"] = True
            selector.unregister(key.fileobj)
            key.fileobj.close()
            open_count -= 1

for s in sockets:
    try:
        s.close()
    except OSError:
        pass

print(json.dumps({"clients": stats}), flush=True)
