// libFuzzer target for the configuration loader (control/config):
// LoadConfigText, the function behind LoadConfigFile and every reload, on
// arbitrary text. yaml-cpp reports syntax errors by throwing; the loader
// must turn every one into a status (an escaping exception aborts here).
//
// Invariants: a failure is InvalidArgument (ESP key files named in the text
// may also give NotFound or PermissionDenied) with a message whose every
// line names the source, as operators are promised ("FILE:LINE: KEY.PATH:
// what is wrong"); a config that loads loads again to one that a reload
// accepts both ways (CheckReloadable), and so does itself: the loader is
// deterministic and a config never needs a restart to become itself.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "control/config/config.h"

namespace {

constexpr const char* kSource = "fuzz.yaml";
// The loader reads files up to 16 MiB; larger inputs only slow the fuzzer.
constexpr size_t kMaxInput = 64 * 1024;

[[noreturn]] void Fail(const char* what, const absl::Status& st) {
  std::fprintf(stderr, "invariant broken: %s\nstatus: %s\n", what, st.ToString().c_str());
  std::abort();
}

void CheckError(const absl::Status& st) {
  const absl::StatusCode code = st.code();
  if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kNotFound &&
      code != absl::StatusCode::kPermissionDenied) {
    Fail("load failed with an unexpected status code", st);
  }
  if (st.message().empty()) Fail("load failed without a message", st);
  if (code != absl::StatusCode::kInvalidArgument) return;
  for (absl::string_view line : absl::StrSplit(st.message(), '\n')) {
    if (!absl::StartsWith(line, kSource)) Fail("an error line does not name the source", st);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<isthmus::Config> first = isthmus::LoadConfigText(text, kSource);
  if (!first.ok()) {
    CheckError(first.status());
    return 0;
  }
  if (absl::Status st = isthmus::CheckReloadable(*first, *first); !st.ok()) {
    Fail("a config cannot be reloaded into itself", st);
  }
  const absl::StatusOr<isthmus::Config> second = isthmus::LoadConfigText(text, kSource);
  if (!second.ok()) Fail("the same text loaded once and failed the second time", second.status());
  if (absl::Status st = isthmus::CheckReloadable(*first, *second); !st.ok()) {
    Fail("loading the same text twice gave configs a reload refuses", st);
  }
  if (absl::Status st = isthmus::CheckReloadable(*second, *first); !st.ok()) {
    Fail("loading the same text twice gave configs a reload refuses (reversed)", st);
  }
  return 0;
}
