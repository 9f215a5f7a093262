#include "control/cli/cli_commands.h"

#include <cmath>
#include <span>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "control/admin/admin_client.h"
#include "control/cli/table_printer.h"
#include "control/config/ipv4.h"

namespace isthmus {
namespace {

using nlohmann::json;

constexpr double kMaxTimeoutSeconds = 3600;
constexpr absl::string_view kOptionsAccepted =
    "--socket PATH, --json, --timeout SEC, --version, --help";
constexpr absl::string_view kMissingCell = "-";

// ---- Views: what each command's result looks like on a terminal. ----

enum class CellFormat { kPlain, kUpDown, kYesNo, kDuration };

struct ColumnSpec {
  absl::string_view header;
  absl::string_view key;
  Align align = Align::kLeft;
  CellFormat format = CellFormat::kPlain;
};

// One table: rows are the elements of result[rows_key] (the result itself
// when rows_key is empty). With expand_key, an element with a non-empty
// array under that key gives one row per item of it, and a column's key is
// looked up in the item first, then in the element (routes → next hops).
struct TableSpec {
  absl::string_view title;
  absl::string_view rows_key;
  absl::string_view expand_key;
  std::span<const ColumnSpec> columns;
};

// "label: value" lines printed before the tables.
struct FieldSpec {
  absl::string_view label;
  absl::string_view key;
  CellFormat format = CellFormat::kPlain;
};

struct ViewSpec {
  std::span<const FieldSpec> fields;
  std::span<const TableSpec> tables;
};

constexpr Align kR = Align::kRight;

constexpr ColumnSpec kPortColumns[] = {
    {"NAME", "name"},
    {"DRIVER", "driver"},
    {"INTERFACE", "interface"},
    {"ID", "port_id", kR},
    {"MAC", "mac"},
    {"LINK", "link_up", Align::kLeft, CellFormat::kUpDown},
    {"MTU", "mtu", kR},
    {"RX-PACKETS", "rx_packets", kR},
    {"RX-BYTES", "rx_bytes", kR},
    {"TX-PACKETS", "tx_packets", kR},
    {"TX-BYTES", "tx_bytes", kR},
    {"RX-MISSED", "rx_missed", kR},
    {"RING-FULL", "rx_ring_full", kR},
    {"RX-ERRORS", "rx_errors", kR},
    {"TX-ERRORS", "tx_errors", kR},
};
constexpr TableSpec kPortTables[] = {{"", "", "", kPortColumns}};

constexpr ColumnSpec kRouteColumns[] = {
    {"PREFIX", "prefix"},
    {"SOURCE", "source"},
    {"BLACKHOLE", "blackhole", Align::kLeft, CellFormat::kYesNo},
    {"VIA", "via"},
    {"PORT", "port"},
};
constexpr TableSpec kRouteTables[] = {{"", "", "nexthops", kRouteColumns}};

constexpr FieldSpec kFibFields[] = {{"routes", "routes"}};
constexpr ColumnSpec kFibColumns[] = {
    {"PREFIX", "prefix"},
    {"GROUP", "group", kR},
    {"KIND", "kind"},
    {"VIA", "via"},
    {"PORT", "port"},
    {"MAC", "mac"},
    {"RESOLVED", "resolved", Align::kLeft, CellFormat::kYesNo},
};
constexpr TableSpec kFibTables[] = {{"", "entries", "nexthops", kFibColumns}};

constexpr ColumnSpec kReasonColumns[] = {
    {"REASON", "reason"},
    {"PACKETS", "packets", kR},
    {"HELP", "help"},
};
constexpr TableSpec kDropTables[] = {
    {"Drops:", "drops", "", kReasonColumns},
    {"Punts to the kernel:", "punts", "", kReasonColumns},
};

constexpr FieldSpec kStatsFields[] = {
    {"version", "version"},
    {"uptime", "uptime_seconds", CellFormat::kDuration},
    {"fib routes", "fib_routes"},
};
constexpr ColumnSpec kWorkerColumns[] = {
    {"WORKER", "id", kR},
    {"LCORE", "lcore", kR},
    {"BUSY-POLLS", "busy_polls", kR},
    {"IDLE-POLLS", "idle_polls", kR},
    {"RX-PACKETS", "rx_packets", kR},
    {"TX-PACKETS", "tx_packets", kR},
    {"STALLS", "stalls", kR},
    {"LONGEST-GAP-MS", "longest_loop_gap_ms", kR},
};
constexpr ColumnSpec kMempoolColumns[] = {
    {"MEMPOOL", "name"},
    {"SIZE", "size", kR},
    {"IN-USE", "in_use", kR},
};
constexpr TableSpec kStatsTables[] = {{"Workers:", "workers", "", kWorkerColumns},
                                      {"Mempools:", "mempools", "", kMempoolColumns}};

constexpr FieldSpec kBgpSummaryFields[] = {{"local AS", "asn"}, {"router id", "router_id"}};
constexpr ColumnSpec kBgpPeerColumns[] = {
    {"PEER", "name"},
    {"ADDRESS", "address"},
    {"AS", "remote_as", kR},
    {"STATE", "state"},
    {"UP/DOWN", "uptime_seconds", kR, CellFormat::kDuration},
    {"RCVD", "prefixes_received", kR},
    {"ACCEPTED", "prefixes_accepted", kR},
    {"ADVERTISED", "prefixes_advertised", kR},
    {"LAST-ERROR", "last_error"},
};
constexpr TableSpec kBgpSummaryTables[] = {{"", "peers", "", kBgpPeerColumns}};
constexpr TableSpec kBgpNeighborTables[] = {{"", "neighbors", "", kBgpPeerColumns}};
constexpr ColumnSpec kBgpRouteColumns[] = {
    {"PREFIX", "prefix"},
    {"PEER", "peer"},
    {"NEXT-HOP", "next_hop"},
    {"AS-PATH", "as_path"},
    {"LOCPRF", "local_pref", kR},
    {"MED", "med", kR},
    {"BEST", "best", Align::kLeft, CellFormat::kYesNo},
    {"MULTIPATH", "multipath", Align::kLeft, CellFormat::kYesNo},
    {"STALE", "stale", Align::kLeft, CellFormat::kYesNo},
};
constexpr TableSpec kBgpRouteTables[] = {{"", "routes", "paths", kBgpRouteColumns}};

constexpr ColumnSpec kTunnelColumns[] = {
    {"NAME", "name"},
    {"TYPE", "type"},
    {"LOCAL", "local"},
    {"REMOTE", "remote"},
    {"VNI", "vni", kR},
    {"OVERLAY", "overlay"},
    {"MTU", "mtu", kR},
    {"STATE", "state"},
    {"ENCAP-PKTS", "encap_packets", kR},
    {"ENCAP-BYTES", "encap_bytes", kR},
    {"DECAP-PKTS", "decap_packets", kR},
    {"DECAP-BYTES", "decap_bytes", kR},
    {"ERRORS", "errors", kR},
};
constexpr TableSpec kTunnelTables[] = {{"", "", "", kTunnelColumns}};

constexpr ColumnSpec kServiceColumns[] = {
    {"SERVICE", "name"},
    {"VIP", "vip"},
    {"PROTO", "protocol"},
    {"PORTS", "ports_text"},
    {"STATE", "state"},
    {"UP", "backends_up", kR},
    {"MIN", "min_up", kR},
    {"ANNOUNCED", "announced", Align::kLeft, CellFormat::kYesNo},
    {"BACKEND", "backend"},
    {"HEALTH", "health"},
    {"LATENCY-US", "latency_us", kR},
    {"LAST-ERROR", "last_error"},
};
constexpr TableSpec kServiceTables[] = {{"", "", "backends", kServiceColumns}};

constexpr FieldSpec kFlowFields[] = {
    {"flows", "active"},
    {"capacity", "capacity"},
    {"created", "created"},
    {"expired", "expired"},
    {"snat ports in use", "snat_ports_in_use"},
    {"shown", "shown"},
};
constexpr ColumnSpec kFlowColumns[] = {
    {"SERVICE", "service"},
    {"PROTO", "protocol"},
    {"CLIENT", "client"},
    {"VIP", "vip"},
    {"BACKEND", "backend"},
    {"SNAT", "snat"},
    {"STATE", "state"},
    {"IDLE", "idle_seconds", kR, CellFormat::kDuration},
    {"AGE", "age_seconds", kR, CellFormat::kDuration},
};
constexpr TableSpec kFlowTables[] = {{"", "flows", "", kFlowColumns}};

std::string RenderView(const ViewSpec& view, const json& result);
std::string RenderReload(const json& result);
std::string RenderServiceAction(const json& result);

// ---- The accepted commands. ----

struct CommandSpec {
  absl::string_view verb;
  absl::string_view object;  // empty: the verb takes no argument; may be several words
  absl::string_view summary;
  ViewSpec view;
  std::string (*render)(const json&) = nullptr;  // instead of `view`
  absl::string_view argument = {};                // trailing argument (e.g. PEER)
  bool argument_required = false;                 // else optional
  // Checks the argument before anything is sent: a usage error names what
  // is accepted without needing a daemon. Null: any word is accepted.
  absl::Status (*check_argument)(absl::string_view) = nullptr;
};

absl::Status CheckPrefixArgument(absl::string_view text);

constexpr CommandSpec kCommands[] = {
    {"show", "ports", "ports, link state and counters", {{}, kPortTables}},
    {"show", "routes", "configured and connected routes", {{}, kRouteTables}},
    {"show", "fib", "forwarding table as the workers see it", {kFibFields, kFibTables}},
    {"show", "drops", "drop and punt counters by reason", {{}, kDropTables}},
    {"show", "stats", "daemon and worker statistics, stalls, mempool use", {kStatsFields, kStatsTables}},
    {"show", "bgp summary", "BGP peers, states and prefix counts", {kBgpSummaryFields, kBgpSummaryTables}},
    {"show", "bgp neighbors", "BGP peers in detail (--json for everything)", {{}, kBgpNeighborTables}, nullptr,
     "PEER"},
    {"show", "bgp routes", "BGP paths per prefix: best, multipath, stale", {{}, kBgpRouteTables}, nullptr,
     "PREFIX", false, &CheckPrefixArgument},
    {"show", "tunnels", "tunnels: endpoints, state and counters (--json adds drops by reason)", {{}, kTunnelTables}},
    {"show", "services", "anycast services, their state and each backend's health", {{}, kServiceTables}},
    {"show", "flows", "NAT flows: totals and the first 1000 (--json for the fields)", {kFlowFields, kFlowTables}},
    {"reload", "", "re-read the configuration file and apply it", {}, &RenderReload},
    {"service", "drain", "withdraw the service's VIP, wait for the peers to acknowledge, take no new flows", {},
     &RenderServiceAction, "NAME", true},
    {"service", "undrain", "end a drain: announce the VIP again (when healthy), take new flows", {},
     &RenderServiceAction, "NAME", true},
};

std::string CommandWords(const CommandSpec& spec) {
  return spec.object.empty() ? std::string(spec.verb) : absl::StrCat(spec.verb, " ", spec.object);
}

std::string CommandName(const CommandSpec& spec) {
  std::string name = CommandWords(spec);
  if (spec.argument_required) {
    absl::StrAppend(&name, " ", spec.argument);
  } else if (!spec.argument.empty()) {
    absl::StrAppend(&name, " [", spec.argument, "]");
  }
  return name;
}

std::vector<std::string> ObjectWords(const CommandSpec& spec) {
  if (spec.object.empty()) return {};
  return absl::StrSplit(spec.object, ' ');
}

std::string AcceptedCommands() {
  std::vector<std::string> names;
  for (const CommandSpec& spec : kCommands) names.push_back(CommandName(spec));
  return absl::StrJoin(names, ", ");
}

// The command whose fixed words start `words` (the longest such), whatever
// follows them; null if none.
const CommandSpec* FindCommandPrefix(const std::vector<std::string>& words) {
  const CommandSpec* best = nullptr;
  size_t best_words = 0;
  for (const CommandSpec& spec : kCommands) {
    const std::vector<std::string> object = ObjectWords(spec);
    const size_t fixed = 1 + object.size();
    if (words.size() < fixed || words[0] != spec.verb) continue;
    if (!std::equal(object.begin(), object.end(), words.begin() + 1)) continue;
    if (fixed > best_words) {
      best = &spec;
      best_words = fixed;
    }
  }
  return best;
}

size_t FixedWords(const CommandSpec& spec) { return 1 + ObjectWords(spec).size(); }

const CommandSpec* FindCommand(const std::vector<std::string>& words) {
  const CommandSpec* spec = FindCommandPrefix(words);
  if (spec == nullptr) return nullptr;
  const size_t fixed = FixedWords(*spec);
  const bool size_ok = words.size() == fixed || (!spec->argument.empty() && words.size() == fixed + 1);
  return size_ok ? spec : nullptr;
}

// Why `command` (whose fixed words are `spec`'s) has the wrong arguments, or
// OK. Every message names the command and the form it accepts.
absl::Status CheckArguments(const CommandSpec& spec, const std::vector<std::string>& command) {
  const size_t fixed = FixedWords(spec);
  const size_t given = command.size() - fixed;
  const std::string words = CommandWords(spec);
  const std::string accepted = absl::StrCat(" (accepted: ", CommandName(spec), ")");
  if (spec.argument.empty() && given > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", words, "\" takes no argument, got \"", absl::StrJoin(command.begin() + fixed, command.end(), " "),
        "\"", accepted));
  }
  if (given > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", words, "\" takes one ", spec.argument, ", got ", given, " arguments", accepted));
  }
  if (given == 0 && spec.argument_required) {
    return absl::InvalidArgumentError(absl::StrCat("\"", words, "\" needs ", spec.argument, accepted));
  }
  if (given == 1 && spec.check_argument != nullptr) {
    if (absl::Status s = spec.check_argument(command.back()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", words, "\": ", s.message()));
    }
  }
  return absl::OkStatus();
}

// The same forms the speaker accepts (bgp/speaker/speaker_views.cc Routes):
// a prefix without host bits, or an address (every prefix containing it).
absl::Status CheckPrefixArgument(absl::string_view text) {
  const std::string_view view(text.data(), text.size());
  if (ParsePrefix(view).has_value() || ParseIpv4(view).has_value()) return absl::OkStatus();
  std::string problem = absl::StrCat("\"", text, "\" is not a prefix or an address");
  if (const std::optional<InterfaceAddress> with_host = ParseInterfaceAddress(view); with_host.has_value()) {
    problem = absl::StrCat("\"", text, "\" has host bits set (did you mean ", ToString(with_host->subnet), "?)");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      problem, "; accepted: a.b.c.d/len with no host bits, e.g. 198.51.100.0/24, or an address a.b.c.d"));
}

// ---- Cells. ----

const json* Lookup(const json& primary, const json* secondary, absl::string_view key) {
  if (primary.is_object()) {
    if (const auto it = primary.find(key); it != primary.end()) return &*it;
  }
  if (secondary != nullptr && secondary->is_object()) {
    if (const auto it = secondary->find(key); it != secondary->end()) return &*it;
  }
  return nullptr;
}

std::string FormatDuration(const json& value) {
  if (!value.is_number()) return value.dump();
  const double seconds = value.get<double>();
  if (!std::isfinite(seconds) || seconds < 0) return value.dump();
  return absl::FormatDuration(absl::Seconds(std::floor(seconds)));
}

std::string CellText(const json* value, CellFormat format) {
  if (value == nullptr || value->is_null()) return std::string(kMissingCell);
  if (value->is_boolean()) {
    const bool b = value->get<bool>();
    if (format == CellFormat::kUpDown) return b ? "up" : "down";
    return b ? "yes" : "no";
  }
  if (format == CellFormat::kDuration) return FormatDuration(*value);
  if (value->is_string()) {
    const std::string& s = value->get_ref<const std::string&>();
    return s.empty() ? std::string(kMissingCell) : s;
  }
  return value->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::string> MakeRow(std::span<const ColumnSpec> columns, const json& primary,
                                 const json* secondary) {
  std::vector<std::string> row;
  for (const ColumnSpec& column : columns) {
    row.push_back(CellText(Lookup(primary, secondary, column.key), column.format));
  }
  return row;
}

std::vector<std::vector<std::string>> TableRows(const TableSpec& table, const json& result) {
  const json* elements = table.rows_key.empty() ? &result : Lookup(result, nullptr, table.rows_key);
  std::vector<std::vector<std::string>> rows;
  if (elements == nullptr || !elements->is_array()) return rows;
  for (const json& element : *elements) {
    const json* nested =
        table.expand_key.empty() ? nullptr : Lookup(element, nullptr, table.expand_key);
    if (nested != nullptr && nested->is_array() && !nested->empty()) {
      for (const json& item : *nested) rows.push_back(MakeRow(table.columns, item, &element));
    } else {
      rows.push_back(MakeRow(table.columns, element, nullptr));
    }
  }
  return rows;
}

std::string RenderTable(const TableSpec& table, const json& result) {
  std::vector<TableColumn> columns;
  for (const ColumnSpec& column : table.columns) columns.push_back({column.header, column.align});
  const std::vector<std::vector<std::string>> rows = TableRows(table, result);
  std::string out = table.title.empty() ? "" : absl::StrCat(table.title, "\n");
  absl::StrAppend(&out, FormatTable(columns, rows));
  if (rows.empty()) absl::StrAppend(&out, "(none)\n");
  return out;
}

std::string RenderView(const ViewSpec& view, const json& result) {
  std::string out;
  for (const FieldSpec& field : view.fields) {
    absl::StrAppend(&out, field.label, ": ",
                    CellText(Lookup(result, nullptr, field.key), field.format), "\n");
  }
  for (const TableSpec& table : view.tables) {
    if (!out.empty()) absl::StrAppend(&out, "\n");
    absl::StrAppend(&out, RenderTable(table, result));
  }
  return out;
}

std::string RenderReload(const json& result) {
  const json* changes = Lookup(result, nullptr, "changes");
  std::vector<std::string> lines;
  if (changes != nullptr && changes->is_array()) {
    for (const json& change : *changes) lines.push_back(CellText(&change, CellFormat::kPlain));
  }
  std::string out = absl::StrCat("reloaded: ", lines.size(),
                                 lines.size() == 1 ? " change\n" : " changes\n");
  for (const std::string& line : lines) absl::StrAppend(&out, "  ", line, "\n");
  return out;
}

std::string RenderServiceAction(const json& result) {
  const json* service = Lookup(result, nullptr, "service");
  const json* vip = Lookup(result, nullptr, "vip");
  const json* state = Lookup(result, nullptr, "state");
  const json* acknowledged = Lookup(result, nullptr, "acknowledged");
  const bool acked = acknowledged != nullptr && acknowledged->is_boolean() && acknowledged->get<bool>();
  return absl::StrCat("service ", CellText(service, CellFormat::kPlain), " (VIP ", CellText(vip, CellFormat::kPlain),
                      "): ", CellText(state, CellFormat::kPlain),
                      acked ? "; the BGP peers have acknowledged the UPDATE\n"
                            : "; NOT acknowledged by every BGP peer within 2 s\n");
}

// ---- Command line. ----

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) || seconds <= 0 ||
      seconds > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout \"", text, "\" must be a number of seconds above 0 and at most 3600"));
  }
  return absl::Seconds(seconds);
}

// Splits "--name=value"; for "--name value" takes the next argument.
absl::StatusOr<std::string> OptionValue(absl::string_view name, absl::string_view arg,
                                        const std::vector<std::string>& args, size_t& i) {
  absl::string_view rest = arg;
  if (absl::ConsumePrefix(&rest, name) && absl::ConsumePrefix(&rest, "=")) {
    return std::string(rest);
  }
  if (i + 1 >= args.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " needs a value (accepted: ", kOptionsAccepted, ")"));
  }
  return args[++i];
}

absl::Status ApplyOption(absl::string_view arg, const std::vector<std::string>& args, size_t& i,
                         CliInvocation& inv) {
  if (arg == "--help" || arg == "-h") {
    inv.action = CliInvocation::Action::kHelp;
  } else if (arg == "--version") {
    if (inv.action == CliInvocation::Action::kRun) inv.action = CliInvocation::Action::kVersion;
  } else if (arg == "--json") {
    inv.json = true;
  } else if (arg == "--socket" || absl::StartsWith(arg, "--socket=")) {
    absl::StatusOr<std::string> value = OptionValue("--socket", arg, args, i);
    if (!value.ok()) return value.status();
    if (value->empty()) {
      return absl::InvalidArgumentError("--socket needs a non-empty path (accepted: --socket PATH)");
    }
    inv.socket = *value;
  } else if (arg == "--timeout" || absl::StartsWith(arg, "--timeout=")) {
    absl::StatusOr<std::string> value = OptionValue("--timeout", arg, args, i);
    if (!value.ok()) return value.status();
    absl::StatusOr<absl::Duration> timeout = ParseTimeout(*value);
    if (!timeout.ok()) return timeout.status();
    inv.timeout = *timeout;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg, " (accepted: ", kOptionsAccepted, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CliInvocation> ParseCommandLine(const std::vector<std::string>& args,
                                               const char* env_socket) {
  CliInvocation inv;
  inv.socket = (env_socket != nullptr && *env_socket != '\0') ? env_socket : kDefaultAdminSocket;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && arg.size() > 1 && arg[0] == '-') {
      if (absl::Status s = ApplyOption(arg, args, i, inv); !s.ok()) return s;
    } else {
      inv.command.push_back(arg);
    }
  }
  if (inv.action == CliInvocation::Action::kRun && inv.command.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no command given (accepted: ", AcceptedCommands(), ")"));
  }
  return inv;
}

absl::StatusOr<json> BuildAdminRequest(const std::vector<std::string>& command) {
  if (const CommandSpec* prefix = FindCommandPrefix(command); prefix != nullptr) {
    if (absl::Status s = CheckArguments(*prefix, command); !s.ok()) return s;
  }
  const CommandSpec* spec = FindCommand(command);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"",
                                                   absl::StrJoin(command, " "),
                                                   "\" (accepted: ", AcceptedCommands(), ")"));
  }
  json args = json::array();
  for (size_t i = 1; i < command.size(); ++i) args.push_back(command[i]);   // object words, then the argument
  return json{{"command", std::string(spec->verb)}, {"args", std::move(args)}};
}

std::optional<std::string> ResultError(const json& result) {
  if (!result.is_object()) return std::nullopt;
  const auto error = result.find("error");
  if (error == result.end() || !error->is_string()) return std::nullopt;
  return error->get<std::string>();
}

json ErrorJson(const std::string& message, int exit_status) {
  return json{{"error", message}, {"exit_status", exit_status}};
}

std::string RenderResult(const std::vector<std::string>& command, const json& result) {
  const CommandSpec* spec = FindCommand(command);
  if (spec == nullptr) return result.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  if (spec->render != nullptr) return spec->render(result);
  return RenderView(spec->view, result);
}

std::string UsageText() {
  std::string out =
      "usage: isthmusctl [--socket PATH] [--json] [--timeout SEC] COMMAND...\n"
      "       isthmusctl --version | --help\n"
      "\n"
      "commands:\n";
  std::vector<TableColumn> columns = {{"", Align::kLeft}, {"", Align::kLeft}};
  std::vector<std::vector<std::string>> rows;
  for (const CommandSpec& spec : kCommands) {
    rows.push_back({absl::StrCat("  ", CommandName(spec)), std::string(spec.summary)});
  }
  std::string table = FormatTable(columns, rows);
  absl::StrAppend(&out, table.substr(table.find('\n') + 1));  // drop the empty header line
  absl::StrAppend(&out,
                  "\noptions:\n"
                  "  --socket PATH  admin socket of isthmusd (default ",
                  kDefaultAdminSocket,
                  ", or $ISTHMUS_SOCKET)\n"
                  "  --json         print the daemon's result as JSON\n"
                  "  --timeout SEC  give up after SEC seconds (default 5)\n"
                  "  --version      print the version and exit\n"
                  "  --help         print this help and exit\n"
                  "\nexit status: 0 success, 1 daemon error or no daemon, 2 usage error\n");
  return out;
}

}  // namespace isthmus
