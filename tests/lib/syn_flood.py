#!/usr/bin/python3
"""A SYN flood from spoofed random sources, as fast as one process can send.

Run inside a namespace: `ns_exec NS /usr/bin/python3 tests/lib/syn_flood.py
--dst VIP --dport 80 --sources 198.18.128.0/17 --duration 15`. Every SYN has
a random source address in --sources, a random source port (1024-65535)
and a random sequence number, and a correct TCP checksum (the backends'
kernels answer it), so no two SYNs are likely to share a flow. The kernel
routes each one by its destination (raw socket, IP header included; the
kernel fills in the IP checksum and identification).

On exit (after --duration, or on SIGINT/SIGTERM) prints one JSON line:
{"sent": N, "errors": E, "seconds": S, "pps": N/S}.
"""

import argparse
import ipaddress
import json
import random
import signal
import socket
import struct
import time

IP_PROTO_TCP = 6
TCP_HEADER_LEN = 20
TCP_SYN = 0x02
TCP_WINDOW = 64240
TTL = 64
IP_DF = 0x4000
FIRST_PORT = 1024
# The clock is read once per this many SYNs: a system call per packet
# would halve the rate.
CLOCK_EVERY = 256


def fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dst", required=True)
    parser.add_argument("--dport", type=int, required=True)
    parser.add_argument("--sources", required=True, help="prefix the spoofed sources are drawn from")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    args = parser.parse_args()

    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    net = ipaddress.ip_network(args.sources)
    base, span = int(net.network_address), net.num_addresses
    dst = int(ipaddress.ip_address(args.dst))
    # The parts of the TCP checksum (RFC 9293 3.1: pseudo-header and header)
    # that do not change from one SYN to the next.
    constant = fold((dst >> 16) + (dst & 0xFFFF) + IP_PROTO_TCP + TCP_HEADER_LEN + args.dport +
                    ((TCP_HEADER_LEN // 4) << 12 | TCP_SYN) + TCP_WINDOW)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rand = random.getrandbits
    pack = struct.pack
    target = (args.dst, 0)
    sent = errors = 0
    start = time.monotonic()
    deadline = start + args.duration
    while not stop:
        for _ in range(CLOCK_EVERY):
            src = base + rand(32) % span
            sport = FIRST_PORT + rand(16) % (65536 - FIRST_PORT)
            seq = rand(32)
            csum = ~fold(constant + (src >> 16) + (src & 0xFFFF) + sport + (seq >> 16) + (seq & 0xFFFF)) & 0xFFFF
            packet = pack("!BBHHHBBHII", 0x45, 0, 20 + TCP_HEADER_LEN, 0, IP_DF, TTL, IP_PROTO_TCP, 0, src, dst) + \
                pack("!HHIIBBHHH", sport, args.dport, seq, 0, (TCP_HEADER_LEN // 4) << 4, TCP_SYN, TCP_WINDOW, csum, 0)
            try:
                sock.sendto(packet, target)
                sent += 1
            except OSError:
                errors += 1   # ENOBUFS when the interface queue is full: count and go on
        if time.monotonic() >= deadline:
            break
    seconds = time.monotonic() - start
    print(json.dumps({"sent": sent, "errors": errors, "seconds": round(seconds, 3),
                      "pps": round(sent / seconds) if seconds > 0 else 0}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
