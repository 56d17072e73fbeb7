#include "synwarden/dataplane/source_lists.h"

#include "map_util.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

namespace synwarden::dataplane {

using detail::err_of;
using detail::host_key_of;

namespace {

constexpr std::uint64_t kNsPerSec = 1'000'000'000ull;

unsigned width(const IpAddress& a) { return a.is_v4() ? 32u : 128u; }

// The trie key of an entry; `v6` tells which of the two is filled.
struct TrieKey {
  bool v6 = false;
  sw_list_v4_key k4{};
  sw_list_v6_key k6{};
  [[nodiscard]] const void* data() const { return v6 ? static_cast<const void*>(&k6) : &k4; }
  [[nodiscard]] std::uint32_t prefixlen() const { return v6 ? k6.prefixlen : k4.prefixlen; }
};

TrieKey trie_key(const ListEntry& e) {
  TrieKey k;
  __u32 src[4];
  copy_words(e.prefix, src);
  __u32 host[4] = {0, 0, 0, 0};
  if (e.host) copy_words(*e.host, host);
  if (e.prefix.is_v4()) {
    k.k4.prefixlen = 32u + e.length;
    k.k4.host = host[0];
    k.k4.src = src[0];
  } else {
    k.v6 = true;
    k.k6.prefixlen = 128u + e.length;
    std::memcpy(k.k6.host, host, sizeof(host));
    std::memcpy(k.k6.src, src, sizeof(src));
  }
  return k;
}

bool host_bits_zero(const IpAddress& a, unsigned length) {
  const auto& b = a.bytes();
  const unsigned bytes = width(a) / 8;
  for (unsigned i = 0; i < bytes; ++i) {
    const unsigned first_bit = i * 8;
    std::uint8_t mask = 0xff;  // bits of byte i that lie beyond `length`
    if (first_bit + 8 <= length) mask = 0;
    else if (first_bit < length) mask = static_cast<std::uint8_t>(0xffu >> (length - first_bit));
    if (b[i] & mask) return false;
  }
  return true;
}

template <class Key>
Result<void> walk(int fd, const char* map, std::vector<Key>& out) {
  Key key{};
  Key next{};
  const Key* prev = nullptr;
  for (;;) {
    int ret = bpf_map_get_next_key(fd, prev, &next);
    if (err_of(ret) == ENOENT) return {};
    if (ret < 0) return os_error(err_of(ret), std::string("iterating BPF map ") + map);
    out.push_back(next);
    key = next;
    prev = &key;
  }
}

}  // namespace

std::string_view to_string(ListKind kind) { return kind == ListKind::allow ? "allow" : "deny"; }

std::string ListEntry::to_string() const {
  std::string s = prefix.to_string() + "/" + std::to_string(length);
  if (host) s += " (host " + host->to_string() + ")";
  return s;
}

std::string list_entry_problem(const ListEntry& e) {
  if (e.length > width(e.prefix)) {
    return "prefix length " + std::to_string(e.length) + " exceeds " +
           std::to_string(width(e.prefix));
  }
  if (!host_bits_zero(e.prefix, e.length)) return "address has bits set beyond the prefix length";
  if (e.host) {
    if (e.host->is_v4() != e.prefix.is_v4()) return "host and prefix are of different families";
    const auto& hb = e.host->bytes();
    if (std::all_of(hb.begin(), hb.end(), [](std::uint8_t x) { return x == 0; })) {
      return "the all-zero address cannot be a host (it names the global lists)";
    }
  }
  return {};
}

Result<std::uint32_t> SourceListTable::bits_of(const ListEntry& e) const {
  const TrieKey k = trie_key(e);
  std::uint32_t value = 0;
  int ret = bpf_map_lookup_elem(k.v6 ? v6_.get() : v4_.get(), k.data(), &value);
  if (err_of(ret) == ENOENT) return 0u;
  if (ret < 0) return os_error(err_of(ret), "looking up list prefix " + e.to_string());
  // The kernel returned the longest prefix covering the key: only an exact hit is this entry.
  if ((value >> 8) != k.prefixlen()) return 0u;
  return value & SW_LIST_BITS_MASK;
}

Result<void> SourceListTable::write_bits(const ListEntry& e, std::uint32_t bits) {
  const TrieKey k = trie_key(e);
  const int fd = k.v6 ? v6_.get() : v4_.get();
  const char* map = k.v6 ? "sw_list_v6" : "sw_list_v4";
  if (bits == 0) {
    int ret = bpf_map_delete_elem(fd, k.data());
    if (ret < 0 && err_of(ret) != ENOENT) {
      return os_error(err_of(ret), "removing list prefix " + e.to_string() + " from " + map);
    }
    return {};
  }
  const std::uint32_t value = SW_LIST_VALUE(bits, k.prefixlen());
  if (int ret = bpf_map_update_elem(fd, k.data(), &value, BPF_ANY); ret < 0) {
    const int err = err_of(ret);
    return os_error(err, "adding list prefix " + e.to_string() + " to " + map,
                    err == ENOSPC || err == E2BIG
                        ? "the list table is full; raise limits.list_prefixes"
                        : std::string{});
  }
  return {};
}

Result<void> SourceListTable::apply(ListKind kind, const std::vector<ListEntry>& input, bool add) {
  const std::uint32_t bit = kind == ListKind::allow ? SW_LIST_ALLOW : SW_LIST_DENY;
  std::vector<ListEntry> entries = input;
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  // 1. Check everything and read the current state: nothing is written yet.
  std::vector<std::uint32_t> old(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto why = list_entry_problem(entries[i]); !why.empty()) {
      return Error{EINVAL, "list entry " + entries[i].to_string() + ": " + why};
    }
    auto bits = bits_of(entries[i]);
    if (!bits) return bits.error();
    old[i] = *bits;
    if (!add && !(old[i] & bit)) {
      return Error{ENOENT, "removing " + entries[i].to_string() + " from the " +
                               std::string(to_string(kind)) + " list: not in it; nothing removed"};
    }
  }
  // The program skips the tries of a family marked empty: mark before writing.
  std::uint32_t families = 0;
  for (const auto& e : entries) families |= e.prefix.is_v4() ? SW_LISTS_V4 : SW_LISTS_V6;
  if (add) {
    if (auto ok = update_present(families); !ok) return ok;
  }
  // 2. Write; on a refusal restore what was written, newest first.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::uint32_t want = add ? (old[i] | bit) : (old[i] & ~bit);
    if (want == old[i]) continue;
    if (auto ok = write_bits(entries[i], want); !ok) {
      for (std::size_t j = i; j-- > 0;) (void)write_bits(entries[j], old[j]);
      (void)update_present();
      Error e = ok.error();
      e.message += "; the request was rolled back, none of its " +
                   std::to_string(entries.size()) + " entries is applied";
      return e;
    }
  }
  return {};
}

Result<void> SourceListTable::update_present(std::uint32_t set_first) {
  sw_budget_cfg cfg{};
  const __u32 zero = 0;
  if (int ret = bpf_map_lookup_elem(cfg_.get(), &zero, &cfg); ret < 0) {
    return os_error(err_of(ret), "reading sw_budget_cfg");
  }
  std::uint32_t present = set_first;
  for (const auto& [fd, bit] : {std::pair{v4_.get(), SW_LISTS_V4}, std::pair{v6_.get(), SW_LISTS_V6}}) {
    sw_list_v6_key next{};  // large enough for either key
    int ret = bpf_map_get_next_key(fd, nullptr, &next);
    if (ret == 0) present |= bit;
    else if (err_of(ret) != ENOENT) return os_error(err_of(ret), "checking a list trie for entries");
  }
  if (cfg.lists == present) return {};
  cfg.lists = present;
  // A single-slot array value is written in place, not atomically as a whole; the program reads
  // `lists` alone, and user space is the only writer (SynBudgetTable::write keeps the field).
  if (int ret = bpf_map_update_elem(cfg_.get(), &zero, &cfg, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "writing sw_budget_cfg");
  }
  return {};
}

Result<void> SourceListTable::add(ListKind kind, const std::vector<ListEntry>& entries) {
  return apply(kind, entries, true);
}

Result<void> SourceListTable::remove(ListKind kind, const std::vector<ListEntry>& entries) {
  if (auto ok = apply(kind, entries, false); !ok) return ok;
  return update_present();
}

Result<void> SourceListTable::sync(ListKind kind, const std::vector<ListEntry>& wanted_in) {
  auto current = list(kind);
  if (!current) return current.error();
  std::vector<ListEntry> wanted = wanted_in;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<ListEntry> missing;
  std::vector<ListEntry> extra;
  std::set_difference(wanted.begin(), wanted.end(), current->begin(), current->end(),
                      std::back_inserter(missing));
  std::set_difference(current->begin(), current->end(), wanted.begin(), wanted.end(),
                      std::back_inserter(extra));
  // Additions first: a deny list never has a moment with less in it than both versions share.
  if (auto ok = add(kind, missing); !ok) return ok;
  return remove(kind, extra);
}

Result<std::vector<ListEntry>> SourceListTable::list(ListKind kind) const {
  const std::uint32_t bit = kind == ListKind::allow ? SW_LIST_ALLOW : SW_LIST_DENY;
  std::vector<ListEntry> out;
  std::vector<sw_list_v4_key> k4;
  if (auto ok = walk(v4_.get(), "sw_list_v4", k4); !ok) return ok.error();
  for (const auto& k : k4) {
    std::uint32_t value = 0;
    if (bpf_map_lookup_elem(v4_.get(), &k, &value) < 0 || !(value & bit)) continue;
    ListEntry e;
    const __u32 src[4] = {k.src, 0, 0, 0};
    const __u32 host[4] = {k.host, 0, 0, 0};
    e.prefix = address_of_words(SW_FAMILY_IPV4, src);
    if (k.host != 0) e.host = address_of_words(SW_FAMILY_IPV4, host);
    e.length = static_cast<std::uint8_t>(k.prefixlen - 32);
    out.push_back(e);
  }
  std::vector<sw_list_v6_key> k6;
  if (auto ok = walk(v6_.get(), "sw_list_v6", k6); !ok) return ok.error();
  for (const auto& k : k6) {
    std::uint32_t value = 0;
    if (bpf_map_lookup_elem(v6_.get(), &k, &value) < 0 || !(value & bit)) continue;
    ListEntry e;
    e.prefix = address_of_words(SW_FAMILY_IPV6, k.src);
    if (k.host[0] | k.host[1] | k.host[2] | k.host[3]) {
      e.host = address_of_words(SW_FAMILY_IPV6, k.host);
    }
    e.length = static_cast<std::uint8_t>(k.prefixlen - 128);
    out.push_back(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::array<std::uint64_t, 2>> SourceListTable::allow_hits() const {
  std::array<std::uint64_t, 2> out{};
  std::vector<std::uint64_t> per_cpu(cpus_);
  for (__u32 slot = 0; slot < SW_LIST_HIT_COUNT; ++slot) {
    if (int ret = bpf_map_lookup_elem(hits_.get(), &slot, per_cpu.data()); ret < 0) {
      return os_error(err_of(ret), "reading sw_list_hits");
    }
    for (auto v : per_cpu) out[slot] += v;
  }
  return out;
}

Result<void> SourceListTable::reset_hits() {
  std::vector<std::uint64_t> zero(cpus_, 0);
  for (__u32 slot = 0; slot < SW_LIST_HIT_COUNT; ++slot) {
    if (int ret = bpf_map_update_elem(hits_.get(), &slot, zero.data(), BPF_ANY); ret < 0) {
      return os_error(err_of(ret), "resetting sw_list_hits");
    }
  }
  return {};
}

// ---- SynBudgetTable ----

sw_budget_cfg SynBudgetTable::to_raw(const SynBudget& b, unsigned possible_cpus) {
  sw_budget_cfg raw{};
  const std::uint64_t cpus = std::max(1u, possible_cpus);
  if (b.pps != 0) {
    auto per_cpu = [&](std::uint64_t total) {
      return std::max<std::uint64_t>(1, (total + cpus - 1) / cpus);
    };
    const std::uint64_t rate = per_cpu(b.pps);
    const std::uint64_t burst = std::min<std::uint64_t>(per_cpu(b.burst ? b.burst : b.pps), kNsPerSec);
    raw.cost_ns = std::max<std::uint64_t>(1, kNsPerSec / rate);
    raw.burst_ns = raw.cost_ns * burst;
  }
  // Masks in network order: the program ANDs them onto addresses as they are on the wire.
  std::array<std::uint8_t, 16> m{};
  auto mask_bytes = [](unsigned length, unsigned bytes, std::uint8_t* out) {
    for (unsigned i = 0; i < bytes; ++i) {
      const unsigned first = i * 8;
      out[i] = first + 8 <= length ? 0xff
               : first < length    ? static_cast<std::uint8_t>(0xff00u >> (length - first))
                                   : 0;
    }
  };
  mask_bytes(std::min<unsigned>(b.prefix_v4, 32), 4, m.data());
  std::memcpy(&raw.mask_v4, m.data(), 4);
  mask_bytes(std::min<unsigned>(b.prefix_v6, 128), 16, m.data());
  std::memcpy(raw.mask_v6, m.data(), 16);
  return raw;
}

Result<void> SynBudgetTable::write(const SynBudget& budget) {
  if (budget.prefix_v4 > 32 || budget.prefix_v6 > 128) {
    return Error{EINVAL, "SYN-ACK budget prefix lengths /" + std::to_string(budget.prefix_v4) +
                             " (IPv4, max 32) /" + std::to_string(budget.prefix_v6) +
                             " (IPv6, max 128): out of range"};
  }
  sw_budget_cfg raw = to_raw(budget, cpus_);
  const __u32 key = 0;
  sw_budget_cfg current{};
  if (int ret = bpf_map_lookup_elem(cfg_.get(), &key, &current); ret < 0) {
    return os_error(err_of(ret), "reading sw_budget_cfg");
  }
  raw.lists = current.lists;  // SourceListTable's
  if (int ret = bpf_map_update_elem(cfg_.get(), &key, &raw, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "writing the SYN-ACK budget to sw_budget_cfg");
  }
  return {};
}

static_assert(sizeof(sw_budget) % 8 == 0, "per-CPU stride of sw_budget is its size");

Result<std::vector<BudgetRow>> SynBudgetTable::top(std::size_t n) const {
  std::vector<sw_host_key> keys;
  if (auto ok = walk(buckets_.get(), "sw_syn_budget", keys); !ok) return ok.error();
  std::vector<BudgetRow> rows;
  rows.reserve(keys.size());
  std::vector<sw_budget> per_cpu(cpus_);
  for (const auto& k : keys) {
    if (bpf_map_lookup_elem(buckets_.get(), &k, per_cpu.data()) < 0) continue;  // evicted meanwhile
    BudgetRow r;
    r.prefix = address_of_words(k.family, k.addr);
    for (const auto& c : per_cpu) {
      r.dropped += c.dropped;
      r.answered += c.answered;
    }
    rows.push_back(r);
  }
  const auto raw = [&]() -> Result<sw_budget_cfg> {
    sw_budget_cfg c{};
    const __u32 key = 0;
    if (int ret = bpf_map_lookup_elem(cfg_.get(), &key, &c); ret < 0) {
      return os_error(err_of(ret), "reading sw_budget_cfg");
    }
    return c;
  }();
  if (!raw) return raw.error();
  const auto ones = [](const std::uint8_t* p, unsigned bytes) {
    unsigned count = 0;
    for (unsigned i = 0; i < bytes; ++i) count += static_cast<unsigned>(__builtin_popcount(p[i]));
    return count;
  };
  const auto len4 = static_cast<std::uint8_t>(ones(reinterpret_cast<const std::uint8_t*>(&raw->mask_v4), 4));
  const auto len6 = static_cast<std::uint8_t>(ones(reinterpret_cast<const std::uint8_t*>(raw->mask_v6), 16));
  for (auto& r : rows) r.length = r.prefix.is_v4() ? len4 : len6;
  std::sort(rows.begin(), rows.end(), [](const BudgetRow& a, const BudgetRow& b) {
    if (a.dropped != b.dropped) return a.dropped > b.dropped;
    if (a.answered != b.answered) return a.answered > b.answered;
    return a.prefix < b.prefix;
  });
  if (rows.size() > n) rows.resize(n);
  return rows;
}

Result<void> SynBudgetTable::clear() {
  std::vector<sw_host_key> keys;
  if (auto ok = walk(buckets_.get(), "sw_syn_budget", keys); !ok) return ok.error();
  for (const auto& k : keys) {
    int ret = bpf_map_delete_elem(buckets_.get(), &k);
    if (ret < 0 && err_of(ret) != ENOENT) return os_error(err_of(ret), "clearing sw_syn_budget");
  }
  return {};
}

}  // namespace synwarden::dataplane
