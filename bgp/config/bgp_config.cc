#include "bgp/config/bgp_config.h"

namespace isthmus::bgp {

bool IsReservedAsn(Asn asn) {
  // Azure Route Server reserves 8074, 8075, 12076, 65515, 65517-65520; IANA
  // reserves 0, AS_TRANS 23456 (RFC 6793), documentation 64496-64511 and
  // 65536-65551 (RFC 5398), 65535 and 4294967295 (RFC 7300).
  return asn == 0 || asn == 8074 || asn == 8075 || asn == 12076 || asn == 65515 || (asn >= 65517 && asn <= 65520) ||
         asn == kAsTrans || (asn >= 64496 && asn <= 64511) || (asn >= 65535 && asn <= 65551) || asn == 4294967295u;
}

}  // namespace isthmus::bgp
