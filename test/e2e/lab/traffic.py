"""Bounded traffic programs for the e2e lab, run inside a namespace with `ip netns exec`.

Each subcommand is bounded in count and in time (--seconds, enforced with SIGALRM), prints
"ready ..." on stdout once its socket is set up when something waits for it, and a last
line of JSON with what it did (ports used, counts).
"""
import argparse
import errno
import json
import select
import signal
import socket
import struct
import sys
import threading
import time


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ready(**kw):
    sys.stdout.write("ready " + json.dumps(kw) + "\n")
    sys.stdout.flush()


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def wait_go():
    """Blocks until the test writes a line on stdin (or closes it)."""
    sys.stdin.readline()


def udp_send(a):
    s = socket.socket(family_of(a.dst), socket.SOCK_DGRAM)
    s.bind((a.src or "", a.sport))
    payload = b"x" * a.size
    sent = 0
    for i in range(a.count):
        dst = a.dst
        if a.spread > 1:  # consecutive IPv4 addresses from --dst on
            o = a.dst.split(".")
            dst = ".".join(o[:3] + [str((int(o[3]) + i % a.spread) % 256)])
        try:
            s.sendto(payload, (dst, a.dport))
            sent += 1
        except OSError:
            pass  # ENOBUFS from a full qdisc, ECONNREFUSED from an earlier ICMP
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000)
    out({"sent": sent, "sport": s.getsockname()[1]})


def udp_sink(a):
    """A UDP socket with a tiny receive buffer that never reads."""
    s = socket.socket(family_of(a.bind), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.bind((a.bind, a.port))
    ready(rcvbuf=s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    wait_go()
    out({"rcvbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)})


def tcp_connect(a):
    """`count` connects in parallel (non-blocking); reports each one's source port and outcome."""
    socks = []
    for _ in range(a.count):
        s = socket.socket(family_of(a.dst), socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((a.dst, a.dport))
        socks.append([s, s.getsockname()[1], None if err in (0, errno.EINPROGRESS) else errno.errorcode.get(err, str(err))])
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000)
    deadline = time.monotonic() + a.timeout
    pending = [x for x in socks if x[2] is None]
    while pending and time.monotonic() < deadline:
        _, w, _ = select.select([], [x[0] for x in pending], [], max(0.0, deadline - time.monotonic()))
        for x in pending:
            if x[0] in w:
                err = x[0].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                x[2] = "connected" if err == 0 else errno.errorcode.get(err, str(err))
        pending = [x for x in socks if x[2] is None]
    for x in pending:
        x[2] = "timeout"
    if a.send:
        for x in socks:
            if x[2] == "connected":
                try:
                    x[0].send(b"y" * a.send)
                except OSError:
                    pass
    if a.hold:
        ready(sports=[x[1] for x in socks])
        wait_go()
    out({"sports": [x[1] for x in socks], "outcomes": [x[2] for x in socks]})


def tcp_listen(a):
    extra = []
    for _ in range(a.reuseport - 1):  # more listeners on the port, each with its own queue
        x = socket.socket(family_of(a.bind), socket.SOCK_STREAM)
        x.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        x.bind((a.bind, a.port))
        x.listen(a.backlog)
        extra.append(x)
    s = socket.socket(family_of(a.bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.reuseport > 1:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if a.defer_accept:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, a.defer_accept)
    s.bind((a.bind, a.port))
    s.listen(a.backlog)
    ready(port=s.getsockname()[1])
    if not a.accept:
        wait_go()
        out({"accepted": 0})
        return
    total = [0, 0]

    def drain(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                total[1] += len(d)
        except OSError:
            pass

    s.settimeout(0.2)
    stop = []
    threading.Thread(target=lambda: (wait_go(), stop.append(1)), daemon=True).start()
    while not stop:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        total[0] += 1
        threading.Thread(target=drain, args=(c,), daemon=True).start()
    out({"accepted": total[0], "bytes": total[1]})


def tcp_stream(a):
    """Connects, says ready, waits for "go", then writes `writes` chunks of `chunk` bytes."""
    s = socket.socket(family_of(a.dst), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((a.dst, a.dport))
    ready(sport=s.getsockname()[1])
    wait_go()
    s.setblocking(False)
    written = 0
    for _ in range(a.writes):
        try:
            written += s.send(b"z" * a.chunk)
        except BlockingIOError:
            pass
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000)
    time.sleep(a.linger)
    out({"sport": s.getsockname()[1], "written": written})


TCP_REPAIR = 19  # include/uapi/linux/tcp.h
TCP_TIMESTAMP = 24


def tcp_paws(a):
    """Connects and sends, then moves its own TCP timestamp clock back (TCP_TIMESTAMP in repair
    mode, as CRIU does) and sends again: the peer's PAWS check rejects every later segment."""
    s = socket.socket(family_of(a.dst), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((a.dst, a.dport))
    s.send(b"p" * 100)
    time.sleep(0.1)
    now = s.getsockopt(socket.IPPROTO_TCP, TCP_TIMESTAMP)
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    s.setsockopt(socket.IPPROTO_TCP, TCP_TIMESTAMP, struct.pack("I", (now - a.back) & 0xFFFFFFFF))
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
    for _ in range(a.writes):
        s.send(b"q" * 100)
        time.sleep(0.05)
    time.sleep(a.linger)
    sport = s.getsockname()[1]
    # end with a RST (PAWS lets resets through): nothing of this connection is rejected afterwards
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    out({"sport": sport, "tsval": now})


def http_server(a):
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    cls = http.server.ThreadingHTTPServer
    if ":" in a.bind:
        cls = type("S6", (cls,), {"address_family": socket.AF_INET6})
    srv = cls((a.bind, a.port), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ready(port=srv.server_address[1])
    wait_go()
    out({"served": True})


def http_get(a):
    """`count` clients, each connects and sends one GET padded to `size` bytes; all wait `timeout` at most."""
    res = []
    socks = []
    for _ in range(a.count):
        s = socket.socket(family_of(a.dst), socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        s.connect((a.dst, a.dport))
        socks.append(s)
    if a.hold:
        # the MSS is agreed in the handshake: the test may shrink the path before the GETs go
        ready(sports=[s.getsockname()[1] for s in socks])
        wait_go()
    head = "GET / HTTP/1.1\r\nHost: lab\r\nUser-Agent: droptrace-lab\r\nX-Pad: "
    pad = max(0, a.size - len(head) - 4)
    for s in socks:
        s.sendall((head + "p" * pad + "\r\n\r\n").encode())
    deadline = time.monotonic() + a.timeout
    for s in socks:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got = s.recv(4096)
            res.append([s.getsockname()[1], "reply" if got else "closed"])
        except socket.timeout:
            res.append([s.getsockname()[1], "timeout"])
        except OSError as e:
            res.append([s.getsockname()[1], errno.errorcode.get(e.errno, str(e))])
    out({"sports": [r[0] for r in res], "outcomes": [r[1] for r in res]})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10.0, help="hard limit on the program's life")
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("udp-send")
    q.add_argument("--src", default="")
    q.add_argument("--sport", type=int, default=0)
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--count", type=int, default=10)
    q.add_argument("--size", type=int, default=64)
    q.add_argument("--interval-ms", type=float, default=0)
    q.add_argument("--spread", type=int, default=1, help="send to this many consecutive IPv4 addresses in turn")

    q = sub.add_parser("udp-sink")
    q.add_argument("--bind", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--rcvbuf", type=int, default=1024)

    q = sub.add_parser("tcp-connect")
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--count", type=int, default=1)
    q.add_argument("--timeout", type=float, default=2.0)
    q.add_argument("--interval-ms", type=float, default=0)
    q.add_argument("--send", type=int, default=0, help="bytes to send on each connected socket")
    q.add_argument("--hold", action="store_true", help="keep the sockets open until a line on stdin")

    q = sub.add_parser("tcp-listen")
    q.add_argument("--bind", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--backlog", type=int, default=128)
    q.add_argument("--accept", action="store_true")
    q.add_argument("--defer-accept", type=int, default=0)
    q.add_argument("--reuseport", type=int, default=1, help="this many listeners on the port (SO_REUSEPORT)")

    q = sub.add_parser("tcp-stream")
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--writes", type=int, default=100)
    q.add_argument("--chunk", type=int, default=1000)
    q.add_argument("--interval-ms", type=float, default=1)
    q.add_argument("--linger", type=float, default=0, help="seconds to keep the socket open after writing")

    q = sub.add_parser("tcp-paws")
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--back", type=int, default=1000000, help="how far back to set the timestamp clock (its units)")
    q.add_argument("--writes", type=int, default=3)
    q.add_argument("--linger", type=float, default=0.5)

    q = sub.add_parser("http-server")
    q.add_argument("--bind", required=True)
    q.add_argument("--port", type=int, required=True)

    q = sub.add_parser("http-get")
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--count", type=int, default=1)
    q.add_argument("--size", type=int, default=400)
    q.add_argument("--timeout", type=float, default=2.0)
    q.add_argument("--hold", action="store_true", help="connect, say ready, send the GETs after a line on stdin")

    a = p.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(3))
    signal.setitimer(signal.ITIMER_REAL, a.seconds)
    {
        "udp-send": udp_send,
        "udp-sink": udp_sink,
        "tcp-connect": tcp_connect,
        "tcp-listen": tcp_listen,
        "tcp-stream": tcp_stream,
        "tcp-paws": tcp_paws,
        "http-server": http_server,
        "http-get": http_get,
    }[a.cmd](a)


if __name__ == "__main__":
    main()
