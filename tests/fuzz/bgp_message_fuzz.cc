// libFuzzer target for the BGP message codec: frames and decodes arbitrary
// bytes on a 4-octet iBGP and a 2-octet eBGP session, then checks that what
// decodes re-encodes into something that decodes again.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "bgp/wire/message.h"

namespace {

using isthmus::bgp::CodecContext;
using isthmus::bgp::DecodeResult;
using isthmus::bgp::ErrorAction;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void CheckResultShape(const DecodeResult& r) {
  const bool reset = r.action == ErrorAction::kSessionReset;
  if (reset != r.notification.has_value()) Fail("notification iff session reset");
  if (reset == r.message.has_value()) Fail("message iff no session reset");
  if (r.action != ErrorAction::kNone && r.problems.empty()) Fail("an error without a problem line");
}

void CheckReencode(const DecodeResult& r, const CodecContext& ctx) {
  if (!r.message) return;
  const std::vector<uint8_t> again = isthmus::bgp::Encode(*r.message, ctx);
  // Re-encoding may legitimately grow (AS4_PATH rebuilt from a merged path).
  if (again.size() > isthmus::bgp::kMaxMessageSize) return;
  const isthmus::bgp::Frame f = isthmus::bgp::PeekFrame(again.data(), again.size());
  if (f.error || f.length != again.size()) Fail("re-encoded message does not frame");
  const DecodeResult r2 = isthmus::bgp::Decode(again.data(), again.size(), ctx);
  CheckResultShape(r2);
  if (r2.action == ErrorAction::kSessionReset) Fail("re-encoded message resets the session");
  // On a 4-octet iBGP session nothing is rewritten: a clean decode is a fixed point.
  if (ctx.four_octet_as && !ctx.ebgp && r.action == ErrorAction::kNone &&
      !(r2.action == ErrorAction::kNone && *r2.message == *r.message)) {
    Fail("decode(encode(decode(x))) != decode(x)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const isthmus::bgp::Frame frame = isthmus::bgp::PeekFrame(data, size);
  if (frame.length > size) Fail("frame longer than the input");
  for (const CodecContext ctx : {CodecContext{true, false}, CodecContext{false, true}}) {
    const DecodeResult r = isthmus::bgp::Decode(data, size, ctx);
    CheckResultShape(r);
    if (frame.error && r.action != ErrorAction::kSessionReset) Fail("header error not fatal");
    if (r.notification) (void)isthmus::bgp::Describe(*r.notification);
    CheckReencode(r, ctx);
  }
  return 0;
}
