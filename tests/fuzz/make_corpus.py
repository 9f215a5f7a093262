#!/usr/bin/env python3
"""Writes the seed corpus for bgp_message_fuzz: a few dozen small valid and
malformed BGP messages, one file each, named after what they exercise.

Run from anywhere: tests/fuzz/make_corpus.py (rewrites corpus/bgp_message/).
Addresses come from the documentation ranges only."""

import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "bgp_message"

OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
WELL_KNOWN, OPT_TRANS, OPT_NONTRANS, PARTIAL, EXT = 0x40, 0xC0, 0x80, 0x20, 0x10
NH = bytes([198, 51, 100, 1])


def msg(mtype, body, length=None):
    return b"\xff" * 16 + struct.pack("!HB", length if length is not None else 19 + len(body), mtype) + body


def attr(flags, atype, value):
    if flags & EXT:
        return struct.pack("!BBH", flags, atype, len(value)) + value
    return struct.pack("!BBB", flags, atype, len(value)) + value


def prefix(octets, length):
    return bytes([length]) + bytes(octets[: (length + 7) // 8])


def update(withdrawn=b"", attrs=b"", nlri=b""):
    return msg(UPDATE, struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri)


def as_path(asns, four=True, seg_type=2):
    fmt = "!I" if four else "!H"
    return attr(WELL_KNOWN, 2, bytes([seg_type, len(asns)]) + b"".join(struct.pack(fmt, a) for a in asns))


def cap(code, value=b""):
    return bytes([code, len(value)]) + value


def open_msg(asn=65001, hold=180, bgp_id=bytes([192, 0, 2, 1]), caps=b"", version=4):
    params = bytes([2, len(caps)]) + caps if caps else b""
    return msg(OPEN, struct.pack("!BHH", version, asn, hold) + bgp_id + bytes([len(params)]) + params)


ORIGIN = attr(WELL_KNOWN, 1, b"\x00")
MANDATORY4 = ORIGIN + as_path([65001, 4200000001]) + attr(WELL_KNOWN, 3, NH)
MANDATORY2 = ORIGIN + as_path([65001, 23456], four=False) + attr(WELL_KNOWN, 3, NH)
NLRI = prefix([203, 0, 113, 0], 24) + prefix([198, 18, 0, 0], 15) + prefix([192, 0, 2, 1], 32)
MP_REACH = attr(OPT_NONTRANS, 14, struct.pack("!HBB", 1, 1, 4) + NH + b"\x00" + NLRI)
MP_UNREACH = attr(OPT_NONTRANS, 15, struct.pack("!HB", 1, 1) + NLRI)
ALL_CAPS = (cap(1, struct.pack("!HBB", 1, 0, 1)) + cap(2) + cap(70) + cap(65, struct.pack("!I", 4200000001))
            + cap(64, struct.pack("!H", 0xC078) + struct.pack("!HBB", 1, 1, 0x80)) + cap(73, b"\x03nva"))

SEEDS = {
    "keepalive": msg(KEEPALIVE, b""),
    "open_full_caps": open_msg(asn=23456, caps=ALL_CAPS),
    "open_no_params": open_msg(hold=0),
    "open_version3": open_msg(version=3),
    "open_hold1": open_msg(hold=1),
    "open_id_zero": open_msg(bgp_id=b"\x00" * 4),
    "open_bad_param": msg(OPEN, struct.pack("!BHH", 4, 65001, 180) + bytes([192, 0, 2, 1, 3, 1, 1, 0])),
    "open_extended_params": msg(OPEN, struct.pack("!BHH", 4, 65001, 90) + bytes([192, 0, 2, 1, 255, 255])
                                + struct.pack("!HBH", 3 + 6, 2, 6) + cap(65, struct.pack("!I", 65001))),
    "notification_cease_shutdown": msg(NOTIFICATION, bytes([6, 2, 5]) + b"maint"),
    "notification_hard_reset": msg(NOTIFICATION, bytes([6, 9, 4, 0])),
    "route_refresh": msg(ROUTE_REFRESH, struct.pack("!HBB", 1, 0, 1)),
    "route_refresh_borr": msg(ROUTE_REFRESH, struct.pack("!HBB", 1, 1, 1)),
    "route_refresh_long": msg(ROUTE_REFRESH, struct.pack("!HBBB", 1, 2, 1, 0)),
    "end_of_rib": update(),
    "end_of_rib_mp": update(attrs=attr(OPT_NONTRANS, 15, struct.pack("!HB", 1, 1))),
    "update_withdraw": update(withdrawn=NLRI),
    "update_basic4": update(attrs=MANDATORY4, nlri=NLRI),
    "update_basic2": update(attrs=MANDATORY2, nlri=NLRI),
    "update_all_attrs": update(attrs=MANDATORY4 + attr(OPT_NONTRANS, 4, struct.pack("!I", 50))
                               + attr(WELL_KNOWN, 5, struct.pack("!I", 200)) + attr(WELL_KNOWN, 6, b"")
                               + attr(OPT_TRANS, 7, struct.pack("!I", 65001) + NH)
                               + attr(OPT_TRANS, 8, struct.pack("!II", 0x10002, 0xFFFFFF01))
                               + attr(OPT_TRANS, 32, struct.pack("!III", 65001, 1, 2))
                               + attr(OPT_TRANS, 35, struct.pack("!I", 65001))
                               + attr(OPT_TRANS | PARTIAL, 99, b"\x01\x02\x03"), nlri=NLRI),
    "update_as4_path": update(attrs=MANDATORY2 + attr(OPT_TRANS, 17, b"\x02\x01" + struct.pack("!I", 4200000001))
                              + attr(OPT_TRANS, 7, struct.pack("!H", 23456) + NH)
                              + attr(OPT_TRANS, 18, struct.pack("!I", 4200000002) + NH), nlri=NLRI),
    "update_as4_before_as_path": update(attrs=attr(OPT_TRANS, 17, b"\x02\x01" + struct.pack("!I", 4200000001))
                                        + MANDATORY2, nlri=NLRI),
    "update_mp_reach": update(attrs=ORIGIN + as_path([65001]) + MP_REACH),
    "update_mp_unreach": update(attrs=MP_UNREACH),
    "update_mp_reach_nh16": update(attrs=ORIGIN + as_path([65001])
                                   + attr(OPT_NONTRANS, 14, struct.pack("!HBB", 1, 1, 16) + b"\x20" * 16 + b"\x00")),
    "update_dup_mp_reach": update(attrs=ORIGIN + as_path([65001]) + MP_REACH + MP_REACH),
    "update_extended_length": update(attrs=ORIGIN + attr(WELL_KNOWN | EXT, 2, b"\x02\x02" + struct.pack("!II", 65001, 65002))
                                     + attr(WELL_KNOWN, 3, NH), nlri=NLRI),
    "update_long_as_path": update(attrs=ORIGIN + attr(WELL_KNOWN | EXT, 2, b"\x02\xff" + struct.pack("!I", 65001) * 255)
                                  + attr(WELL_KNOWN, 3, NH), nlri=NLRI),
    "update_as_set_confed": update(attrs=ORIGIN + attr(WELL_KNOWN, 2, b"\x03\x01" + struct.pack("!I", 64512)
                                                        + b"\x01\x02" + struct.pack("!II", 65001, 65002))
                                   + attr(WELL_KNOWN, 3, NH), nlri=NLRI),
    "update_origin_bad": update(attrs=attr(WELL_KNOWN, 1, b"\x07") + as_path([65001]) + attr(WELL_KNOWN, 3, NH), nlri=NLRI),
    "update_origin_zero_len": update(attrs=attr(WELL_KNOWN, 1, b"") + as_path([65001]) + attr(WELL_KNOWN, 3, NH), nlri=NLRI),
    "update_no_attrs_nlri": update(nlri=NLRI),
    "update_bad_next_hop": update(attrs=ORIGIN + as_path([65001]) + attr(WELL_KNOWN, 3, b"\xe0\x00\x00\x01"), nlri=NLRI),
    "update_otc_len5": update(attrs=MANDATORY4 + attr(OPT_TRANS, 35, b"\x00" * 5), nlri=NLRI),
    "update_dup_origin": update(attrs=MANDATORY4 + ORIGIN, nlri=NLRI),
    "update_attr28_corrupt": update(attrs=MANDATORY4 + attr(OPT_TRANS | PARTIAL, 28, b"\xde\xad\xbe"), nlri=NLRI),
    "update_attr_overrun": update(attrs=MANDATORY4 + bytes([OPT_TRANS, 23, 200, 0, 1]), nlri=NLRI),
    "update_unknown_well_known": update(attrs=MANDATORY4 + attr(WELL_KNOWN, 100, b"\x01"), nlri=NLRI),
    "update_bad_withdrawn": update(withdrawn=b"\x21\x01\x02\x03\x04\x05"),
    "update_bad_nlri": update(attrs=MANDATORY4, nlri=b"\x18\xcb"),
    "header_bad_marker": b"\x00" + msg(KEEPALIVE, b"")[1:],
    "header_bad_type": msg(9, b""),
    "header_short_length": msg(KEEPALIVE, b"", length=18),
    "two_keepalives": msg(KEEPALIVE, b"") * 2,
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
