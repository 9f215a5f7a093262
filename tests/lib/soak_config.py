#!/usr/bin/python3
"""Edits an isthmusd config written by deploy/testbed/seed/topology.sh for tests/soak.

  soak_config.py FILE [--backend ADDR:PORT]... [--flow-timeouts K=V,...]
                      [--esp-outbound SPI:KEYFILE] [--esp-inbound SPI:KEYFILE]...
                      [--health K=V,...] [--network PREFIX]...

--backend        another backend of every service (the seed gives one per NVA)
--flow-timeouts  the services' flow_timeouts (seconds), e.g. tcp_established_s=10
--health         keys merged into the services' health, e.g. interval_ms=500
--esp-outbound   the ipsec tunnel's outbound SA (replaces the seed's)
--esp-inbound    the ipsec tunnel's inbound SAs (replace the seed's; repeat)
--network        an extra prefix the NVA originates in BGP (bgp.networks)

The file is replaced atomically (a reload never reads half of it). The seed's
config is the single source of everything else, so the soak's NVAs stay
what the seed testbed runs.
"""

import argparse
import os
import sys

import yaml


def sa(text):
    spi, key_file = text.split(":", 1)
    return {"spi": int(spi, 0), "key_file": key_file}


def int_map(text):
    out = {}
    for item in text.split(","):
        key, value = item.split("=", 1)
        out[key] = int(value)
    return out


def backend(text):
    address, port = text.rsplit(":", 1)
    return {"address": address, "port": int(port)}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--backend", type=backend, action="append", default=[])
    parser.add_argument("--flow-timeouts", type=int_map)
    parser.add_argument("--health", type=int_map)
    parser.add_argument("--esp-outbound", type=sa)
    parser.add_argument("--esp-inbound", type=sa, action="append", default=[])
    parser.add_argument("--network", action="append", default=[])
    args = parser.parse_args()

    with open(args.file, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    for service in config.get("services", []):
        service["backends"].extend(args.backend)
        if args.flow_timeouts:
            service["flow_timeouts"] = args.flow_timeouts
        if args.health:
            service["health"].update(args.health)
    if args.esp_outbound or args.esp_inbound:
        ipsec = [t for t in config.get("tunnels", []) if t.get("type") == "ipsec"]
        if len(ipsec) != 1:
            sys.exit(f"{args.file}: expected one ipsec tunnel, found {len(ipsec)}")
        if args.esp_outbound:
            ipsec[0]["ipsec"]["outbound"] = args.esp_outbound
        if args.esp_inbound:
            ipsec[0]["ipsec"]["inbound"] = args.esp_inbound
    config["bgp"]["networks"].extend(args.network)

    tmp = args.file + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"# written by deploy/testbed/seed/topology.sh, edited by {os.path.basename(__file__)}\n")
        yaml.safe_dump(config, f, sort_keys=False, default_flow_style=False)
    os.replace(tmp, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
