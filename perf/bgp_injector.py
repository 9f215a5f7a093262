#!/usr/bin/python3
"""BGP injector for the perf/ BGP benchmarks (issue 3, items 12 and 13).

A scripted BGP speaker over plain TCP sockets, written for measuring other
speakers, not for being one: it opens sessions, replays pre-encoded UPDATEs
and watches what comes back. It keeps no RIB beyond the prefix sets it needs
to time.

  gen     Encode N IPv4 prefixes with P distinct AS paths into a byte stream
          of UPDATE messages (RFC 4271 4.3), each at most 4096 bytes, once,
          so every receiver is fed exactly the same bytes.
  ingest  OPEN/KEEPALIVE handshake with one receiver, replay the stream, and
          poll shell commands that print the receiver's RIB (and FIB) size
          until they reach N. Prints one JSON line with the timings and the
          receiver's VmRSS before and after.
  rs      Route-server scale: K feeding peers with R routes each plus one
          observer session to the same speaker; then withdraw prefixes one at
          a time and time, in this one process (one monotonic clock), from
          the withdrawal leaving our socket to the speaker's withdrawal
          reaching the observer.

Wire formats used (RFC 4271 4.1-4.4, RFC 5492, RFC 6793, RFC 4760):

  header   | marker 16 x 0xff | length u16 | type u8 |
  OPEN     | version u8 | my AS u16 | hold u16 | BGP id u32 | opt len u8 | opts |
           opt = | type 2 (capabilities) | len u8 | code u8 | len u8 | value |
  UPDATE   | withdrawn len u16 | withdrawn | attr len u16 | attrs | NLRI |
           attr = | flags u8 | type u8 | len u8 (u16 if flag 0x10) | value |
           prefix = | length in bits u8 | ceil(bits/8) address bytes |

Addresses: the prefixes are data carried inside BGP between network
namespaces this benchmark builds; nothing is ever sent to them.
"""

import argparse
import ipaddress
import json
import os
import random
import selectors
import socket
import struct
import subprocess
import sys
import time

MARKER = b"\xff" * 16
HEADER_LEN = 19
MAX_MESSAGE = 4096  # RFC 4271 4.1
MSG_OPEN, MSG_UPDATE, MSG_NOTIFICATION, MSG_KEEPALIVE = 1, 2, 3, 4
AS_TRANS = 23456  # RFC 6793
CAP_MP, CAP_ROUTE_REFRESH, CAP_AS4 = 1, 2, 65
ATTR_ORIGIN, ATTR_AS_PATH, ATTR_NEXT_HOP, ATTR_MP_UNREACH = 1, 2, 3, 15
FLAG_TRANSITIVE, FLAG_EXTENDED = 0x40, 0x10
AS_SEQUENCE = 2
HOLD_TIME_S = 180
KEEPALIVE_EVERY_S = 30
CHUNK_BYTES = 64 * 1024  # replay granularity: keepalives go between chunks
BGP_PORT = 179

# DFZ-like length mix (share in percent); all <= /24 so rte_lpm needs no tbl8.
LENGTH_MIX = ((24, 60), (23, 10), (22, 12), (21, 5), (20, 5), (19, 3), (18, 2), (17, 1), (16, 2))
# AS numbers for generated paths: private 16-bit (RFC 6996) and 32-bit ones,
# away from the receivers' and the injector's own.
PRIVATE_AS16 = (64600, 65000)
PRIVATE_AS32 = (4200000000, 4200100000)


# ----------------------------------------------------------------- encoding

def message(msg_type, body):
    return MARKER + struct.pack("!HB", HEADER_LEN + len(body), msg_type) + body


def capability(code, value=b""):
    return struct.pack("!BB", code, len(value)) + value


def encode_open(local_as, router_id, hold=HOLD_TIME_S):
    caps = (capability(CAP_MP, struct.pack("!HBB", 1, 0, 1))
            + capability(CAP_ROUTE_REFRESH)
            + capability(CAP_AS4, struct.pack("!I", local_as)))
    opt = struct.pack("!BB", 2, len(caps)) + caps
    my_as = local_as if local_as <= 0xFFFF else AS_TRANS
    body = struct.pack("!BHH4sB", 4, my_as, hold, ipaddress.IPv4Address(router_id).packed, len(opt)) + opt
    return message(MSG_OPEN, body)


def encode_keepalive():
    return message(MSG_KEEPALIVE, b"")


def encode_prefix(net):
    nbytes = (net.prefixlen + 7) // 8
    return bytes([net.prefixlen]) + net.network_address.packed[:nbytes]


def attribute(type_code, value):
    if len(value) > 255:
        return struct.pack("!BBH", FLAG_TRANSITIVE | FLAG_EXTENDED, type_code, len(value)) + value
    return struct.pack("!BBB", FLAG_TRANSITIVE, type_code, len(value)) + value


def encode_attributes(as_path, next_hop):
    """ORIGIN IGP, AS_PATH (one AS_SEQUENCE of 4-byte ASNs, RFC 6793), NEXT_HOP."""
    path = struct.pack("!BB", AS_SEQUENCE, len(as_path)) + b"".join(struct.pack("!I", a) for a in as_path)
    return (attribute(ATTR_ORIGIN, b"\x00") + attribute(ATTR_AS_PATH, path)
            + attribute(ATTR_NEXT_HOP, ipaddress.IPv4Address(next_hop).packed))


def pack_updates(attrs, nlri, withdrawn=()):
    """UPDATEs sharing `attrs`, as many prefixes per message as fit 4096 bytes."""
    out = []
    fixed = HEADER_LEN + 2 + 2
    wd = [encode_prefix(p) for p in withdrawn]
    while wd:
        body, used = [], fixed
        while wd and used + len(wd[0]) <= MAX_MESSAGE:
            used += len(wd[0])
            body.append(wd.pop(0))
        w = b"".join(body)
        out.append(message(MSG_UPDATE, struct.pack("!H", len(w)) + w + struct.pack("!H", 0)))
    encoded = [encode_prefix(p) for p in nlri]
    i = 0
    while i < len(encoded):
        body, used = [], fixed + len(attrs)
        while i < len(encoded) and used + len(encoded[i]) <= MAX_MESSAGE:
            used += len(encoded[i])
            body.append(encoded[i])
            i += 1
        out.append(message(MSG_UPDATE, struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs
                           + b"".join(body)))
    return out


def random_prefixes(count, rng):
    """`count` distinct prefixes with the LENGTH_MIX lengths, first octet 1-223, no 10/127."""
    lengths = [length for length, share in LENGTH_MIX for _ in range(share)]
    seen = set()
    result = []
    while len(result) < count:
        length = lengths[rng.randrange(len(lengths))]
        first = rng.randrange(1, 224)
        if first in (10, 127):
            continue
        value = (first << 24 | rng.getrandbits(24)) & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
        key = (value, length)
        if key in seen:
            continue
        seen.add(key)
        result.append(ipaddress.IPv4Network((value, length)))
    return result


def random_paths(count, first_as, rng):
    paths = set()
    while len(paths) < count:
        hops = rng.randrange(1, 7)
        tail = tuple(rng.randrange(*PRIVATE_AS32) if rng.random() < 0.3 else rng.randrange(*PRIVATE_AS16)
                     for _ in range(hops))
        paths.add((first_as,) + tail)
    return sorted(paths)


def cmd_gen(args):
    rng = random.Random(args.seed)
    prefixes = random_prefixes(args.prefixes, rng)
    paths = random_paths(min(args.paths, args.prefixes), args.local_as, rng)
    # Prefix i goes to path i mod P: every path carries ~N/P prefixes.
    groups = [[] for _ in paths]
    for i, p in enumerate(prefixes):
        groups[i % len(paths)].append(p)
    updates = 0
    size = 0
    with open(args.out, "wb") as f:
        for path, nlri in zip(paths, groups):
            for m in pack_updates(encode_attributes(path, args.next_hop), nlri):
                f.write(m)
                updates += 1
                size += len(m)
    meta = {"prefixes": len(prefixes), "paths": len(paths), "updates": updates, "bytes": size,
            "seed": args.seed, "next_hop": args.next_hop, "local_as": args.local_as}
    with open(args.out + ".json", "w") as f:
        json.dump(meta, f)
    print(json.dumps(meta))


# ------------------------------------------------------------------ session

class Session:
    """One BGP session from our side: connect, handshake, frame reader."""

    def __init__(self, connect, source, local_as, router_id, port=BGP_PORT):
        self.sock = socket.create_connection((connect, port), timeout=30, source_address=(source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.last_keepalive = time.monotonic()
        self.sock.sendall(encode_open(local_as, router_id))
        msg_type, body = self.read_message()
        if msg_type != MSG_OPEN:
            raise RuntimeError(f"expected OPEN from {connect}, got type {msg_type}: {body[:8].hex()}")
        self.sock.sendall(encode_keepalive())
        while True:  # OpenConfirm -> Established on the peer's KEEPALIVE
            msg_type, body = self.read_message()
            if msg_type == MSG_KEEPALIVE:
                break
            if msg_type == MSG_NOTIFICATION:
                raise RuntimeError(f"NOTIFICATION {body[:2].hex()} from {connect}")
        self.sock.setblocking(False)

    def read_message(self):
        while True:
            msg = self.pop_message()
            if msg is not None:
                return msg
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("connection closed by peer")
            self.buf += data

    def pop_message(self):
        if len(self.buf) < HEADER_LEN:
            return None
        length, msg_type = struct.unpack_from("!HB", self.buf, 16)
        if len(self.buf) < length:
            return None
        body = self.buf[HEADER_LEN:length]
        self.buf = self.buf[length:]
        return msg_type, body

    def pump(self):
        """Read what is available (non-blocking); return complete messages."""
        out = []
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise RuntimeError("connection closed by peer")
                self.buf += data
        except BlockingIOError:
            pass
        while (msg := self.pop_message()) is not None:
            if msg[0] == MSG_NOTIFICATION:
                raise RuntimeError(f"NOTIFICATION {msg[1][:2].hex()} received")
            out.append(msg)
        return out

    def send_blocking(self, data):
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def keepalive_if_due(self, now):
        if now - self.last_keepalive >= KEEPALIVE_EVERY_S:
            self.send_blocking(encode_keepalive())
            self.last_keepalive = now


def message_boundaries(stream, chunk):
    """Offsets splitting `stream` into ~chunk-sized pieces at message boundaries."""
    cuts, off, start = [], 0, 0
    while off < len(stream):
        length = struct.unpack_from("!H", stream, off + 16)[0]
        off += length
        if off - start >= chunk:
            cuts.append(off)
            start = off
    if not cuts or cuts[-1] != len(stream):
        cuts.append(len(stream))
    return cuts


def read_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def poll_count(cmd):
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    try:
        return int(out.split()[0]) if out else -1
    except ValueError:
        return -1


def cmd_ingest(args):
    with open(args.stream, "rb") as f:
        stream = f.read()
    cuts = message_boundaries(stream, CHUNK_BYTES)
    session = Session(args.connect, args.source, args.local_as, args.router_id)
    time.sleep(args.settle)  # let the receiver finish its own start-of-session work
    rss_before = read_rss_kb(args.pid)
    t0 = time.monotonic()
    start = 0
    for cut in cuts:  # the clock starts before the first UPDATE byte
        session.send_blocking(stream[start:cut])
        start = cut
        session.pump()
        session.keepalive_if_due(time.monotonic())
    sent = time.monotonic() - t0
    targets = [("rib", args.rib_cmd)] + ([("fib", args.fib_cmd)] if args.fib_cmd else [])
    result = {"prefixes": args.prefixes, "send_s": round(sent, 3), "rss_before_kb": rss_before}
    deadline = t0 + args.timeout
    # Every target is polled in each round, so each one's time is its own
    # (the FIB is not first looked at after the RIB is complete).
    pending = {name: {"cmd": cmd, "last": -1, "last_change": time.monotonic()} for name, cmd in targets}
    while pending:
        for name in list(pending):
            state = pending[name]
            now = time.monotonic()
            session.pump()
            session.keepalive_if_due(now)
            count = poll_count(state["cmd"])
            if count != state["last"]:
                state["last"], state["last_change"] = count, now
            if count >= args.prefixes:
                result[f"{name}_s"] = round(time.monotonic() - t0, 3)
                result[f"rss_{name}_kb"] = read_rss_kb(args.pid)
                del pending[name]
            elif now > deadline or now - state["last_change"] > args.stall:
                result[f"{name}_s"] = None
                result[f"{name}_count_at_timeout"] = state["last"]
                del pending[name]
        if pending:
            time.sleep(args.poll)
    print(json.dumps(result), flush=True)
    session.sock.close()


# ---------------------------------------------------------- route server

def parse_update(body):
    """(withdrawn, nlri) prefixes of an UPDATE, as (value, length) tuples."""
    def prefixes(data):
        out, i = [], 0
        while i < len(data):
            length = data[i]
            nbytes = (length + 7) // 8
            raw = data[i + 1:i + 1 + nbytes] + b"\x00" * (4 - nbytes)
            out.append((struct.unpack("!I", raw)[0], length))
            i += 1 + nbytes
        return out

    wlen = struct.unpack_from("!H", body, 0)[0]
    withdrawn = prefixes(body[2:2 + wlen])
    alen = struct.unpack_from("!H", body, 2 + wlen)[0]
    attrs = body[4 + wlen:4 + wlen + alen]
    nlri = prefixes(body[4 + wlen + alen:])
    i = 0
    while i < len(attrs):  # MP_UNREACH_NLRI for IPv4 unicast (RFC 4760), if used
        flags, code = attrs[i], attrs[i + 1]
        if flags & FLAG_EXTENDED:
            length, hdr = struct.unpack_from("!H", attrs, i + 2)[0], 4
        else:
            length, hdr = attrs[i + 2], 3
        value = attrs[i + hdr:i + hdr + length]
        if code == ATTR_MP_UNREACH and value[:3] == b"\x00\x01\x01":
            withdrawn += prefixes(value[3:])
        i += hdr + length
    return withdrawn, nlri


def as_key(net):
    return int(net.network_address), net.prefixlen


RS_SPACE = ipaddress.IPv4Network("198.19.0.0/16")  # RFC 2544 space: up to 65,536 /32 routes


def rs_prefixes(peer, count):
    """Peer k's routes: distinct host routes in RS_SPACE, a block per peer."""
    base = int(RS_SPACE.network_address) + peer * count
    if (peer + 1) * count > RS_SPACE.num_addresses:
        raise RuntimeError(f"{count} routes per peer do not fit {RS_SPACE}")
    return [ipaddress.IPv4Network((base + i, 32)) for i in range(count)]


def cmd_rs(args):
    feeders = []
    for k in range(args.peers):
        src = str(ipaddress.IPv4Address(args.peer_base) + k)
        feeders.append(Session(args.connect, src, args.peer_as_base + k, src))
    observer = Session(args.connect, args.observer, args.observer_as, args.observer)
    table = set()

    def drain(s, on_update=None):
        for msg_type, body in s.pump():
            if msg_type == MSG_UPDATE:
                withdrawn, nlri = parse_update(body)
                if on_update:
                    on_update(withdrawn, nlri)

    def observe(withdrawn, nlri):
        table.difference_update(withdrawn)
        table.update(nlri)

    sel = selectors.DefaultSelector()
    sel.register(observer.sock, selectors.EVENT_READ)

    def wait_observer(pred, timeout):
        end = time.monotonic() + timeout
        while not pred():
            left = end - time.monotonic()
            if left <= 0:
                return False
            if sel.select(min(left, 1.0)):
                drain(observer, observe)
            now = time.monotonic()
            for s in feeders + [observer]:
                s.keepalive_if_due(now)
                if s is not observer:
                    drain(s)
        return True

    routes = {}
    t_load = time.monotonic()
    for k, s in enumerate(feeders):
        nets = rs_prefixes(k, args.routes)
        routes[k] = nets
        src = str(ipaddress.IPv4Address(args.peer_base) + k)
        attrs = encode_attributes([args.peer_as_base + k, 64700 + k], src)
        s.send_blocking(b"".join(pack_updates(attrs, nets)))
    total = args.peers * args.routes
    if not wait_observer(lambda: len(table) >= total, args.timeout):
        raise RuntimeError(f"observer holds {len(table)} of {total} routes after {args.timeout} s")
    load_s = time.monotonic() - t_load
    time.sleep(args.settle)
    drain(observer, observe)

    rng = random.Random(args.seed)
    latencies = []
    misses = 0
    for n in range(args.withdrawals):
        k = n % args.peers
        net = routes[k].pop(rng.randrange(len(routes[k])))
        key = as_key(net)
        message_bytes = pack_updates(b"", [], withdrawn=[net])[0]
        t_sent = time.monotonic_ns()
        feeders[k].send_blocking(message_bytes)
        gone = wait_observer(lambda: key not in table, args.timeout)
        t_seen = time.monotonic_ns()
        if gone:
            latencies.append((t_seen - t_sent) / 1e6)
        else:
            misses += 1
        time.sleep(args.gap)
        drain(observer, observe)
    latencies.sort()

    def pct(q):
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(round(q * (len(latencies) - 1))))], 3)

    print(json.dumps({"peers": args.peers, "routes_per_peer": args.routes, "observer_routes": len(table),
                      "load_s": round(load_s, 3), "withdrawals": len(latencies), "missed": misses,
                      "median_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(latencies[-1], 3) if latencies else None,
                      "min_ms": round(latencies[0], 3) if latencies else None,
                      "all_ms": [round(x, 3) for x in latencies]}), flush=True)
    for s in feeders + [observer]:
        s.sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("gen", help="encode the UPDATE stream")
    g.add_argument("--prefixes", type=int, default=1_000_000)
    g.add_argument("--paths", type=int, default=5000)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--local-as", type=int, default=65001)
    g.add_argument("--next-hop", required=True)
    g.add_argument("--out", required=True)

    i = sub.add_parser("ingest", help="replay the stream into one receiver and time it")
    i.add_argument("--stream", required=True)
    i.add_argument("--prefixes", type=int, required=True)
    i.add_argument("--connect", required=True)
    i.add_argument("--source", required=True)
    i.add_argument("--local-as", type=int, default=65001)
    i.add_argument("--router-id", required=True)
    i.add_argument("--pid", type=int, required=True, help="receiver process for VmRSS")
    i.add_argument("--rib-cmd", required=True, help="shell command printing the RIB prefix count")
    i.add_argument("--fib-cmd", default="", help="shell command printing the FIB route count")
    i.add_argument("--timeout", type=float, default=900)
    i.add_argument("--poll", type=float, default=0.2)
    i.add_argument("--stall", type=float, default=60, help="give up when the count stops moving this long")
    i.add_argument("--settle", type=float, default=1.0)

    r = sub.add_parser("rs", help="route-server scale and withdrawal latency")
    r.add_argument("--connect", required=True)
    r.add_argument("--peers", type=int, default=8)
    r.add_argument("--routes", type=int, default=4000)
    r.add_argument("--peer-base", required=True, help="first feeding peer's source address")
    r.add_argument("--peer-as-base", type=int, default=65101)
    r.add_argument("--observer", required=True)
    r.add_argument("--observer-as", type=int, default=65200)
    r.add_argument("--withdrawals", type=int, default=40)
    r.add_argument("--gap", type=float, default=0.2, help="seconds between withdrawals")
    r.add_argument("--settle", type=float, default=2.0)
    r.add_argument("--timeout", type=float, default=120)
    r.add_argument("--seed", type=int, default=1)

    args = ap.parse_args()
    {"gen": cmd_gen, "ingest": cmd_ingest, "rs": cmd_rs}[args.cmd](args)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError) as e:
        print(f"bgp_injector: {e}", file=sys.stderr)
        sys.exit(1)
