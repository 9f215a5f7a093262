#!/usr/bin/python3
"""Traffic sources and sinks for the integration tests.

Run inside a namespace with `ns_exec NS /usr/bin/python3 tests/lib/traffic.py ...`.

  send      UDP datagrams carrying a sequence number, at a bounded rate, from
            one or many source ports (one flow per source port).
  recv      counts the datagrams `send` produced; reports JSON on exit.
  sniff-ttl records the IP TTL of packets from a source as they arrive on an
            interface (scapy), to check that a router decremented it.
  http-serve an HTTP/1.1 server (keep-alive) that answers every path with its
            name and the client address it saw; /healthz answers 200, or the
            status in --health-status.
  http-hold one persistent HTTP/1.1 connection, a request every --interval,
            each answer logged; ends with an error if the connection breaks.

Every mode is bounded in time; none waits forever.
"""

import argparse
import http.server
import json
import signal
import socket
import socketserver
import sys
import time

PAYLOAD_MAGIC = b"isthmus-seq:"
RECV_BUFFER_BYTES = 4 * 1024 * 1024
POLL_S = 0.2


def parse_ports(text):
    """'5000' or '5000-5063' -> list of ports."""
    if "-" in text:
        first, last = (int(p) for p in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(text)]


def cmd_send(args):
    # SIGINT/SIGTERM end the run early but still report what was sent, so a
    # test can send "until it is done" and then compare with the receiver.
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    sports = parse_ports(args.sports)
    sockets = []
    for sport in sports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.src, sport))
        if args.ttl:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, args.ttl)
        sockets.append(s)
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    start = time.monotonic()
    sent = 0
    errors = 0
    # Round-robin over the flows so every flow is spread over the whole run.
    for seq in range(args.count):
        if stop:
            break
        for s in sockets:
            payload = PAYLOAD_MAGIC + str(seq).encode() + b"\0" * args.pad
            try:
                s.sendto(payload, (args.dst, args.dport))
                sent += 1
            except OSError:
                errors += 1  # e.g. ICMP unreachable reported on a later send
            if interval:
                due = start + (sent + errors) * interval
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    print(json.dumps({"sent": sent, "errors": errors, "flows": len(sockets),
                      "seconds": round(time.monotonic() - start, 3)}), flush=True)
    return 0


def cmd_recv(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
    s.bind((args.bind, args.port))
    s.settimeout(POLL_S)
    print("ready", flush=True)
    deadline = time.monotonic() + args.max_time
    last_rx = None
    received = 0
    seqs_by_source = {}
    while time.monotonic() < deadline:
        if last_rx is not None and time.monotonic() - last_rx > args.idle_timeout:
            break
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        if not data.startswith(PAYLOAD_MAGIC):
            continue
        last_rx = time.monotonic()
        received += 1
        seq = int(data[len(PAYLOAD_MAGIC):].split(b"\0", 1)[0])
        seqs_by_source.setdefault("%s:%d" % peer, set()).add(seq)
    unique = sum(len(v) for v in seqs_by_source.values())
    if args.flows_out:
        with open(args.flows_out, "w", encoding="ascii") as out:
            out.write("".join(f"{source}\n" for source in sorted(seqs_by_source)))
    print(json.dumps({"received": received, "unique": unique,
                      "flows": len(seqs_by_source)}), flush=True)
    return 0


def cmd_http_serve(args):
    name, health_status = args.name, args.health_status

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection, many requests

        def do_GET(self):  # pylint: disable=invalid-name
            status = health_status if self.path == "/healthz" else 200
            body = f"{name} {self.client_address[0]}:{self.client_address[1]}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    class Server(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True

        def server_bind(self):
            # HTTPServer's own server_bind asks DNS for the bind address's
            # name (getfqdn): seconds of timeouts in a test namespace.
            socketserver.TCPServer.server_bind(self)  # pylint: disable=non-parent-init-called
            self.server_name, self.server_port = args.bind, args.port

    server = Server((args.bind, args.port), Handler)
    print("ready", flush=True)
    server.serve_forever()
    return 0


def cmd_http_hold(args):
    # Raw socket, not http.client: the test wants to know that the very same
    # TCP connection carried every answer.
    sock = socket.create_connection((args.dst, args.port), timeout=args.timeout)
    local = "%s:%d" % sock.getsockname()
    deadline = time.monotonic() + args.duration
    answers = 0
    reader = sock.makefile("rb")
    while time.monotonic() < deadline:
        request = f"GET /hold HTTP/1.1\r\nHost: {args.dst}\r\n\r\n".encode()
        try:
            sock.sendall(request)
            status = reader.readline()
            length = 0
            while True:
                line = reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = reader.read(length).decode().strip()
        except OSError as e:
            print(json.dumps({"local": local, "answers": answers, "error": str(e)}), flush=True)
            return 1
        if not status.startswith(b"HTTP/1.1 200") or not body:
            print(json.dumps({"local": local, "answers": answers, "error": f"bad answer {status!r}"}), flush=True)
            return 1
        answers += 1
        print(json.dumps({"t": round(time.time(), 3), "answer": body}), flush=True)
        time.sleep(args.interval)
    sock.close()
    print(json.dumps({"local": local, "answers": answers}), flush=True)
    return 0


def cmd_sniff_ttl(args):
    # Imported here: scapy takes a second to load and only this mode needs it.
    from scapy.all import IP, AsyncSniffer  # pylint: disable=import-outside-toplevel

    def wanted(pkt):
        return IP in pkt and pkt[IP].src == args.src and pkt[IP].proto == args.proto

    # lfilter (Python side), not a BPF filter: scapy compiles BPF filters with
    # tcpdump, which the test machines do not have.
    sniffer = AsyncSniffer(iface=args.iface, lfilter=wanted, count=args.count,
                           timeout=args.timeout, store=True)
    sniffer.start()
    time.sleep(0.5)  # the socket is open once start() returns; let it settle
    print("ready", flush=True)
    sniffer.join(args.timeout + 5)
    packets = sniffer.results or []
    print(json.dumps({"ttls": [int(p[IP].ttl) for p in packets]}), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)

    send = sub.add_parser("send")
    send.add_argument("--src", required=True)
    send.add_argument("--dst", required=True)
    send.add_argument("--dport", type=int, required=True)
    send.add_argument("--sports", default="40000", help="PORT or FIRST-LAST: one flow each")
    send.add_argument("--count", type=int, default=100, help="datagrams per flow")
    send.add_argument("--rate", type=float, default=1000.0, help="datagrams/s in total")
    send.add_argument("--pad", type=int, default=0, help="extra payload bytes")
    send.add_argument("--ttl", type=int, default=0)
    send.set_defaults(func=cmd_send)

    recv = sub.add_parser("recv")
    recv.add_argument("--bind", required=True)
    recv.add_argument("--port", type=int, required=True)
    recv.add_argument("--idle-timeout", type=float, default=2.0)
    recv.add_argument("--max-time", type=float, default=60.0)
    recv.add_argument("--flows-out", help="write the sources seen (IP:PORT, one a line) here")
    recv.set_defaults(func=cmd_recv)

    serve = sub.add_parser("http-serve")
    serve.add_argument("--bind", required=True)
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--name", required=True)
    serve.add_argument("--health-status", type=int, default=200)
    serve.set_defaults(func=cmd_http_serve)

    hold = sub.add_parser("http-hold")
    hold.add_argument("--dst", required=True)
    hold.add_argument("--port", type=int, required=True)
    hold.add_argument("--duration", type=float, default=10.0)
    hold.add_argument("--interval", type=float, default=0.1)
    hold.add_argument("--timeout", type=float, default=3.0)
    hold.set_defaults(func=cmd_http_hold)

    sniff = sub.add_parser("sniff-ttl")
    sniff.add_argument("--iface", required=True)
    sniff.add_argument("--src", required=True)
    sniff.add_argument("--proto", type=int, default=1, help="IP protocol (1 = ICMP)")
    sniff.add_argument("--count", type=int, default=3)
    sniff.add_argument("--timeout", type=float, default=10.0)
    sniff.set_defaults(func=cmd_sniff_ttl)

    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
