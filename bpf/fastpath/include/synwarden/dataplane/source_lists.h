// Source allow/deny lists (maps sw_list_v4/sw_list_v6) and the per-source SYN-ACK budget
// (sw_budget_cfg, sw_syn_budget) of the fast path: see bpf/fastpath/lists.bpf.h for what the
// program does with them. Control-plane only: every call is one or more syscalls.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synwarden/dataplane/result.h"
#include "synwarden/dataplane/types.h"
#include "synwarden/unique_fd.h"

namespace synwarden::dataplane {

enum class ListKind : std::uint8_t { allow, deny };
[[nodiscard]] std::string_view to_string(ListKind kind);

// A source prefix in one scope: `host` empty = the global lists, else the lists of that
// protected address (same family as the prefix). Host bits of `prefix` beyond `length` are zero.
struct ListEntry {
  std::optional<IpAddress> host;
  IpAddress prefix;
  std::uint8_t length = 0;  // 0..32 (IPv4) or 0..128 (IPv6)

  friend auto operator<=>(const ListEntry&, const ListEntry&) = default;
  // "198.51.100.0/24" or "198.51.100.0/24 (host 192.0.2.10)"
  [[nodiscard]] std::string to_string() const;
};

// Checks an entry's own consistency (length in range, host bits zero, host family = prefix
// family, host not the all-zero address): an empty string when fine, else why not.
[[nodiscard]] std::string list_entry_problem(const ListEntry& e);

class SourceListTable {
 public:
  SourceListTable(UniqueFd v4, UniqueFd v6, UniqueFd hits, UniqueFd cfg, unsigned cpus)
      : v4_(std::move(v4)), v6_(std::move(v6)), hits_(std::move(hits)), cfg_(std::move(cfg)),
        cpus_(cpus) {}

  // Adds `entries` to list `kind`, all or nothing: every entry is checked first (nothing is
  // written if one is bad); if the kernel refuses one (table full), the ones written before it
  // are restored and the error names the entry. Entries already present are no-ops.
  Result<void> add(ListKind kind, const std::vector<ListEntry>& entries);
  // Removes `entries` from list `kind`, all or nothing as add(); an entry not in the list is
  // an error (ENOENT) naming it, and nothing is removed.
  Result<void> remove(ListKind kind, const std::vector<ListEntry>& entries);
  // Makes the list `kind` hold exactly `entries` (daemon start and reload): removes what is not
  // listed, adds what is missing; the other list is untouched.
  Result<void> sync(ListKind kind, const std::vector<ListEntry>& entries);
  // The entries of list `kind`, sorted: global entries first, then by host; IPv4 before IPv6.
  Result<std::vector<ListEntry>> list(ListKind kind) const;

  // Allow-list hits summed over CPUs: [0] host lists, [1] global lists.
  Result<std::array<std::uint64_t, 2>> allow_hits() const;
  Result<void> reset_hits();
  [[nodiscard]] int v4_fd() const noexcept { return v4_.get(); }
  [[nodiscard]] int v6_fd() const noexcept { return v6_.get(); }

 private:
  Result<std::uint32_t> bits_of(const ListEntry& e) const;  // this exact prefix's list bits
  Result<void> write_bits(const ListEntry& e, std::uint32_t bits);
  Result<void> apply(ListKind kind, const std::vector<ListEntry>& entries, bool add);
  // sw_budget_cfg.lists := which tries hold anything (one get_next_key each). Called after every
  // change; an addition sets its family's bit before the first prefix is written.
  Result<void> update_present(std::uint32_t set_first = 0);

  UniqueFd v4_;
  UniqueFd v6_;
  UniqueFd hits_;
  UniqueFd cfg_;  // sw_budget_cfg: its `lists` field
  unsigned cpus_;
};

struct SynBudget {
  std::uint64_t pps = 0;    // SYN-ACKs per second per source prefix, 0 = no budget
  std::uint64_t burst = 0;  // packets; 0 = one second's worth
  std::uint8_t prefix_v4 = 24;
  std::uint8_t prefix_v6 = 48;
};

struct BudgetRow {
  IpAddress prefix;
  std::uint8_t length = 0;
  std::uint64_t dropped = 0;   // SYNs dropped over the budget (summed over CPUs)
  std::uint64_t answered = 0;  // SYNs let through
};

class SynBudgetTable {
 public:
  SynBudgetTable(UniqueFd cfg, UniqueFd buckets, unsigned cpus)
      : cfg_(std::move(cfg)), buckets_(std::move(buckets)), cpus_(cpus) {}

  // Rate and burst are split over the CPUs like the other buckets (a flood on one queue gets
  // 1/N of the budget). Prefix lengths beyond the family's width are refused.
  Result<void> write(const SynBudget& budget);
  static sw_budget_cfg to_raw(const SynBudget& budget, unsigned cpus);
  // The `n` prefixes with the most dropped SYNs (ties: most answered), walking the whole map.
  Result<std::vector<BudgetRow>> top(std::size_t n) const;
  // Empties the buckets (tests; a changed prefix length).
  Result<void> clear();

 private:
  UniqueFd cfg_;
  UniqueFd buckets_;
  unsigned cpus_;
};

}  // namespace synwarden::dataplane
