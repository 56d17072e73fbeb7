// Source allow/deny lists and the per-source SYN-ACK budget in the daemon's configuration
// (docs/source-lists.md): the "lists" and "synack_budget" keys, the API's bulk bodies, and the
// difference between two configurations' lists (what a reload or an API request writes).
//
//   "lists": {
//     "allow": [{"prefixes": ["198.51.100.0/24", "2001:db8::/32"]},                 // global
//               {"host": "192.0.2.10", "prefixes": ["203.0.113.7"]}],               // per host
//     "deny":  [{"prefixes": ["192.0.2.128/25"]}]
//   },
//   "synack_budget": {"pps": 50, "burst": 100, "prefix_v4": 24, "prefix_v6": 48}
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "synwarden/ip_address.h"

namespace synwarden::daemon {

enum class ListKindCfg : uint8_t { kAllow, kDeny };
const char* list_kind_name(ListKindCfg kind) noexcept;
// "allow" / "deny"; nullopt otherwise.
std::optional<ListKindCfg> parse_list_kind(std::string_view text);

// One prefix of one scope. Addresses are network-order bytes (IPv4 in the first 4), host bits
// beyond `length` zero. `host` empty = the global lists.
// Ordered by scope (global first, then by host), then family, then prefix: the document form.
struct ListPrefix {
  bool has_host = false;
  bool v6 = false;                 // the family of the prefix and of the host
  std::array<uint8_t, 16> host{};  // zero for global
  std::array<uint8_t, 16> prefix{};
  uint8_t length = 0;

  friend auto operator<=>(const ListPrefix&, const ListPrefix&) = default;
  std::string prefix_text() const;  // "198.51.100.0/24"
  std::string host_text() const;    // "" for global
};

struct SourceLists {
  std::vector<ListPrefix> allow;  // sorted, unique
  std::vector<ListPrefix> deny;
  const std::vector<ListPrefix>& of(ListKindCfg k) const { return k == ListKindCfg::kAllow ? allow : deny; }
  std::vector<ListPrefix>& of(ListKindCfg k) { return k == ListKindCfg::kAllow ? allow : deny; }
  friend bool operator==(const SourceLists&, const SourceLists&) = default;
};

struct SynAckBudget {
  uint64_t pps = 0;    // SYN-ACKs per second to one source prefix; 0 = no budget
  uint64_t burst = 0;  // packets; 0 = one second's worth
  uint8_t prefix_v4 = 24;
  uint8_t prefix_v6 = 48;
  friend bool operator==(const SynAckBudget&, const SynAckBudget&) = default;
};

// "198.51.100.0/24", "2001:db8::/32", or a bare address (a /32 or /128). Strict: the core's
// address parsers, a decimal length without sign or leading zero, nothing else around it; host
// bits beyond the length refused. Throws ConfigError naming `path` and the text.
ListPrefix parse_list_prefix(const nlohmann::json& value, const std::string& path);

// One group {"host"?: address, "prefixes": [...]} (a config list element, an API body); the
// prefixes are appended to `out`. Throws ConfigError naming the offending entry.
void parse_list_group(const nlohmann::json& value, const std::string& path,
                      std::vector<ListPrefix>& out);
// The "lists" object. Throws ConfigError.
SourceLists parse_source_lists(const nlohmann::json& value, const std::string& path);
// The canonical document form: per kind, the global group first, then one group per host.
nlohmann::json source_lists_to_json(const SourceLists& lists);
nlohmann::json list_to_json(const std::vector<ListPrefix>& list);

SynAckBudget parse_synack_budget(const nlohmann::json& value, const std::string& path);
nlohmann::json synack_budget_to_json(const SynAckBudget& budget);

// Distinct (scope, prefix) pairs per family across both lists: what the tries hold.
struct ListCounts {
  uint64_t v4 = 0;
  uint64_t v6 = 0;
};
ListCounts count_trie_entries(const SourceLists& lists);

// What turns `from` into `to` for one list (both sorted).
struct ListDiff {
  std::vector<ListPrefix> added;
  std::vector<ListPrefix> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};
ListDiff diff_list(const std::vector<ListPrefix>& from, const std::vector<ListPrefix>& to);

}  // namespace synwarden::daemon
