#!/usr/bin/python3
"""A scripted BGP-4 peer on plain sockets, for byte-level malformed UPDATEs.

ExaBGP builds its UPDATEs from parsed attributes, so it cannot write a
length field that lies, an attribute twice, attributes out of order or a
broken MP_REACH_NLRI. This peer can: it does the OPEN/KEEPALIVE handshake
(RFC 4271 8), then sends UPDATE bytes built by hand from CASES and reports
what the other side did about them. It also misbehaves at the session level
(tests/integration/test_bgp_hostile_sessions.sh): OPENs built by hand from
OPEN_CASES, UPDATE floods, silence with the connection open, and a TCP reset
in the middle of a message.

It is driven through a command file (one command per line, appended by the
test) and answers in a result file, one line per command, prefixed with the
command's sequence number:

  SEQ connect            -> SEQ established | SEQ error TEXT
  SEQ announce PREFIX    -> a valid UPDATE for PREFIX, then the barrier
  SEQ withdraw PREFIX    -> a withdrawal, then the barrier
  SEQ case NAME          -> CASES[NAME] sent, then the barrier
  SEQ rib PREFIX         -> SEQ present FLAGS:TYPE,... | SEQ absent
                            (what the other side advertised to us)
  SEQ open CASE          -> connects with OPEN_CASES[CASE] instead of our
                            usual OPEN: SEQ established | SEQ notification
                            CODE SUBCODE | SEQ closed (no retry)
  SEQ announce_many FIRST COUNT
                         -> COUNT prefixes of FIRST's length from FIRST on,
                            packed into as few UPDATEs as fit, then the barrier
  SEQ flood FIRST COUNT ROUNDS
                         -> ROUNDS x (COUNT announcements, then COUNT
                            withdrawals, one prefix per UPDATE), then all
                            COUNT announced and every odd one withdrawn, in
                            one burst as fast as TCP takes it, then the
                            barrier: "established UPDATES SECONDS"
  SEQ silent             -> stops sending anything (keepalives too) but keeps
                            the connection open, and waits for the other
                            side: SEQ notification CODE SUBCODE after SECONDS
                            (since the last message we sent) | SEQ closed
  SEQ reset_mid_update PREFIX
                         -> half of an UPDATE for PREFIX, then a TCP RST
                            (SO_LINGER 0): SEQ reset
  SEQ quit

"The barrier" is a ROUTE-REFRESH request: with enhanced route refresh
(RFC 7313) the other side answers with BoRR ... EoRR once it has read
everything sent before, so the outcome is known without guessing a delay:
  SEQ established                 EoRR came back: the session survived
  SEQ notification CODE SUBCODE   a NOTIFICATION came first (session reset)
  SEQ closed                      the connection closed without one

Only the Python standard library; no scapy needed.
"""

import argparse
import ipaddress
import os
import select
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16
HEADER_SIZE = 19
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
AFI_IPV4, SAFI_UNICAST = 1, 1
RR_REQUEST, RR_BORR, RR_EORR = 0, 1, 2
AS_TRANS = 23456
AS_SEQUENCE = 2

# Attribute flags and type codes (RFC 4271 4.3, RFC 4760, RFC 6793, RFC 9234).
WELL_KNOWN = 0x40
OPTIONAL = 0x80
OPTIONAL_TRANSITIVE = 0xC0
EXTENDED_LENGTH = 0x10
ORIGIN, AS_PATH, NEXT_HOP, MED = 1, 2, 3, 4
COMMUNITIES, MP_REACH, AS4_PATH, OTC = 8, 14, 17, 35

# Capabilities (RFC 5492): MP IPv4 unicast, route refresh, enhanced route
# refresh, 4-octet AS.
CAP_MP, CAP_RR, CAP_ERR, CAP_AS4 = 1, 2, 70, 65
# Two private-use codes (128-255, RFC 5492 10) and FQDN (73), which FRR
# sends and isthmusd does not know.
CAP_UNKNOWN_A, CAP_UNKNOWN_B, CAP_FQDN = 200, 131, 73
AFI_IPV6 = 2

BARRIER_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 20.0
POLL_S = 0.05
KEEPALIVE_EVERY_S = 10.0        # at most; a third of --hold when that is less
MAX_MESSAGE_SIZE = 4096         # RFC 4271 4.1
SILENT_TIMEOUT_FACTOR = 3       # `silent` gives up after 3 hold times


# ----------------------------------------------------------------- builders

def message(msg_type, body, length=None):
    """Header + body; `length` overrides the header's length field."""
    total = HEADER_SIZE + len(body) if length is None else length
    return MARKER + struct.pack("!HB", total, msg_type) + body


def attr(flags, code, value, length=None):
    """One path attribute; `length` overrides its length field."""
    n = len(value) if length is None else length
    if flags & EXTENDED_LENGTH:
        return struct.pack("!BBH", flags, code, n) + value
    return struct.pack("!BBB", flags, code, n) + value


def prefix_bytes(text):
    net = ipaddress.ip_network(text)
    octets = (net.prefixlen + 7) // 8
    return bytes([net.prefixlen]) + net.network_address.packed[:octets]


def update(withdrawn=b"", attrs=b"", nlri=b"", attrs_length=None):
    n = len(attrs) if attrs_length is None else attrs_length
    return message(UPDATE, struct.pack("!H", len(withdrawn)) + withdrawn +
                   struct.pack("!H", n) + attrs + nlri)


def origin_igp():
    return attr(WELL_KNOWN, ORIGIN, b"\x00")


def as_path(asns, four_octet):
    fmt = "!I" if four_octet else "!H"
    body = bytes([AS_SEQUENCE, len(asns)]) + b"".join(struct.pack(fmt, a) for a in asns)
    return attr(WELL_KNOWN, AS_PATH, body)


def next_hop(addr):
    return attr(WELL_KNOWN, NEXT_HOP, socket.inet_aton(addr))


def mp_reach(nh_bytes, nlri):
    """MP_REACH_NLRI for AFI 1 / SAFI 1 (RFC 4760 3)."""
    body = struct.pack("!HBB", AFI_IPV4, SAFI_UNICAST, len(nh_bytes)) + nh_bytes + b"\x00" + nlri
    return attr(OPTIONAL, MP_REACH, body)


class Peer:
    """What a case needs to know about this speaker."""

    def __init__(self, asn, address, remote, four_octet):
        self.asn = asn
        self.address = address
        self.remote = remote        # the receiving speaker's address
        self.four_octet = four_octet

    def path(self, extra=()):
        return as_path([self.asn, *extra], self.four_octet)

    def mandatory(self, nh=None):
        return origin_igp() + self.path() + next_hop(nh or self.address)

    def good_update(self, prefix):
        return update(attrs=self.mandatory(), nlri=prefix_bytes(prefix))


# ------------------------------------------------------------------- cases
# Each case: (peer, prefix) -> UPDATE bytes. The expected RFC 7606 outcome is
# asserted by the test (tests/integration/test_bgp_hostile_peer.sh); the
# comments say what each one exercises.

def case_attribute_length_overrun(p, pfx):
    # MED whose length (32) runs past the end of the path attributes:
    # RFC 7606 4, the NLRI is still found through Total Path Attribute Length.
    return update(attrs=p.mandatory() + attr(OPTIONAL, MED, b"\x00\x00\x00\x01", length=32),
                  nlri=prefix_bytes(pfx))


def case_origin_length_2(p, pfx):
    # RFC 7606 7.1: ORIGIN with a length other than 1.
    return update(attrs=attr(WELL_KNOWN, ORIGIN, b"\x00\x00") + p.path() + next_hop(p.address),
                  nlri=prefix_bytes(pfx))


def case_next_hop_length_5(p, pfx):
    # RFC 7606 7.3: NEXT_HOP with a length other than 4.
    return update(attrs=origin_igp() + p.path() +
                  attr(WELL_KNOWN, NEXT_HOP, socket.inet_aton(p.address) + b"\x00"),
                  nlri=prefix_bytes(pfx))


def case_attribute_block_past_message(p, pfx):
    # Total Path Attribute Length larger than the message: nothing after it
    # can be located (RFC 4271 6.3 Malformed Attribute List, RFC 7606 5.3).
    attrs = p.mandatory()
    return update(attrs=attrs, nlri=prefix_bytes(pfx), attrs_length=len(attrs) + 40)


def case_no_attributes_with_nlri(p, pfx):
    # Total Path Attribute Length 0 but NLRI present (RFC 7606 3(d)).
    return update(attrs=b"", nlri=prefix_bytes(pfx))


def case_zero_length_origin_and_next_hop(p, pfx):
    # ORIGIN and NEXT_HOP present with zero-length values (RFC 7606 7.1, 7.3).
    return update(attrs=attr(WELL_KNOWN, ORIGIN, b"") + p.path() + attr(WELL_KNOWN, NEXT_HOP, b""),
                  nlri=prefix_bytes(pfx))


def case_zero_length_communities(p, pfx):
    # RFC 7606 7.8: COMMUNITIES of length 0.
    return update(attrs=p.mandatory() + attr(OPTIONAL_TRANSITIVE, COMMUNITIES, b""),
                  nlri=prefix_bytes(pfx))


def case_missing_next_hop(p, pfx):
    return update(attrs=origin_igp() + p.path(), nlri=prefix_bytes(pfx))


def case_missing_as_path(p, pfx):
    return update(attrs=origin_igp() + next_hop(p.address), nlri=prefix_bytes(pfx))


AS4_REAL_ASN = 4200000001
AS4_TAIL_ASN = 65100


def case_as4_path_before_as_path(p, pfx):
    # AS4_PATH (17) sent before AS_PATH (2): attribute order carries no
    # meaning (RFC 4271 5), so the receiver must still pair them. On a
    # 2-octet session they merge (RFC 6793 4.2.3); on a 4-octet session
    # AS4_PATH is discarded (RFC 6793 4.1, 6), leaving AS_TRANS in the path.
    as4 = attr(OPTIONAL_TRANSITIVE, AS4_PATH,
               bytes([AS_SEQUENCE, 2]) + struct.pack("!II", AS4_REAL_ASN, AS4_TAIL_ASN))
    path = p.path([AS_TRANS, AS4_TAIL_ASN])
    return update(attrs=as4 + origin_igp() + path + next_hop(p.address), nlri=prefix_bytes(pfx))


def case_mp_reach_next_hop_length_16(p, pfx):
    # MP_REACH_NLRI for IPv4 unicast with a 16-octet next hop (RFC 7606 7.11).
    return update(attrs=origin_igp() + p.path() + mp_reach(b"\x01" * 16, prefix_bytes(pfx)))


def case_mp_reach_truncated_nlri(p, pfx):
    # MP_REACH_NLRI whose NLRI says /24 but carries one octet.
    return update(attrs=origin_igp() + p.path() +
                  mp_reach(socket.inet_aton(p.address), prefix_bytes(pfx)[:2]))


def case_duplicate_mp_reach(p, pfx):
    # RFC 7606 3(g): MP_REACH_NLRI twice.
    mp = mp_reach(socket.inet_aton(p.address), prefix_bytes(pfx))
    return update(attrs=origin_igp() + p.path() + mp + mp)


def case_otc_length_5(p, pfx):
    # RFC 9234 5: OTC of any length other than 4.
    return update(attrs=p.mandatory() + attr(OPTIONAL_TRANSITIVE, OTC, b"\x00\x00\xfd\xe8\x00"),
                  nlri=prefix_bytes(pfx))


MED_FIRST, MED_SECOND = 10, 20


def case_duplicate_med(p, pfx):
    # RFC 7606 3(g): a repeated attribute (not MP_*) is discarded, first kept.
    return update(attrs=p.mandatory() + attr(OPTIONAL, MED, struct.pack("!I", MED_FIRST)) +
                  attr(OPTIONAL, MED, struct.pack("!I", MED_SECOND)),
                  nlri=prefix_bytes(pfx))


def case_next_hop_loopback(p, pfx):
    # RFC 4271 6.3 / RFC 7606 7.3: a next hop that cannot be a neighbour.
    return update(attrs=p.mandatory(nh="127.0.0.1"), nlri=prefix_bytes(pfx))


def case_next_hop_receiver_address(p, pfx):
    # RFC 4271 6.3: a NEXT_HOP that is the receiving speaker's own address is
    # semantically incorrect; the route is to be ignored, the session kept.
    return update(attrs=p.mandatory(nh=p.remote), nlri=prefix_bytes(pfx))


def case_unknown_well_known(p, pfx):
    # RFC 4271 6.3: a well-known (non-optional) attribute type we do not know.
    return update(attrs=p.mandatory() + attr(WELL_KNOWN, 100, b"\x01"), nlri=prefix_bytes(pfx))


def case_nlri_prefix_length_33(p, pfx):
    # RFC 7606 5.3: an NLRI length above 32 makes the rest unparseable.
    return update(attrs=p.mandatory(), nlri=bytes([33]) + b"\xcb\x00\x71\x00\x00")


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


# -------------------------------------------------------------- OPEN cases
# Each: Session -> OPEN bytes, for `open CASE`. The outcome the speaker under
# test must give is asserted by tests/integration/test_bgp_hostile_sessions.sh.

def capability(code, value, length=None):
    """One capability (RFC 5492 4); `length` overrides its length field."""
    return bytes([code, len(value) if length is None else length]) + value


def open_case_capability_length_short(s):
    # 4-octet AS capability with a 2-octet value (RFC 6793 says 4): a
    # capability we know, malformed (RFC 4271 6.2: subcode 0, Unspecific).
    caps = s.standard_caps(four_octet=False) + capability(CAP_AS4, struct.pack("!H", 1))
    return s.open_message(caps)


def open_case_capability_overruns_parameter(s):
    # The last capability claims 40 octets; its optional parameter ends
    # after 2 of them.
    return s.open_message(s.standard_caps() + capability(CAP_UNKNOWN_A, b"\x00\x01", length=40))


def open_case_unknown_capabilities(s):
    # Capabilities the receiver does not know are ignored (RFC 5492 3).
    extra = (capability(CAP_UNKNOWN_A, b"\xde\xad\xbe\xef\x00") + capability(CAP_UNKNOWN_B, b"") +
             capability(CAP_FQDN, b"\x04peer\x00"))
    return s.open_message(s.standard_caps() + extra)


def open_case_no_four_octet_as(s):
    # A peer whose ASN needs 4 octets but that does not say so (no RFC 6793
    # capability): all the receiver can see is AS_TRANS in My AS.
    return s.open_message(s.standard_caps(four_octet=False))


def open_case_ipv6_unicast_only(s):
    # Multiprotocol capability for IPv6 unicast only: no family in common.
    caps = capability(CAP_MP, struct.pack("!HBB", AFI_IPV6, 0, SAFI_UNICAST))
    caps += capability(CAP_RR, b"") + capability(CAP_AS4, struct.pack("!I", s.args.asn))
    return s.open_message(caps)


def open_case_hold_time_1(s):
    # RFC 4271 4.2: hold time 1 or 2 is not allowed.
    return s.open_message(s.standard_caps(), hold=1)


OPEN_CASES = {name[len("open_case_"):]: fn for name, fn in globals().items()
              if name.startswith("open_case_")}


# --------------------------------------------------------------- the session

class Session:
    def __init__(self, args):
        self.args = args
        self.peer = Peer(args.asn, args.local, args.remote, not args.two_octet)
        self.sock = None
        self.rx = b""
        self.rib = {}            # prefix -> [(flags, type)] advertised to us
        self.last_sent = 0.0     # monotonic time of our last message
        self.silent = False      # `silent`: no keepalives until the next connect
        self.keepalive_every = min(KEEPALIVE_EVERY_S, args.hold / 3) if args.hold else KEEPALIVE_EVERY_S

    # ------------------------------------------------------------ transport
    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.rx = b""
        self.rib.clear()

    def send(self, data):
        self.sock.sendall(data)
        self.last_sent = time.monotonic()

    def read_message(self, deadline):
        """The next whole message as (type, body), or None on close/timeout."""
        while True:
            if len(self.rx) >= HEADER_SIZE:
                length, msg_type = struct.unpack("!HB", self.rx[16:19])
                if length >= HEADER_SIZE and len(self.rx) >= length:
                    body = self.rx[HEADER_SIZE:length]
                    self.rx = self.rx[length:]
                    return msg_type, body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message in time")
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.rx += chunk

    # --------------------------------------------------------------- OPEN
    def standard_caps(self, four_octet=None):
        """MP IPv4 unicast, route refresh, enhanced route refresh, 4-octet AS."""
        caps = bytes([CAP_MP, 4]) + struct.pack("!HBB", AFI_IPV4, 0, SAFI_UNICAST)
        caps += bytes([CAP_RR, 0, CAP_ERR, 0])
        if self.peer.four_octet if four_octet is None else four_octet:
            caps += bytes([CAP_AS4, 4]) + struct.pack("!I", self.args.asn)
        return caps

    def open_message(self, caps=None, hold=None):
        """Our OPEN: one Capabilities parameter holding `caps`."""
        caps = self.standard_caps() if caps is None else caps
        params = bytes([2, len(caps)]) + caps
        my_as = self.args.asn if self.args.asn <= 0xFFFF else AS_TRANS
        hold = self.args.hold if hold is None else hold
        body = struct.pack("!BHH4sB", 4, my_as, hold, socket.inet_aton(self.args.local),
                           len(params)) + params
        return message(OPEN, body)

    def connect(self, open_msg=None):
        """Connects and completes OPEN/KEEPALIVE; retries while refused.

        With `open_msg` (an OPEN case) the first answer is the outcome: a
        NOTIFICATION is reported, not retried.
        """
        self.close()
        self.silent = False
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        last_error = "timeout"
        while time.monotonic() < deadline:
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.args.local, 0))
                sock.settimeout(2)
                sock.connect((self.args.remote, self.args.port))
                sock.settimeout(None)
                self.sock = sock
                outcome = self.handshake(deadline, open_msg or self.open_message())
                if outcome == "established" or (open_msg is not None and outcome is not None):
                    return outcome
                last_error = outcome or "handshake failed"
            except (OSError, TimeoutError) as e:
                last_error = str(e)
            self.close()
            time.sleep(0.3)
        return "error " + last_error

    def handshake(self, deadline, open_msg):
        """"established", "notification CODE SUBCODE", or None if closed."""
        self.send(open_msg)
        got_open = got_keepalive = False
        while not (got_open and got_keepalive):
            msg = self.read_message(deadline)
            if msg is None:
                return None
            msg_type, body = msg
            if msg_type == OPEN:
                got_open = True
                self.send(message(KEEPALIVE, b""))
            elif msg_type == KEEPALIVE and got_open:
                got_keepalive = True
            elif msg_type == NOTIFICATION:
                log(f"handshake NOTIFICATION {body[0]}/{body[1]}")
                self.close()
                return f"notification {body[0]} {body[1]}"
        return "established"

    # -------------------------------------------------------------- barrier
    def barrier(self):
        """ROUTE-REFRESH request, then read until EoRR / NOTIFICATION / close."""
        try:
            self.send(message(ROUTE_REFRESH, struct.pack("!HBB", AFI_IPV4, RR_REQUEST, SAFI_UNICAST)))
        except OSError:
            pass  # the other side may have closed already; reading tells why
        deadline = time.monotonic() + BARRIER_TIMEOUT_S
        while True:
            msg, outcome = self.read_or_outcome(deadline, "timeout (neither EoRR nor NOTIFICATION)")
            if msg is None:
                return outcome
            msg_type, body = msg
            if msg_type == NOTIFICATION:
                self.close()
                return f"notification {body[0]} {body[1]}"
            if msg_type == UPDATE:
                self.record_update(body)
            elif msg_type == ROUTE_REFRESH and len(body) == 4 and body[2] == RR_EORR:
                return "established"

    def read_or_outcome(self, deadline, timeout_outcome):
        """(message, None), or (None, outcome) when no message came:
        `timeout_outcome`, or "closed ..." after closing our side too."""
        try:
            msg = self.read_message(deadline)
        except TimeoutError:
            return None, timeout_outcome
        except OSError as e:
            self.close()
            return None, f"closed {e}"
        if msg is None:
            self.close()
            return None, "closed"
        return msg, None

    def record_update(self, body):
        """Keeps, per prefix, the (flags, type) of the attributes it came with."""
        wlen = struct.unpack("!H", body[:2])[0]
        for pfx in parse_prefixes(body[2:2 + wlen]):
            self.rib.pop(pfx, None)
        alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
        attrs = body[4 + wlen:4 + wlen + alen]
        types, i = [], 0
        while i < len(attrs):
            flags, code = attrs[i], attrs[i + 1]
            if flags & EXTENDED_LENGTH:
                n, hdr = struct.unpack("!H", attrs[i + 2:i + 4])[0], 4
            else:
                n, hdr = attrs[i + 2], 3
            types.append((flags, code))
            i += hdr + n
        for pfx in parse_prefixes(body[4 + wlen + alen:]):
            self.rib[pfx] = types

    def keepalive_if_due(self):
        if self.sock is None or self.silent:
            return
        if time.monotonic() - self.last_sent > self.keepalive_every:
            try:
                self.send(message(KEEPALIVE, b""))
            except OSError:
                pass

    # ---------------------------------------------------------- hostile acts
    def flood(self, first, count, rounds):
        """Announce/withdraw churn, one prefix per UPDATE, in one burst."""
        prefixes = prefix_range(first, count)
        out = []
        for r in range(rounds):
            # A MED per round: every announcement differs from the last one.
            attrs = self.peer.mandatory() + attr(OPTIONAL, MED, struct.pack("!I", r))
            out += [update(attrs=attrs, nlri=prefix_bytes(p)) for p in prefixes]
            out += [update(withdrawn=prefix_bytes(p)) for p in prefixes]
        out += [self.peer.good_update(p) for p in prefixes]
        out += [update(withdrawn=prefix_bytes(p)) for p in prefixes[1::2]]
        start = time.monotonic()
        self.send(b"".join(out))
        outcome = self.barrier()
        return f"{outcome} {len(out)} {time.monotonic() - start:.1f}"

    def announce_many(self, first, count):
        """COUNT prefixes with one set of attributes, as few UPDATEs as fit."""
        attrs = self.peer.mandatory()
        room = MAX_MESSAGE_SIZE - HEADER_SIZE - 4 - len(attrs)
        messages, nlri = [], b""
        for p in prefix_range(first, count):
            b = prefix_bytes(p)
            if len(nlri) + len(b) > room:
                messages.append(update(attrs=attrs, nlri=nlri))
                nlri = b""
            nlri += b
        if nlri:
            messages.append(update(attrs=attrs, nlri=nlri))
        self.send(b"".join(messages))
        return self.barrier()

    def go_silent(self):
        """Sends nothing more and reports what the other side does about it."""
        self.silent = True
        hold = self.args.hold or 90
        deadline = time.monotonic() + SILENT_TIMEOUT_FACTOR * hold
        while True:
            msg, outcome = self.read_or_outcome(deadline, "timeout (still open)")
            if msg is None:
                return outcome
            msg_type, body = msg
            if msg_type == NOTIFICATION:
                quiet = time.monotonic() - self.last_sent
                self.close()
                return f"notification {body[0]} {body[1]} after {quiet:.1f}"

    def reset_mid_update(self, prefix):
        """Half an UPDATE, then RST instead of FIN (SO_LINGER with 0 s)."""
        data = self.peer.good_update(prefix)
        self.send(data[:len(data) // 2])
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()
        return "reset"

    # ------------------------------------------------------------- commands
    def run(self, verb, arg):
        if verb == "connect":
            return self.connect()
        if verb == "open":
            if arg not in OPEN_CASES:
                return f"error unknown OPEN case {arg}"
            return self.connect(OPEN_CASES[arg](self))
        if verb == "rib":
            if self.sock is not None:
                self.barrier()  # drain what is queued towards us
            types = self.rib.get(arg)
            if types is None:
                return "absent"
            return "present " + ",".join(f"{f:02x}:{t}" for f, t in types)
        if self.sock is None:
            return "error not connected"
        if verb in ("flood", "announce_many", "silent", "reset_mid_update"):
            try:
                if verb == "flood":
                    first, count, rounds = arg.split()
                    return self.flood(first, int(count), int(rounds))
                if verb == "announce_many":
                    first, count = arg.split()
                    return self.announce_many(first, int(count))
                if verb == "silent":
                    return self.go_silent()
                return self.reset_mid_update(arg)
            except OSError as e:
                self.close()
                return f"closed {e}"
        if verb == "announce":
            data = self.peer.good_update(arg)
        elif verb == "withdraw":
            data = update(withdrawn=prefix_bytes(arg))
        elif verb == "case":
            name, _, pfx = arg.partition(" ")
            if name not in CASES:
                return f"error unknown case {name}"
            data = CASES[name](self.peer, pfx)
            log(f"case {name}: {data.hex()}")
        else:
            return f"error unknown command {verb}"
        try:
            self.send(data)
        except OSError as e:
            self.close()
            return f"closed {e}"
        return self.barrier()


def prefix_range(first, count):
    """COUNT consecutive prefixes of FIRST's length, starting at FIRST."""
    net = ipaddress.ip_network(first)
    step = net.num_addresses
    base = int(net.network_address)
    return [f"{ipaddress.ip_address(base + i * step)}/{net.prefixlen}" for i in range(count)]


def parse_prefixes(data):
    out, i = [], 0
    while i < len(data):
        plen = data[i]
        n = (plen + 7) // 8
        addr = data[i + 1:i + 1 + n] + b"\x00" * (4 - n)
        out.append(f"{socket.inet_ntoa(addr)}/{plen}")
        i += 1 + n
    return out


def log(text):
    print(text, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--local", required=True, help="our address")
    ap.add_argument("--remote", required=True, help="the BGP speaker under test")
    ap.add_argument("--port", type=int, default=179)
    ap.add_argument("--asn", type=int, required=True)
    ap.add_argument("--hold", type=int, default=90)
    ap.add_argument("--two-octet", action="store_true", help="no 4-octet AS capability")
    ap.add_argument("--commands", required=True, help="file the test appends commands to")
    ap.add_argument("--results", required=True, help="file this peer appends results to")
    ap.add_argument("--list-cases", action="store_true")
    args = ap.parse_args()
    if args.list_cases:
        print("\n".join(sorted(CASES) + [f"open {name}" for name in sorted(OPEN_CASES)]))
        return 0
    session = Session(args)
    offset = 0
    with open(args.commands, "rb") as commands, open(args.results, "a", buffering=1) as results:
        while True:
            commands.seek(offset)
            line = commands.readline()
            if not line.endswith(b"\n"):
                session.keepalive_if_due()
                time.sleep(POLL_S)
                continue
            offset += len(line)
            seq, verb, *rest = line.decode().strip().split(maxsplit=2)
            if verb == "quit":
                results.write(f"{seq} bye\n")
                return 0
            try:
                outcome = session.run(verb, rest[0] if rest else "")
            except (ValueError, KeyError, IndexError, struct.error) as e:
                outcome = f"error {type(e).__name__}: {e}"
            log(f"{seq} {verb} {' '.join(rest)} -> {outcome}")
            results.write(f"{seq} {outcome}\n")


if __name__ == "__main__":
    sys.exit(main())
