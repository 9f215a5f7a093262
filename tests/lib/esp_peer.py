#!/usr/bin/python3
"""A remote ESP appliance for integration tests, independent of isthmusd.

Plays the far end of an ESP tunnel-mode tunnel (RFC 4303, AES-GCM RFC 4106,
optional UDP encapsulation RFC 3948) on a raw AF_PACKET socket: decrypts
what isthmusd sends with python3-cryptography (the AAD helper comes from
tests/unit/ipsec/esp_reference.py), answers ICMP echo requests to the hosts
it stands for through the tunnel, and on command sends crafted packets
(valid, replayed, outside the replay window, ICV-tampered, unknown SPI,
wrong outer source).

With --vxlan-vni N the tunnel carries VXLAN inside ESP (an isthmusd tunnel
with `ipsec.vxlan`, RFC 7348 in RFC 4303 tunnel mode): the ESP inner packet
is a VXLAN packet between the two endpoints (IPv4 + UDP to --vxlan-port +
VXLAN header with the I flag and VNI N + Ethernet frame), which the peer
builds and checks by hand, as a Linux vxlan device over an ESP-protected
path would.

Every decrypted or refused packet is logged, one line each:
  RX OK <spi hex> <seq> <inner proto> <inner src> <inner dst> [vni <N>]
  RX FAIL <spi hex> <reason>
Commands: the test writes a file CTL_DIR/cmd-N with one command, the peer
runs it and creates CTL_DIR/cmd-N.done:
  rekey                    switch the outbound SA to the next --out SA
  inject KIND COUNT        KIND: valid replay window tamper spi source,
                           and with --vxlan-vni: vni (valid ESP, VXLAN with
                           another VNI), bare (valid ESP, no VXLAN inside)
"""

import argparse
import ipaddress
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "ipsec"))
import esp_reference  # noqa: E402  (RFC 4106 AAD and RFC 1071 checksum, shared with the unit tests)

ETH_P_IP = 0x0800
IPPROTO_ICMP = 1
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
IPPROTO_UDP = 17
VXLAN_FLAG_I = 0x08  # RFC 7348 section 5 (scapy's default 0x0C would set a GPE bit)
VXLAN_SRC_PORT_BASE = 49152
VXLAN_SRC_PORTS = 16384
ETH_HLEN = 14
UDP_HLEN = 8
VXLAN_HLEN = 8
SEQ_HALF = 1 << 31
SEQ_SPACE = 1 << 32
UNKNOWN_SPI = 0x0BAD0BAD
POLL_S = 0.02
INJECT_ID = 0x5151
# Crafted packets that depend on an earlier one (the replayed copy, the old
# numbers after the window moved) follow it at once, so that both usually
# land in one receive burst: the window must move inside a burst too.
BURST_GAP_S = 0


class Sa:
    def __init__(self, text: str):
        spi, key, salt = text.split(":")
        self.spi = int(spi, 0)
        self.gcm = AESGCM(bytes.fromhex(key))
        self.salt = bytes.fromhex(salt)
        self.seq = 0  # outbound: last sent; inbound: highest seen (64-bit)


def ip_aton(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def derived_mac(address: int) -> bytes:
    """isthmusd's inner MAC of a tunnel endpoint: 02:00 + the IPv4 address."""
    return b"\x02\x00" + struct.pack("!I", address)


class Peer:
    def __init__(self, args):
        self.args = args
        self.local = ip_aton(args.local)
        self.remote = ip_aton(args.remote)
        self.inbound = {sa.spi: sa for sa in (Sa(t) for t in args.inbound)}
        self.outbound = [Sa(t) for t in args.outbound]
        for sa in self.outbound:
            sa.seq = args.seq_start - 1
        self.active = 0
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.sock.bind((args.iface, 0))
        self.sock.settimeout(POLL_S)
        self.src_mac = bytes.fromhex(open("/sys/class/net/%s/address" % args.iface).read().strip().replace(":", ""))
        self.dst_mac = bytes.fromhex(args.nva_mac.replace(":", ""))
        self.log = open(args.log, "a", buffering=1)
        self.next_cmd = 0
        self.vni = args.vxlan_vni

    # ---------------------------------------------------------------- VXLAN inside ESP
    def vxlan_wrap(self, inner: bytes, vni: int) -> bytes:
        """The ESP inner packet: VXLAN from our endpoint to isthmusd's."""
        frame = derived_mac(self.remote) + derived_mac(self.local) + struct.pack("!H", ETH_P_IP) + inner
        sport = VXLAN_SRC_PORT_BASE + (esp_reference.checksum(inner[12:20]) % VXLAN_SRC_PORTS)
        vxlan = struct.pack("!B3xI", VXLAN_FLAG_I, vni << 8) + frame
        udp = struct.pack("!HHHH", sport, self.args.vxlan_port, UDP_HLEN + len(vxlan), 0) + vxlan
        return esp_reference.ipv4_header(self.local, self.remote, IPPROTO_UDP, len(udp), True) + udp

    def vxlan_unwrap(self, pkt: bytes):
        """(inner IPv4 packet, None) or (None, why it is not our VXLAN)."""
        if len(pkt) < 20 or pkt[0] != 0x45 or pkt[9] != IPPROTO_UDP:
            return None, "not UDP"
        src, dst = struct.unpack("!II", pkt[12:20])
        if src != self.remote or dst != self.local:
            return None, "addresses %s -> %s" % (ipaddress.IPv4Address(src), ipaddress.IPv4Address(dst))
        total = struct.unpack("!H", pkt[2:4])[0]
        udp = pkt[20:total]
        if len(udp) < UDP_HLEN + VXLAN_HLEN + ETH_HLEN or struct.unpack("!H", udp[2:4])[0] != self.args.vxlan_port:
            return None, "not UDP to the VXLAN port"
        flags, word = struct.unpack("!B3xI", udp[UDP_HLEN:UDP_HLEN + VXLAN_HLEN])
        if not flags & VXLAN_FLAG_I:
            return None, "I flag clear"
        if word >> 8 != self.vni:
            return None, "VNI %d" % (word >> 8)
        frame = udp[UDP_HLEN + VXLAN_HLEN:]
        if frame[:6] != derived_mac(self.local) or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
            return None, "inner Ethernet"
        return frame[ETH_HLEN:], None

    # ---------------------------------------------------------------- send
    def esp_packet(self, sa: Sa, seq: int, inner: bytes, src: int = None, spi: int = None, tamper=False) -> bytes:
        pad_len = (-(len(inner) + 2)) % esp_reference.ALIGN
        plaintext = inner + bytes(range(1, pad_len + 1)) + bytes([pad_len, esp_reference.IPPROTO_IPIP])
        iv = os.urandom(esp_reference.IV_LEN)
        the_spi = sa.spi if spi is None else spi
        sealed = sa.gcm.encrypt(sa.salt + iv, plaintext, esp_reference.aad(the_spi, seq, self.args.esn))
        if tamper:
            sealed = sealed[:-1] + bytes([sealed[-1] ^ 0x01])  # one ICV bit
        esp = struct.pack("!II", the_spi, seq & 0xFFFFFFFF) + iv + sealed
        proto = esp_reference.IPPROTO_ESP
        if self.args.udp:
            esp = struct.pack("!HHHH", esp_reference.NAT_T_PORT, esp_reference.NAT_T_PORT, 8 + len(esp), 0) + esp
            proto = esp_reference.IPPROTO_UDP
        outer = esp_reference.ipv4_header(self.local if src is None else src, self.remote, proto, len(esp), True)
        return outer + esp

    def send(self, packet: bytes):
        self.sock.send(self.dst_mac + self.src_mac + struct.pack("!H", ETH_P_IP) + packet)

    def send_inner(self, inner: bytes, vni: int = None, bare: bool = False, **kw):
        if self.vni is not None and not bare:
            inner = self.vxlan_wrap(inner, self.vni if vni is None else vni)
        sa = self.outbound[self.active]
        sa.seq += 1
        packet = self.esp_packet(sa, sa.seq, inner, **kw)
        self.send(packet)
        return packet

    # ---------------------------------------------------------------- receive
    def place(self, sa: Sa, low: int) -> int:
        """RFC 4303 Appendix A2.2: the 64-bit number nearest the highest seen."""
        if not self.args.esn:
            return low
        high = sa.seq >> 32
        top_low = sa.seq & 0xFFFFFFFF
        if low < top_low and top_low - low > SEQ_HALF:
            high += 1
        elif low > top_low and low - top_low > SEQ_HALF and high > 0:
            high -= 1
        return (high << 32) | low

    def receive(self, frame: bytes):
        if len(frame) < 34:
            return
        pkt = frame[14:]
        total = struct.unpack("!H", pkt[2:4])[0]
        pkt = pkt[:total]
        src, dst = struct.unpack("!II", pkt[12:20])
        if src != self.remote or dst != self.local or pkt[0] != 0x45:
            return
        body = pkt[20:]
        if pkt[9] == esp_reference.IPPROTO_UDP:
            if len(body) < 12 or struct.unpack("!H", body[2:4])[0] != esp_reference.NAT_T_PORT:
                return
            body = body[8:]
        elif pkt[9] != esp_reference.IPPROTO_ESP:
            return
        spi, low = struct.unpack("!II", body[:8])
        sa = self.inbound.get(spi)
        if sa is None:
            self.log.write("RX FAIL 0x%08x unknown SPI\n" % spi)
            return
        seq = self.place(sa, low)
        try:
            plain = sa.gcm.decrypt(sa.salt + body[8:16], body[16:], esp_reference.aad(spi, seq, self.args.esn))
        except Exception:  # InvalidTag
            self.log.write("RX FAIL 0x%08x ICV seq %d\n" % (spi, seq))
            return
        sa.seq = max(sa.seq, seq)
        pad_len, next_header = plain[-2], plain[-1]
        inner = plain[:-2 - pad_len]
        if next_header != esp_reference.IPPROTO_IPIP or plain[-2 - pad_len:-2] != bytes(range(1, pad_len + 1)):
            self.log.write("RX FAIL 0x%08x trailer\n" % spi)
            return
        suffix = ""
        if self.vni is not None:
            inner, why = self.vxlan_unwrap(inner)
            if inner is None:
                self.log.write("RX FAIL 0x%08x vxlan: %s\n" % (spi, why))
                return
            suffix = " vni %d" % self.vni
        self.log.write("RX OK 0x%08x %d %d %s %s%s\n" % (spi, seq, inner[9], ipaddress.IPv4Address(inner[12:16]),
                                                       ipaddress.IPv4Address(inner[16:20]), suffix))
        self.answer(inner)

    def answer(self, inner: bytes):
        """Echo replies for the hosts behind us, like a real remote NVA would route them."""
        ihl = (inner[0] & 0x0F) * 4
        if inner[9] != IPPROTO_ICMP or inner[ihl] != ICMP_ECHO_REQUEST:
            return
        if inner[16:20] not in [ipaddress.IPv4Address(h).packed for h in self.args.serve]:
            return
        icmp = bytes([ICMP_ECHO_REPLY, 0, 0, 0]) + inner[ihl + 4:]
        icmp = icmp[:2] + struct.pack("!H", esp_reference.checksum(icmp)) + icmp[4:]
        self.send_inner(icmp_packet(inner[16:20], inner[12:16], icmp))

    # ---------------------------------------------------------------- commands
    def inject(self, kind: str, count: int):
        inner = icmp_echo(ipaddress.IPv4Address(self.args.serve[0]).packed,
                          ipaddress.IPv4Address(self.args.inject_dst).packed)
        sa = self.outbound[self.active]
        if kind == "window":
            # Move isthmusd's window well past what we will send as "old".
            sa.seq += 2 * self.args.window + count
            self.send_inner(inner)
            time.sleep(BURST_GAP_S)
        for _ in range(count):
            if kind == "valid":
                self.send_inner(inner)
            elif kind == "replay":
                packet = self.send_inner(inner)
                time.sleep(BURST_GAP_S)
                self.send(packet)
            elif kind == "tamper":
                self.send_inner(inner, tamper=True)
            elif kind == "spi":
                self.send_inner(inner, spi=UNKNOWN_SPI)
            elif kind == "source":
                self.send_inner(inner, src=ip_aton(self.args.wrong_source))
            elif kind == "vni":
                self.send_inner(inner, vni=self.vni + 1)
            elif kind == "bare":
                self.send_inner(inner, bare=True)
            elif kind == "window":
                # Never sent, but older than the window below the highest.
                old = sa.seq - self.args.window - 1 - _
                wrapped = inner if self.vni is None else self.vxlan_wrap(inner, self.vni)
                self.send(self.esp_packet(sa, old, wrapped))
            else:
                raise ValueError(kind)
            time.sleep(0.002)

    def poll_commands(self):
        path = os.path.join(self.args.ctl, "cmd-%d" % self.next_cmd)
        if not os.path.exists(path):
            return
        words = open(path).read().split()
        if words[0] == "rekey":
            self.active = min(self.active + 1, len(self.outbound) - 1)
        elif words[0] == "inject":
            self.inject(words[1], int(words[2]))
        self.log.write("CMD %s\n" % " ".join(words))
        open(path + ".done", "w").close()
        self.next_cmd += 1

    def run(self):
        while True:
            self.poll_commands()
            try:
                frame = self.sock.recv(65535)
            except socket.timeout:
                continue
            self.receive(frame)


def icmp_packet(src: bytes, dst: bytes, icmp: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, IPPROTO_ICMP, 0, src, dst)
    return hdr[:10] + struct.pack("!H", esp_reference.checksum(hdr)) + hdr[12:] + icmp


def icmp_echo(src: bytes, dst: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, INJECT_ID, 1) + b"isthmus-esp-peer"
    icmp = icmp[:2] + struct.pack("!H", esp_reference.checksum(icmp)) + icmp[4:]
    return icmp_packet(src, dst, icmp)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iface", required=True)
    p.add_argument("--local", required=True, help="our underlay address")
    p.add_argument("--remote", required=True, help="isthmusd's underlay address")
    p.add_argument("--nva-mac", required=True)
    p.add_argument("--inbound", action="append", default=[], help="SPI:KEYHEX:SALTHEX we decrypt with")
    p.add_argument("--outbound", action="append", default=[], help="SPI:KEYHEX:SALTHEX we encrypt with (first active)")
    p.add_argument("--esn", action="store_true")
    p.add_argument("--udp", action="store_true", help="RFC 3948 UDP encapsulation")
    p.add_argument("--seq-start", type=int, default=1, help="first outbound sequence number")
    p.add_argument("--serve", action="append", default=[], help="inner address we answer pings for")
    p.add_argument("--inject-dst", required=True, help="inner destination of injected packets")
    p.add_argument("--wrong-source", required=True, help="outer source of the wrong-source injection")
    p.add_argument("--window", type=int, default=1024, help="isthmusd's replay window")
    p.add_argument("--vxlan-vni", type=int, help="VXLAN inside ESP with this VNI")
    p.add_argument("--vxlan-port", type=int, default=4789, help="UDP port of the VXLAN inside ESP")
    p.add_argument("--log", required=True)
    p.add_argument("--ctl", required=True)
    Peer(p.parse_args()).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
