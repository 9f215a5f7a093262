# ESP key files for the IPsec tests. Source after netns.sh; the caller
# declares `declare -A KEY_HEX SALT_HEX` and sets KEYS (an existing directory).
# shellcheck shell=bash

# RFC 4106: the key material is the AES key followed by a 4-byte salt.
readonly ESP_SALT_BYTES=4

# new_key NAME KEY_BYTES: a random key (16 or 32 bytes) and salt written to
# KEYS/NAME.key as "KEYHEX SALTHEX" with mode 0600 (isthmusd refuses
# anything wider), kept in KEY_HEX[NAME] and SALT_HEX[NAME] for the peer
# and for tshark.
new_key() {
  local name="$1" bytes="$2" file="${KEYS}/$1.key"
  KEY_HEX[${name}]="$(head -c "${bytes}" /dev/urandom | od -An -tx1 | tr -d ' \n')"
  SALT_HEX[${name}]="$(head -c "${ESP_SALT_BYTES}" /dev/urandom | od -An -tx1 | tr -d ' \n')"
  (umask 077 && printf '%s %s\n' "${KEY_HEX[${name}]}" "${SALT_HEX[${name}]}" >"${file}") ||
    fail "cannot write ${file}"
  [[ "$(stat -c %a "${file}")" == 600 ]] || fail "${file}: mode $(stat -c %a "${file}"), wanted 600"
}

# new_keys_out_in KEY_BYTES: creates KEYS and the pair of keys a tunnel
# needs, KEYS/out.key and KEYS/in.key (see new_key).
new_keys_out_in() {
  mkdir -p "${KEYS}"
  new_key out "$1"
  new_key in "$1"
}
