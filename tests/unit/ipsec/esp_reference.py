#!/usr/bin/python3
"""Independent ESP reference for interoperability tests.

ESP tunnel mode (RFC 4303) carrying IPv4 in IPv4, AES-GCM with a 16-octet
ICV (RFC 4106), optional UDP encapsulation (RFC 3948), written from the RFCs
on top of python3-cryptography's AESGCM. It shares no code with the C++
implementation under test.

  decrypt: stdin has one outer packet per line (hex). Prints, per line,
           "OK <seq> <inner hex>" or "FAIL <reason>".
  encrypt: stdin has "<64-bit sequence number> <inner packet hex>" per line.
           Prints the outer packet (hex) per line.
"""

import argparse
import ipaddress
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IPPROTO_IPIP = 4  # ESP next header for an inner IPv4 packet (RFC 4303 2.6)
IPPROTO_UDP = 17
IPPROTO_ESP = 50
NAT_T_PORT = 4500  # RFC 3948 2
ICV_LEN = 16  # RFC 4106 6 (we only use the 16-octet ICV)
IV_LEN = 8  # RFC 4106 3.1
ESP_HDR_LEN = 8  # SPI + sequence number
ALIGN = 4  # RFC 4303 2.4: ciphertext ends on a 4-byte boundary
OUTER_TTL = 64
DF = 0x4000


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def aad(spi: int, seq: int, esn: bool) -> bytes:
    """RFC 4106 5: SPI || seq, or SPI || seq high || seq low with ESN."""
    if esn:
        return struct.pack("!III", spi, seq >> 32, seq & 0xFFFFFFFF)
    return struct.pack("!II", spi, seq & 0xFFFFFFFF)


def ipv4_header(src: int, dst: int, proto: int, payload_len: int, df: bool) -> bytes:
    ident = int.from_bytes(os.urandom(2), "big")
    hdr = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + payload_len, ident, DF if df else 0,
                      OUTER_TTL, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]


def encrypt(args) -> int:
    gcm = AESGCM(bytes.fromhex(args.key))
    salt = bytes.fromhex(args.salt)
    for line in sys.stdin:
        if not line.strip():
            continue
        seq_text, inner_hex = line.split()
        seq = int(seq_text)
        inner = bytes.fromhex(inner_hex)
        # RFC 4303 2.4 / 2.5: default padding bytes are 1, 2, 3, ...
        pad_len = (-(len(inner) + 2)) % ALIGN + args.extra_pad
        padding = bytes(range(1, pad_len + 1))
        if args.bad_padding and pad_len:
            padding = padding[:-1] + b"\0"
        plaintext = inner + padding + bytes([pad_len, args.next_header])
        iv = os.urandom(IV_LEN)  # any value never repeated under the key (RFC 4106 3.1)
        sealed = gcm.encrypt(salt + iv, plaintext, aad(args.spi, seq, args.esn))
        esp = struct.pack("!II", args.spi, seq & 0xFFFFFFFF) + iv + sealed
        if args.udp is not None:
            # RFC 3948 2.1: checksum transmitted as zero.
            esp = struct.pack("!HHHH", args.udp, NAT_T_PORT, 8 + len(esp), 0) + esp
            proto = IPPROTO_UDP
        else:
            proto = IPPROTO_ESP
        outer = ipv4_header(int(ipaddress.IPv4Address(args.src)), int(ipaddress.IPv4Address(args.dst)),
                            proto, len(esp), True)
        print((outer + esp).hex())
    return 0


def check_outer(pkt: bytes, args):
    """Returns (esp bytes, None) or (None, reason)."""
    if len(pkt) < 20 or pkt[0] != 0x45:
        return None, "outer not IPv4 without options"
    (total, frag, ttl, proto, src, dst) = (struct.unpack("!H", pkt[2:4])[0], struct.unpack("!H", pkt[6:8])[0],
                                           pkt[8], pkt[9], struct.unpack("!I", pkt[12:16])[0],
                                           struct.unpack("!I", pkt[16:20])[0])
    if total != len(pkt):
        return None, "outer total length %d != packet %d" % (total, len(pkt))
    if checksum(pkt[:20]) != 0:
        return None, "outer header checksum wrong"
    if ttl != OUTER_TTL:
        return None, "outer TTL %d" % ttl
    if bool(frag & DF) != args.df or frag & 0x3FFF:
        return None, "outer flags/offset 0x%04x" % frag
    if src != int(ipaddress.IPv4Address(args.src)) or dst != int(ipaddress.IPv4Address(args.dst)):
        return None, "outer addresses %s -> %s" % (ipaddress.IPv4Address(src), ipaddress.IPv4Address(dst))
    body = pkt[20:]
    if args.udp is not None:
        if proto != IPPROTO_UDP:
            return None, "outer protocol %d, expected UDP" % proto
        sport, dport, ulen, ucsum = struct.unpack("!HHHH", body[:8])
        if sport != args.udp or dport != NAT_T_PORT or ulen != len(body) or ucsum != 0:
            return None, "UDP header %d %d %d %d" % (sport, dport, ulen, ucsum)
        return body[8:], None
    if proto != IPPROTO_ESP:
        return None, "outer protocol %d, expected ESP" % proto
    return body, None


def decrypt_one(pkt: bytes, gcm: AESGCM, salt: bytes, args) -> str:
    esp, err = check_outer(pkt, args)
    if err:
        return "FAIL " + err
    if len(esp) < ESP_HDR_LEN + IV_LEN + ALIGN + ICV_LEN or (len(esp) - ESP_HDR_LEN - IV_LEN - ICV_LEN) % ALIGN:
        return "FAIL ESP length %d" % len(esp)
    spi, seq_low = struct.unpack("!II", esp[:8])
    if spi != args.spi:
        return "FAIL SPI 0x%08x" % spi
    seq = (args.esn_high << 32) | seq_low if args.esn else seq_low
    iv = esp[8:16]
    try:
        plain = gcm.decrypt(salt + iv, esp[16:], aad(args.spi, seq, args.esn))
    except Exception:  # cryptography raises InvalidTag
        return "FAIL ICV"
    pad_len, next_header = plain[-2], plain[-1]
    if next_header != IPPROTO_IPIP:
        return "FAIL next header %d" % next_header
    padding = plain[-2 - pad_len:-2]
    if padding != bytes(range(1, pad_len + 1)):
        return "FAIL padding"
    inner = plain[:-2 - pad_len]
    if len(inner) < 20 or inner[0] >> 4 != 4 or struct.unpack("!H", inner[2:4])[0] != len(inner):
        return "FAIL inner packet"
    return "OK %d %s" % (seq, inner.hex())


def decrypt(args) -> int:
    gcm = AESGCM(bytes.fromhex(args.key))
    salt = bytes.fromhex(args.salt)
    for line in sys.stdin:
        if line.strip():
            print(decrypt_one(bytes.fromhex(line.strip()), gcm, salt, args))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["encrypt", "decrypt"])
    parser.add_argument("--key", required=True, help="AES key, hex (16 or 32 bytes)")
    parser.add_argument("--salt", required=True, help="4-byte salt, hex")
    parser.add_argument("--spi", required=True, type=lambda s: int(s, 0))
    parser.add_argument("--src", required=True, help="outer source")
    parser.add_argument("--dst", required=True, help="outer destination")
    parser.add_argument("--esn", action="store_true", help="extended sequence numbers")
    parser.add_argument("--esn-high", type=int, default=0, help="decrypt: high 32 bits of the sequence")
    parser.add_argument("--udp", type=int, default=None, help="UDP encapsulation with this source port")
    parser.add_argument("--df", type=int, default=1, help="decrypt: expected DF bit")
    # Deliberately wrong packets for negative tests (correctly authenticated).
    parser.add_argument("--next-header", type=int, default=IPPROTO_IPIP, help="encrypt: ESP next header")
    parser.add_argument("--extra-pad", type=int, default=0, help="encrypt: extra padding, a multiple of 4")
    parser.add_argument("--bad-padding", action="store_true", help="encrypt: padding not 1, 2, 3, ...")
    args = parser.parse_args()
    args.df = bool(args.df)
    return encrypt(args) if args.mode == "encrypt" else decrypt(args)


if __name__ == "__main__":
    sys.exit(main())
