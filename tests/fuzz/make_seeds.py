#!/usr/bin/env python3
"""Writes the seed corpora of the packet, ESP, config and admin fuzz targets
(bgp_message has make_corpus.py): a handful of small valid and broken inputs
per target, one file each, named after what they exercise. Each input starts
with the configuration byte(s) the target's header comment describes.

Run from anywhere: tests/fuzz/make_seeds.py [TARGET...] (rewrites
corpus/TARGET/ for packet_check, nat, esp_decap, config, admin_request).
Addresses come from the documentation ranges only."""

import json
import pathlib
import re
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

TCP, UDP, ICMP = 6, 17, 1
PORT_MAC = bytes([0x02, 0, 0, 0, 0, 0x01])
PEER_MAC = bytes([0x02, 0, 0, 0, 0, 0x02])


def ip4(dotted):
    return bytes(int(x) for x in dotted.split("."))


def csum(data, initial=0):
    if len(data) % 2:
        data += b"\x00"
    s = initial + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(proto, payload, src="198.18.1.2", dst="203.0.113.10", ttl=64, frag=0x4000, options=b"", ident=1):
    ihl = 20 + len(options)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl // 4, 0, ihl + len(payload), ident, frag, ttl, proto, 0,
                      ip4(src), ip4(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def pseudo(src, dst, proto, length):
    p = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, proto, length)
    return sum(struct.unpack("!6H", p))


def tcp(sport, dport, flags=0x02, options=b"", payload=b"", src="198.18.1.2", dst="203.0.113.10"):
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, off << 4, flags, 65535, 0, 0) + options + payload
    c = csum(seg, pseudo(src, dst, TCP, len(seg)))
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(sport, dport, payload=b"", src="198.18.1.2", dst="203.0.113.10", checksum=True):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if not checksum:
        return seg
    c = csum(seg, pseudo(src, dst, UDP, len(seg))) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(icmp_type, code, rest, payload=b""):
    msg = struct.pack("!BBHI", icmp_type, code, 0, rest) + payload
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def eth(payload, dst=PORT_MAC, ether_type=0x0800):
    return dst + PEER_MAC + struct.pack("!H", ether_type) + payload


MSS_1460 = bytes([2, 4, 0x05, 0xB4])
SYN = ipv4(TCP, tcp(40000, 80, options=MSS_1460))


def packet_check_seeds():
    # Configuration byte: bit 0 repair checksums, bit 1 port MAC = frame
    # destination, bits 2-7 MSS clamp value.
    c = 0x02 | (20 << 2)
    return {
        "udp_forward": bytes([c]) + eth(ipv4(UDP, udp(1024, 53, b"q" * 12))),
        "tcp_syn_mss_1460": bytes([c]) + eth(SYN),
        "tcp_syn_mss_odd_offset": bytes([c]) + eth(ipv4(TCP, tcp(40000, 80, options=bytes([1]) + MSS_1460 + bytes([0, 0, 0])))),
        "tcp_syn_options_end": bytes([c]) + eth(ipv4(TCP, tcp(40000, 80, options=bytes([0, 0, 0, 0]) + MSS_1460))),
        "ttl_1": bytes([c]) + eth(ipv4(UDP, udp(1024, 53), ttl=1)),
        "ip_options": bytes([c]) + eth(ipv4(UDP, udp(1024, 53), options=bytes([1, 1, 1, 0]))),
        "fragment": bytes([c]) + eth(ipv4(UDP, udp(1024, 53, b"x" * 16), frag=0x2000)),
        "arp": bytes([c]) + eth(bytes(28), dst=b"\xff" * 6, ether_type=0x0806),
        "broadcast_dst": bytes([c]) + eth(ipv4(UDP, udp(1024, 53), dst="255.255.255.255"), dst=b"\xff" * 6),
        "martian_source": bytes([c]) + eth(ipv4(UDP, udp(1024, 53), src="127.0.0.1")),
        "padded_frame": bytes([c]) + eth(ipv4(ICMP, icmp(8, 0, 0x00010001))) + bytes(18),
        "bad_checksum_repaired": bytes([c | 0x01]) + eth(SYN[:10] + b"\0\0" + SYN[12:]),
        "runt": bytes([c]) + eth(b"\x45\x00"),
    }


def nat_seeds():
    # Configuration byte (bit 0 repair, bit 1 reply direction), then the
    # other direction's key: src, dst, sport, dport.
    backend_key = ip4("198.51.100.20") + ip4("198.18.1.2") + struct.pack("!HH", 8080, 40000)
    snat_key = ip4("198.51.100.20") + ip4("192.0.2.1") + struct.pack("!HH", 8080, 1024)
    client_key = ip4("198.18.1.2") + ip4("203.0.113.10") + struct.pack("!HH", 40000, 80)
    quoted_udp = ipv4(UDP, udp(40000, 80, b"data"), src="198.18.1.2", dst="203.0.113.10")[:28]
    quoted_tcp = ipv4(TCP, tcp(40000, 80), src="198.18.1.2", dst="203.0.113.10")[:40]
    back_quoted = ipv4(UDP, udp(8080, 40000), src="198.51.100.20", dst="198.18.1.2")[:28]
    return {
        "tcp_syn_dnat": b"\x00" + backend_key + SYN,
        "tcp_syn_snat": b"\x00" + snat_key + SYN,
        "udp_dnat": b"\x00" + backend_key + ipv4(UDP, udp(40000, 80, b"hello")),
        "udp_no_checksum": b"\x00" + backend_key + ipv4(UDP, udp(40000, 80, b"hello", checksum=False)),
        "udp_reply": b"\x02" + client_key + ipv4(UDP, udp(8080, 40000, b"answer", src="198.51.100.20",
                                                             dst="198.18.1.2"), src="198.51.100.20", dst="198.18.1.2"),
        "icmp_echo_request": b"\x00" + ip4("198.51.100.20") + ip4("198.18.1.2") + struct.pack("!HH", 0, 7)
                             + ipv4(ICMP, icmp(8, 0, 0x00070001, b"ping")),
        "icmp_echo_reply_id0": b"\x02" + ip4("198.18.1.2") + ip4("203.0.113.10") + struct.pack("!HH", 0, 0)
                               + ipv4(ICMP, icmp(0, 0, 0x01000000), src="198.51.100.20", dst="192.0.2.1"),
        "icmp_frag_needed_udp": b"\x02" + client_key + ipv4(ICMP, icmp(3, 4, 1400, quoted_udp), src="192.0.2.254",
                                                            dst="198.18.1.2"),
        "icmp_port_unreach_tcp": b"\x00" + backend_key + ipv4(ICMP, icmp(3, 3, 0, quoted_tcp), src="203.0.113.10",
                                                              dst="198.18.1.2"),
        "icmp_time_exceeded_reply": b"\x00" + backend_key + ipv4(ICMP, icmp(11, 0, 0, back_quoted), src="192.0.2.254",
                                                                 dst="198.51.100.20"),
        "fragment": b"\x00" + backend_key + ipv4(UDP, udp(40000, 80, b"x" * 16), frag=0x2000),
        "tcp_short_header": b"\x01" + backend_key + ipv4(TCP, tcp(40000, 80)[:12]),
    }


def esp_seeds():
    # Configuration byte (bit 0 UDP, bit 1 ESN, bit 2 raw, bit 3 tamper,
    # bits 4-5 link padding), sequence number, then the plaintext: inner
    # packet, padding 1, 2, 3..., pad length, next header 4.
    inner = ipv4(UDP, udp(1024, 53, b"query"), src="198.18.1.2", dst="198.51.100.10")

    def plaintext(packet, next_header=4, pad=None):
        n = (-(len(packet) + 2)) % 4 if pad is None else pad
        return packet + bytes(range(1, n + 1)) + bytes([n, next_header])

    vxlan_inner = eth(ipv4(UDP, udp(1024, 53), src="198.18.1.2", dst="198.51.100.10"))
    vxlan = ipv4(UDP, udp(49152, 4789, struct.pack("!BBHI", 0x08, 0, 0, 42 << 8) + vxlan_inner, checksum=False),
                 src="192.0.2.2", dst="192.0.2.1")
    seq = struct.pack("!I", 1)
    return {
        "valid": b"\x00" + seq + plaintext(inner),
        "valid_udp4500": b"\x01" + seq + plaintext(inner),
        "valid_esn": b"\x02" + struct.pack("!I", 77) + plaintext(inner),
        "valid_extra_padding": b"\x00" + seq + plaintext(inner, pad=(-(len(inner) + 2)) % 4 + 8),
        "valid_link_padding": b"\x30" + seq + plaintext(inner),
        "vxlan_in_esp": b"\x00" + seq + plaintext(vxlan),
        "bad_next_header": b"\x00" + seq + plaintext(inner, next_header=41),
        "bad_padding_bytes": b"\x00" + seq + inner + b"\x00\x00" + bytes([2, 4]),
        "pad_len_too_long": b"\x00" + seq + b"\x00\x00" + bytes([200, 4]),
        "empty_inner": b"\x00" + seq + bytes([1, 2, 2, 4]),
        "tampered_icv": b"\x08" + seq + b"\x01" + struct.pack("!H", 0xFFFF) + plaintext(inner),
        "tampered_total_length": b"\x08" + seq + b"\x10" + struct.pack("!H", 2) + plaintext(inner),
        "raw_truncated": b"\x04" + seq + ipv4(50, struct.pack("!II", 0x1000, 1) + bytes(8), src="192.0.2.2",
                                                dst="192.0.2.1"),
    }


def config_seeds():
    """deploy/etc/isthmusd.yaml and every YAML example of the docs, plus a
    few broken ones."""
    seeds = {"deploy_isthmusd": (ROOT / "deploy" / "etc" / "isthmusd.yaml").read_bytes()}
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.S)):
            seeds[f"doc_{doc.stem.replace('-', '_')}_{i}"] = block.encode()
    seeds.update({
        "empty": b"",
        "two_documents": b"ports: []\n---\nports: []\n",
        "unknown_key": b"portz: []\n",
        "bad_indent": b"ports:\n - name: a\n   driver: [\n",
        "anchors_aliases": b"a: &x {name: p0}\nports: [*x, *x]\n",
        "deep_nesting": b"x: " + b"[" * 64 + b"]" * 64 + b"\n",
    })
    return seeds


def admin_seeds():
    requests = [
        {"command": "show", "args": ["ports"]},
        {"command": "show", "args": ["bgp", "neighbors"]},
        {"command": "show", "args": ["tunnels"]},
        {"command": "reload"},
        {"command": "fail", "args": []},
        {"command": "show", "args": None, "json": True},
        {"command": "", "args": []},
        {"command": "show", "args": [1, 2]},
        {"command": "show", "args": "ports"},
    ]
    seeds = {f"request_{i}": (json.dumps(r) + "\n").encode() for i, r in enumerate(requests)}
    seeds.update({
        "pipelined": b'{"command":"show","args":["ports"]}\n{"command":"reload"}\n',
        "not_an_object": b"[1,2,3]\n",
        "not_json": b"show ports\n",
        "unicode_escapes": b'{"command":"sh\\u00f6w","args":["\\ud83d\\ude00"]}\n',
        "invalid_utf8": b'{"command":"show","args":["\xff\xfe"]}\n',
        "whitespace_crlf": b'  {"command":"show"}  \r\n\n\n',
    })
    return seeds


GENERATORS = {
    "packet_check": packet_check_seeds,
    "nat": nat_seeds,
    "esp_decap": esp_seeds,
    "config": config_seeds,
    "admin_request": admin_seeds,
}


def main():
    targets = sys.argv[1:] or list(GENERATORS)
    for target in targets:
        out = HERE / "corpus" / target
        out.mkdir(parents=True, exist_ok=True)
        for old in out.iterdir():
            old.unlink()
        seeds = GENERATORS[target]()
        for name, data in seeds.items():
            (out / name).write_bytes(data)
        print(f"wrote {len(seeds)} seeds to {out}")


if __name__ == "__main__":
    main()
