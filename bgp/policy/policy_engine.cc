#include "bgp/policy/policy_engine.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bgp/policy/as_path_edit.h"
#include "bgp/policy/export_rules.h"
#include "bgp/policy/policy_match.h"

namespace isthmus::bgp {
namespace {

// ---------------------------------------------------------------- Build --

absl::Status Invalid(size_t index, const std::string& policy, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("bgp.policies[", index, "] (", policy, "): ", what));
}

std::optional<std::string> PrefixMatchProblem(const PrefixMatch& entry) {
  const Ipv4Prefix& p = entry.prefix;
  if (p.len > kMaxIpv4PrefixLength) return "prefix length above 32";
  if (p.len < kMaxIpv4PrefixLength && (p.addr.value & (~uint32_t{0} >> p.len)) != 0) {
    return absl::StrCat(ToString(p), ": host bits set");
  }
  const uint8_t ge = entry.ge.value_or(p.len);
  const uint8_t le = entry.le.value_or(ge);
  if (ge < p.len || le < ge || le > kMaxIpv4PrefixLength) {
    return absl::StrCat(ToString(p), ": need ", static_cast<int>(p.len), " <= ge <= le <= 32, got ge ",
                        static_cast<int>(ge), " le ", static_cast<int>(le));
  }
  return std::nullopt;
}

std::optional<std::string> TermProblem(const PolicyTerm& term) {
  for (const PrefixMatch& entry : term.match.prefixes) {
    if (auto problem = PrefixMatchProblem(entry)) return absl::StrCat("match.prefixes: ", *problem);
  }
  const PolicyMatch& m = term.match;
  if (m.as_path_length_ge && m.as_path_length_le && *m.as_path_length_ge > *m.as_path_length_le) {
    return "match: as_path_length_ge is above as_path_length_le";
  }
  if (term.actions.prepend > kMaxPrepend) {
    return absl::StrCat("actions.prepend ", term.actions.prepend, " is above the maximum ", kMaxPrepend);
  }
  return std::nullopt;
}

std::string TermName(const PolicyTerm& term, size_t index) {
  return term.name.empty() ? absl::StrCat(index + 1) : term.name;
}

absl::StatusOr<Policy> ValidatePolicy(const Policy& input, size_t index) {
  if (input.name.empty()) return Invalid(index, "", "name: must not be empty");
  Policy policy = input;
  absl::flat_hash_set<std::string> term_names;
  for (size_t t = 0; t < policy.terms.size(); ++t) {
    PolicyTerm& term = policy.terms[t];
    term.name = TermName(term, t);
    if (!term_names.insert(term.name).second) {
      return Invalid(index, policy.name, absl::StrCat("terms: duplicate term name '", term.name, "'"));
    }
    if (auto problem = TermProblem(term)) {
      return Invalid(index, policy.name, absl::StrCat("terms[", t, "] (", term.name, ") ", *problem));
    }
  }
  return policy;
}

// ---------------------------------------------------------------- Apply --

void AddCommunities(std::vector<uint32_t>& communities, const std::vector<uint32_t>& extra) {
  communities.insert(communities.end(), extra.begin(), extra.end());
  std::sort(communities.begin(), communities.end());
  communities.erase(std::unique(communities.begin(), communities.end()), communities.end());
}

// What a chain did so far, merged across terms: exclusions and communities
// accumulate, prepend adds up (capped), set values: the last one wins.
void MergeApplied(PolicyActions& applied, const PolicyActions& term) {
  AddCommunities(applied.as_path_exclude, term.as_path_exclude);
  applied.as_override = applied.as_override || term.as_override;
  applied.prepend = std::min(applied.prepend + term.prepend, kMaxPrepend);
  applied.next_hop_self = applied.next_hop_self || term.next_hop_self;
  if (term.local_pref) applied.local_pref = term.local_pref;
  if (term.med) applied.med = term.med;
  applied.clear_communities = applied.clear_communities || term.clear_communities;
  AddCommunities(applied.add_communities, term.add_communities);
}

std::string SourceName(const PolicyContext& ctx) {
  if (ctx.exporting()) return ctx.source_peer_name;
  return ctx.peer != nullptr ? ctx.peer->name : "";
}

// The Azure rule: a Route Server's own routes keep its ASN, or it would
// take them back as new routes and loop transiently.
void ExcludeAsns(const PolicyActions& actions, PathAttributes& attrs, const PolicyContext& ctx,
                 std::vector<std::string>& notes) {
  if (actions.as_path_exclude.empty()) return;
  if (ctx.SourceRole() == PeerRole::kRouteServer) {
    notes.push_back(absl::StrCat("as_path_exclude ", absl::StrJoin(actions.as_path_exclude, ","),
                                 " refused: route learned from Route Server peer ", SourceName(ctx),
                                 " keeps its AS path (would echo Route Server routes back)"));
    return;
  }
  for (Asn asn : actions.as_path_exclude) ExcludeAsn(attrs.as_path, asn);
}

void ApplyTermActions(const PolicyActions& actions, PathAttributes& attrs, const PolicyContext& ctx,
                      std::vector<std::string>& notes) {
  if (actions.clear_communities) attrs.communities.clear();
  AddCommunities(attrs.communities, actions.add_communities);
  if (actions.local_pref) attrs.local_pref = actions.local_pref;
  if (actions.med) attrs.med = actions.med;
  ExcludeAsns(actions, attrs, ctx, notes);
  // as-override needs the target peer, so it only exists on export.
  if (actions.as_override && ctx.exporting() && ctx.peer != nullptr) {
    ReplaceAsn(attrs.as_path, ctx.peer->remote_as, ctx.local_as);
  }
}

}  // namespace

struct PolicyEngine::ChainOutcome {
  enum class Verdict : uint8_t { kAccepted, kRejected, kUndecided };
  Verdict verdict = Verdict::kUndecided;
  // The attributes once a term's actions changed them; until then the
  // route's own (copied only when written: most routes pass unchanged).
  std::optional<PathAttributes> modified;
  PolicyActions applied;
  std::string reason;
  std::vector<std::string> notes;
};

namespace {

struct PolicyVerdict {
  TermResult result;
  std::string reason;
};

// Whether ApplyTermActions may change the attributes (prepend and
// next-hop-self are applied on export, from `applied`).
bool ActsOnAttributes(const PolicyActions& a) {
  return a.clear_communities || !a.add_communities.empty() || a.local_pref || a.med || !a.as_path_exclude.empty() ||
         a.as_override;
}

// First decisive term wins; actions of every matching term up to it apply.
// `modified` is set from `base` when a term first writes the attributes.
PolicyVerdict EvaluatePolicy(const Policy& policy, const Ipv4Prefix& prefix, const PathAttributes& base,
                             std::optional<PathAttributes>& modified, PolicyActions& applied,
                             std::vector<std::string>& notes, const PolicyContext& ctx) {
  for (const PolicyTerm& term : policy.terms) {
    if (!TermMatches(term.match, prefix, modified ? *modified : base, ctx)) continue;
    if (term.result == TermResult::kReject) {
      return {TermResult::kReject, absl::StrCat("rejected by policy ", policy.name, " term ", term.name)};
    }
    if (ActsOnAttributes(term.actions)) {
      if (!modified) modified = base;
      ApplyTermActions(term.actions, *modified, ctx, notes);
    }
    MergeApplied(applied, term.actions);
    if (term.result == TermResult::kAccept) {
      return {TermResult::kAccept, absl::StrCat("accepted by policy ", policy.name, " term ", term.name)};
    }
  }
  const char* verdict = policy.default_result == TermResult::kAccept   ? "accepted"
                        : policy.default_result == TermResult::kReject ? "rejected"
                                                                       : "not decided";
  return {policy.default_result, absl::StrCat(verdict, " by policy ", policy.name, " (default)")};
}

}  // namespace

absl::StatusOr<PolicyEngine> PolicyEngine::Build(const std::vector<Policy>& policies) {
  PolicyEngine engine;
  for (size_t i = 0; i < policies.size(); ++i) {
    absl::StatusOr<Policy> policy = ValidatePolicy(policies[i], i);
    if (!policy.ok()) return policy.status();
    const std::string name = policy->name;
    if (!engine.policies_.emplace(name, *std::move(policy)).second) {
      return Invalid(i, name, "name: duplicate policy name");
    }
  }
  return engine;
}

absl::Status PolicyEngine::CheckNames(const std::vector<std::string>& policy_names) const {
  for (const std::string& name : policy_names) {
    if (!Has(name)) return absl::NotFoundError(absl::StrCat("unknown policy '", name, "'"));
  }
  return absl::OkStatus();
}

PolicyEngine::ChainOutcome PolicyEngine::RunChain(const std::vector<std::string>& policy_names,
                                                  const Ipv4Prefix& prefix, const PathAttributes& attrs,
                                                  const PolicyContext& ctx) const {
  ChainOutcome out;
  for (const std::string& name : policy_names) {
    const auto it = policies_.find(name);
    if (it == policies_.end()) {
      out.verdict = ChainOutcome::Verdict::kRejected;
      out.reason = absl::StrCat("rejected: unknown policy '", name, "'");
      return out;
    }
    PolicyVerdict v = EvaluatePolicy(it->second, prefix, attrs, out.modified, out.applied, out.notes, ctx);
    if (v.result == TermResult::kContinue) continue;
    out.reason = std::move(v.reason);
    if (v.result == TermResult::kReject) {
      out.verdict = ChainOutcome::Verdict::kRejected;
      return out;
    }
    out.verdict = ChainOutcome::Verdict::kAccepted;
  }
  if (out.verdict == ChainOutcome::Verdict::kUndecided) {
    out.reason = absl::StrCat("rejected: no policy of [", absl::StrJoin(policy_names, ", "), "] accepted the route");
  }
  return out;
}

PolicyEngine::Result PolicyEngine::Apply(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix,
                                         const AttributesPtr& attrs, const PolicyContext& ctx) const {
  if (ctx.peer == nullptr || attrs == nullptr) {
    return Result{.reason = "rejected: policy context without peer or attributes"};
  }
  const char* direction = ctx.importing() ? "import" : "export";
  // RFC 8212 3.1/3.2: without explicit policy nothing is exchanged with an
  // eBGP peer, in either direction.
  if (policy_names.empty() && ctx.ebgp()) {
    return Result{.reason = absl::StrCat("RFC 8212: no ", direction, " policy for eBGP peer ", ctx.peer->name)};
  }
  return ctx.importing() ? Import(policy_names, prefix, attrs, ctx) : Export(policy_names, prefix, attrs, ctx);
}

bool PolicyEngine::UsesPrefix(const std::vector<std::string>& policy_names) const {
  for (const std::string& name : policy_names) {
    auto it = policies_.find(name);
    if (it == policies_.end()) continue;   // rejects whatever the prefix
    for (const PolicyTerm& term : it->second.terms) {
      if (!term.match.prefixes.empty()) return true;
    }
  }
  return false;
}

PolicyEngine::Result PolicyEngine::Import(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix,
                                          const AttributesPtr& attrs, const PolicyContext& ctx) const {
  // RFC 4271 9.1.2: a route whose path holds our own AS is a loop.
  if (ctx.ebgp() && attrs->as_path.Contains(ctx.local_as)) {
    return Result{.reason = absl::StrCat("AS path ", attrs->as_path.ToString(), " contains local AS ", ctx.local_as,
                                         ": rejected (loop, RFC 4271 9.1.2)")};
  }
  if (policy_names.empty()) return Result{true, attrs, "accepted: iBGP peer without import policy", {}};
  ChainOutcome chain = RunChain(policy_names, prefix, *attrs, ctx);
  Result result{.reason = std::move(chain.reason), .notes = std::move(chain.notes)};
  if (chain.verdict != ChainOutcome::Verdict::kAccepted) return result;
  result.accepted = true;
  result.attrs = !chain.modified || *chain.modified == *attrs
                     ? attrs
                     : std::make_shared<const PathAttributes>(*std::move(chain.modified));
  return result;
}

PolicyEngine::Result PolicyEngine::Export(const std::vector<std::string>& policy_names, const Ipv4Prefix& prefix,
                                          const AttributesPtr& attrs, const PolicyContext& ctx) const {
  if (absl::Status fixed = CheckExportBeforePolicy(*attrs, ctx); !fixed.ok()) {
    return Result{.reason = std::string(fixed.message())};
  }
  ChainOutcome chain;
  if (policy_names.empty()) {
    chain.verdict = ChainOutcome::Verdict::kAccepted;
    chain.reason = "accepted: iBGP peer without export policy";
  } else {
    chain = RunChain(policy_names, prefix, *attrs, ctx);
  }
  Result result{.reason = std::move(chain.reason), .notes = std::move(chain.notes)};
  if (chain.verdict != ChainOutcome::Verdict::kAccepted) return result;
  const PathAttributes& after = chain.modified ? *chain.modified : *attrs;
  if (absl::Status loop = CheckExportAfterPolicy(after, ctx); !loop.ok()) {
    result.reason = std::string(loop.message());
    return result;
  }
  result.accepted = true;
  result.attrs = std::make_shared<const PathAttributes>(PrepareExport(after, ctx, chain.applied));
  return result;
}

}  // namespace isthmus::bgp
