#!/usr/bin/env bash
# The other port drivers carry the same traffic as af_xdp: af_packet (the
# kernel sees copies; isthmusd turns kernel forwarding off on those ports) and
# pmd with free-form devargs (here the af_packet PMD) plus one exception TAP
# per port that holds the port's address, as netvsc/MANA do on Azure. Each
# runs the forwarding and punt-path tests; every run builds and removes its
# own namespaces.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
status=0
for driver in af_packet pmd; do
  for test in test_forward_basic.sh test_punt_path.sh; do
    echo "=== IT_DRIVER=${driver} ${test}"
    if IT_DRIVER="${driver}" "${here}/${test}"; then
      echo "=== ok: ${driver} ${test}"
    else
      echo "=== FAILED: ${driver} ${test}"
      status=1
    fi
  done
done
exit "${status}"
