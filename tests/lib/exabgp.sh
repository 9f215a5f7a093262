# shellcheck shell=bash
# ExaBGP 4.2 as a scripted peer in a test namespace. ExaBGP keeps no RIB and
# sends exactly what it is told, including generic attributes given as raw
# bytes (`attribute [ 0xTYPE 0xFLAGS 0xVALUE ]`), so it plays peers that
# announce routes other implementations would refuse to build. Announcements
# go through its process API: a `tail -F` of a command file the test appends
# to (polled every 50 ms). Sourced after netns.sh; processes are started with start_bg (stopped by
# PID in cleanup).

readonly EXABGP_BIN="${EXABGP_BIN:-/usr/sbin/exabgp}"

exabgp_available() { [[ -x "${EXABGP_BIN}" ]] || command -v exabgp >/dev/null 2>&1; }

_exabgp_bin() {
  if [[ -x "${EXABGP_BIN}" ]]; then echo "${EXABGP_BIN}"; else command -v exabgp; fi
}

# exabgp_start NS NAME LOCAL_ADDR LOCAL_AS PEER_ADDR PEER_AS: ExaBGP in NS,
# bound to LOCAL_ADDR, connecting to PEER_ADDR (port 179). Its PID is left in
# EXABGP_PID; commands go through exabgp_cmd NAME.
exabgp_start() {
  local ns="$1" name="$2" local_addr="$3" local_as="$4" peer_addr="$5" peer_as="$6"
  local dir="${TEST_TMP}/exabgp-${name}"
  mkdir -p "${dir}"
  : >"${dir}/commands"
  cat >"${dir}/exabgp.conf" <<CONF
process feed {
  run /usr/bin/tail -s 0.05 -n +1 -F ${dir}/commands;
  encoder text;
}
neighbor ${peer_addr} {
  router-id ${local_addr};
  local-address ${local_addr};
  local-as ${local_as};
  peer-as ${peer_as};
  hold-time 90;
  capability {
    route-refresh;
  }
  api {
    processes [ feed ];
  }
}
CONF
  start_bg "${ns}" "${dir}/exabgp.log" env exabgp_daemon_user=root exabgp_api_cli=false \
    exabgp_tcp_bind="${local_addr}" exabgp_daemon_daemonize=false exabgp_log_destination=stdout \
    "$(_exabgp_bin)" "${dir}/exabgp.conf"
  # shellcheck disable=SC2034  # for tests that stop or watch it
  EXABGP_PID="${BG_PID}"
}

# exabgp_cmd NAME COMMAND: one API command ("announce route ...").
exabgp_cmd() {
  printf '%s\n' "$2" >>"${TEST_TMP}/exabgp-$1/commands"
}
