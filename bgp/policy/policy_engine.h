#pragma once
// Runs a peer's import or export policy chain over one route.
//
// Model (like a route-map chain): a policy is an ordered list of terms. The
// first term that matches and says accept or reject decides the policy; a
// matching term that says continue applies its actions and evaluation goes
// on; when no term decides, the policy's default applies. A chain of
// policies runs in order: a policy that accepts hands its rewritten route to
// the next one, a reject stops the chain. The route is accepted when no
// policy rejected it and at least one accepted it (a chain in which nobody
// decided rejects: fail closed, in the spirit of RFC 8212).
//
// Around the chain: RFC 8212 (no policy names for an eBGP peer: nothing is
// exchanged), the fixed export rules of export_rules.h, and an import loop
// check (our own AS in a route from an eBGP peer, RFC 4271 9.1.2).

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "bgp/policy/policy_context.h"
#include "control/config/config.h"

namespace isthmus::bgp {

class PolicyEngine {
 public:
  struct Result {
    bool accepted = false;
    // The route to install (import) or send (export); null when rejected.
    // On import an untouched route keeps the caller's pointer (interning).
    AttributesPtr attrs;
    // Why: "accepted by policy P term T", "rejected by policy P term T",
    // "rejected by policy P (default)", "RFC 8212: no import policy for
    // eBGP peer NAME", "NO_EXPORT community: …", "… loop prevention …".
    std::string reason;
    // Actions that were refused without rejecting the route (the caller
    // logs them), e.g. an as_path_exclude on a Route Server route.
    std::vector<std::string> notes;
  };

  PolicyEngine() = default;

  // Validates every policy (unique non-empty names, unique term names,
  // prefix ranges 0 <= len <= ge <= le <= 32 with host bits zero, length
  // bounds ge <= le, prepend <= kMaxPrepend). InvalidArgument names the
  // offending `bgp.policies[i]` entry and key.
  [[nodiscard]] static absl::StatusOr<PolicyEngine> Build(const std::vector<Policy>& policies);

  // NotFound naming the first name that is not a built policy; for
  // validating PeerConfig::import_policies / export_policies.
  [[nodiscard]] absl::Status CheckNames(const std::vector<std::string>& policy_names) const;
  bool Has(const std::string& name) const { return policies_.contains(name); }

  // Runs `policy_names` (the peer's import or export list, per
  // ctx.direction) over the route. A name that is not built rejects.
  Result Apply(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix, const AttributesPtr& attrs,
               const PolicyContext& ctx) const;
  // Whether a term of these policies matches on the prefix. When none
  // does, Apply gives every prefix with the same attributes and context the
  // same result: an UPDATE's NLRI need one evaluation, not one each.
  bool UsesPrefix(const std::vector<std::string>& policy_names) const;

 private:
  struct ChainOutcome;

  ChainOutcome RunChain(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix,
                        const PathAttributes& attrs, const PolicyContext& ctx) const;
  Result Import(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix, const AttributesPtr& attrs,
                const PolicyContext& ctx) const;
  Result Export(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix, const AttributesPtr& attrs,
                const PolicyContext& ctx) const;

  absl::flat_hash_map<std::string, Policy> policies_;
};

}  // namespace isthmus::bgp
