#include "synwarden/dataplane/tables.h"

#include "map_util.h"

#include "synwarden/clock_now.h"
#include "synwarden/dataplane/flow_hint.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace synwarden::dataplane {

using detail::err_of;
using detail::host_key_of;

namespace {

// libbpf >= 1.0 returns -errno; errno is set too, but the return value is the reliable one.
constexpr std::uint32_t kBatch = 4096;

// Iterates a hash map's keys with BPF_MAP_LOOKUP_BATCH; falls back to get_next_key on kernels
// or map types without batch support. fn(keys, n) sees each chunk.
template <class Key, class Value, class Fn>
Result<void> for_each_chunk(int fd, const char* map, Fn&& fn) {
  std::vector<Key> keys(kBatch);
  std::vector<Value> values(kBatch);
  Key in_batch{};
  Key out_batch{};  // hash maps use a u32 bucket cursor: a key-sized token is large enough
  bool first = true;
  for (;;) {
    __u32 n = kBatch;
    int ret = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(),
                                   values.data(), &n, nullptr);
    const int err = err_of(ret);
    if (err != 0 && err != ENOENT) {
      if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP)) break;  // fall back
      return os_error(err, std::string("batch lookup on BPF map ") + map);
    }
    fn(keys.data(), n);
    if (err == ENOENT) return {};
    in_batch = out_batch;
    first = false;
  }
  // Fallback: one syscall per key.
  Key key{};
  Key next{};
  const Key* prev = nullptr;
  for (;;) {
    int ret = bpf_map_get_next_key(fd, prev, &next);
    if (err_of(ret) == ENOENT) return {};
    if (ret < 0) return os_error(err_of(ret), std::string("iterating BPF map ") + map);
    key = next;
    fn(&key, 1u);
    prev = &key;
  }
}

}  // namespace

// ---- HostTable ----

Result<void> HostTable::upsert(const IpAddress& addr, const HostEntry& entry) {
  const sw_host_key key = host_key_of(addr);
  const sw_host value = entry.to_raw();
  if (int ret = bpf_map_update_elem(fd_.get(), &key, &value, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "adding protected host " + addr.to_string() + " to sw_hosts",
                    err_of(ret) == E2BIG ? "the host table is full; raise host_table_size"
                                         : std::string{});
  }
  return {};
}

Result<void> HostTable::erase(const IpAddress& addr) {
  const sw_host_key key = host_key_of(addr);
  if (int ret = bpf_map_delete_elem(fd_.get(), &key); ret < 0) {
    return os_error(err_of(ret), "removing protected host " + addr.to_string() + " from sw_hosts");
  }
  return {};
}

Result<std::optional<HostEntry>> HostTable::lookup(const IpAddress& addr) const {
  const sw_host_key key = host_key_of(addr);
  sw_host value{};
  int ret = bpf_map_lookup_elem(fd_.get(), &key, &value);
  if (err_of(ret) == ENOENT) return std::optional<HostEntry>{};
  if (ret < 0) return os_error(err_of(ret), "looking up host " + addr.to_string() + " in sw_hosts");
  return std::optional<HostEntry>{HostEntry::from_raw(value)};
}

Result<void> HostTable::set_protection(const IpAddress& addr, bool protect) {
  auto found = lookup(addr);
  if (!found) return found.error();
  if (!found->has_value()) {
    return Error{ENOENT, "setting protection of " + addr.to_string() +
                             ": not a protected host; add it first"};
  }
  HostEntry entry = **found;
  entry.protect = protect;
  // BPF_EXIST: never resurrect a host that a concurrent erase() removed in between.
  const sw_host_key key = host_key_of(addr);
  const sw_host value = entry.to_raw();
  if (int ret = bpf_map_update_elem(fd_.get(), &key, &value, BPF_EXIST); ret < 0) {
    return os_error(err_of(ret), "setting protection of " + addr.to_string() + " in sw_hosts");
  }
  return {};
}

Result<std::vector<std::pair<IpAddress, HostEntry>>> HostTable::list() const {
  std::vector<sw_host_key> keys;
  auto walked = for_each_chunk<sw_host_key, sw_host>(
      fd_.get(), "sw_hosts", [&](const sw_host_key* k, __u32 n) { keys.insert(keys.end(), k, k + n); });
  if (!walked) return walked.error();
  std::vector<std::pair<IpAddress, HostEntry>> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    sw_host value{};
    // A host deleted between the walk and this lookup is simply skipped.
    if (bpf_map_lookup_elem(fd_.get(), &k, &value) == 0) {
      out.emplace_back(address_of_words(k.family, k.addr),
                       HostEntry::from_raw(value));
    }
  }
  return out;
}

// ---- OutboundKeyTable ----

Result<void> OutboundKeyTable::sync(const std::vector<std::pair<IpAddress, sw_sip_key>>& keys) {
  std::vector<sw_host_key> wanted;
  for (const auto& [addr, value] : keys) {
    const sw_host_key key = host_key_of(addr);
    wanted.push_back(key);
    sw_sip_key current{};
    if (bpf_map_lookup_elem(fd_.get(), &key, &current) == 0 && current.k0 == value.k0 &&
        current.k1 == value.k1) {
      continue;
    }
    if (int ret = bpf_map_update_elem(fd_.get(), &key, &value, BPF_ANY); ret < 0) {
      return os_error(err_of(ret), "writing the outbound stamp key of " + addr.to_string() +
                                       " into sw_outbound_keys");
    }
  }
  std::vector<sw_host_key> present;
  sw_host_key cur{}, next{};
  const sw_host_key* prev = nullptr;
  while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0) {
    present.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (const auto& k : present) {
    const bool keep = std::any_of(wanted.begin(), wanted.end(), [&](const sw_host_key& w) {
      return std::memcmp(&w, &k, sizeof k) == 0;
    });
    if (keep) continue;
    if (int ret = bpf_map_delete_elem(fd_.get(), &k); ret < 0 && err_of(ret) != ENOENT) {
      return os_error(err_of(ret), "removing an outbound stamp key from sw_outbound_keys");
    }
  }
  return {};
}

Result<std::optional<sw_sip_key>> OutboundKeyTable::lookup(const IpAddress& addr) const {
  const sw_host_key key = host_key_of(addr);
  sw_sip_key value{};
  int ret = bpf_map_lookup_elem(fd_.get(), &key, &value);
  if (err_of(ret) == ENOENT) return std::optional<sw_sip_key>{};
  if (ret < 0) return os_error(err_of(ret), "looking up " + addr.to_string() + " in sw_outbound_keys");
  return std::optional<sw_sip_key>{value};
}

// ---- FlowTable ----

namespace {
std::string describe(const FlowKey& k) {
  return k.remote.to_string() + ":" + std::to_string(k.remote_port) + " -> " + k.local.to_string() +
         ":" + std::to_string(k.local_port) + " vlan " + std::to_string(k.vlan_outer) + "/" +
         std::to_string(k.vlan_inner);
}
}  // namespace

Result<void> FlowTable::insert(const FlowKey& key, FlowOrigin origin) {
  if (key.remote.family() != key.local.family()) {
    return logic_error("inserting flow " + describe(key) + ": address families differ");
  }
  const sw_flow_key raw = key.to_raw();
  sw_flow value{};
  value.created_ns = monotonic_ns();  // the clock bpf_ktime_get_ns() reads
  value.origin = static_cast<__u32>(origin);
  if (int ret = bpf_map_update_elem(fd_.get(), &raw, &value, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "inserting flow " + describe(key) + " into sw_flows");
  }
  if (hint_ != nullptr) hint_->mark(raw);  // after the insert: see flow_hint.h
  return {};
}

Result<std::optional<FlowInfo>> FlowTable::lookup(const FlowKey& key) const {
  const sw_flow_key raw = key.to_raw();
  sw_flow value{};
  int ret = bpf_map_lookup_elem(fd_.get(), &raw, &value);
  if (err_of(ret) == ENOENT) return std::optional<FlowInfo>{};
  if (ret < 0) return os_error(err_of(ret), "looking up flow " + describe(key) + " in sw_flows");
  return std::optional<FlowInfo>{FlowInfo{value.created_ns, static_cast<FlowOrigin>(value.origin)}};
}

Result<void> FlowTable::erase(const FlowKey& key) {
  const sw_flow_key raw = key.to_raw();
  if (int ret = bpf_map_delete_elem(fd_.get(), &raw); ret < 0) {
    return os_error(err_of(ret), "removing flow " + describe(key) + " from sw_flows");
  }
  return {};
}

Result<std::uint64_t> FlowTable::count() const {
  std::uint64_t n = 0;
  auto walked = for_each_chunk<sw_flow_key, sw_flow>(fd_.get(), "sw_flows",
                                                    [&](const sw_flow_key*, __u32 c) { n += c; });
  if (!walked) return walked.error();
  return n;
}

Result<void> FlowTable::walk_keys(
    const std::function<void(const sw_flow_key*, std::uint32_t)>& fn) const {
  return for_each_chunk<sw_flow_key, sw_flow>(fd_.get(), "sw_flows",
                                             [&](const sw_flow_key* k, __u32 n) { fn(k, n); });
}

Result<void> FlowTable::clear() {
  std::vector<sw_flow_key> keys;
  auto walked = for_each_chunk<sw_flow_key, sw_flow>(
      fd_.get(), "sw_flows", [&](const sw_flow_key* k, __u32 n) { keys.insert(keys.end(), k, k + n); });
  if (!walked) return walked.error();
  for (const auto& k : keys) {
    int ret = bpf_map_delete_elem(fd_.get(), &k);
    if (ret < 0 && err_of(ret) != ENOENT) return os_error(err_of(ret), "clearing sw_flows");
  }
  return {};
}

// ---- XskTable ----

Result<void> XskTable::set(std::uint32_t queue, int xsk_fd) {
  const __u32 value = static_cast<__u32>(xsk_fd);
  if (int ret = bpf_map_update_elem(fd_.get(), &queue, &value, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "binding AF_XDP socket fd " + std::to_string(xsk_fd) +
                                     " to queue " + std::to_string(queue) + " in sw_xsks",
                    err_of(ret) == E2BIG ? "queue index beyond max_queues; raise it"
                                         : "the socket must be bound to the interface first");
  }
  return {};
}

Result<void> XskTable::clear(std::uint32_t queue) {
  int ret = bpf_map_delete_elem(fd_.get(), &queue);
  if (ret < 0 && err_of(ret) != ENOENT) {
    return os_error(err_of(ret), "clearing queue " + std::to_string(queue) + " in sw_xsks");
  }
  return {};
}

// ---- StatsTable ----

std::uint64_t CounterSnapshot::total_packets() const {
  std::uint64_t n = 0;
  for (const auto& c : by_reason) n += c.packets;
  return n;
}

namespace {
#define SW_REASON_NAME(name, label, help) label,
#define SW_REASON_HELP(name, label, help) help,
constexpr std::string_view kReasonNames[] = {SW_REASON_LIST(SW_REASON_NAME)};
constexpr std::string_view kReasonHelp[] = {SW_REASON_LIST(SW_REASON_HELP)};
#undef SW_REASON_NAME
#undef SW_REASON_HELP
static_assert(std::size(kReasonNames) == SW_REASON_COUNT);
}  // namespace

std::string_view StatsTable::reason_name(sw_reason r) {
  return r < SW_REASON_COUNT ? kReasonNames[r] : std::string_view("invalid");
}

std::string_view StatsTable::reason_help(sw_reason r) {
  return r < SW_REASON_COUNT ? kReasonHelp[r] : std::string_view("invalid");
}

// sw_cpu_stats is a multiple of 8 bytes, so the kernel's per-CPU stride equals its size.
static_assert(sizeof(sw_cpu_stats) % 8 == 0);

Result<std::vector<sw_cpu_stats>> StatsTable::read_all() const {
  std::vector<sw_cpu_stats> per_cpu(cpus_);
  const __u32 key = 0;
  if (int ret = bpf_map_lookup_elem(fd_.get(), &key, per_cpu.data()); ret < 0) {
    return os_error(err_of(ret), "reading per-CPU counters from sw_stats");
  }
  return per_cpu;
}

Result<CounterSnapshot> StatsTable::read() const {
  auto all = read_all();
  if (!all) return all.error();
  CounterSnapshot snap;
  for (const auto& cpu : *all) {
    for (std::size_t r = 0; r < SW_REASON_COUNT; ++r) {
      snap.by_reason[r].packets += cpu.counters[r].packets;
      snap.by_reason[r].bytes += cpu.counters[r].bytes;
      snap.would[r] += cpu.would[r];
    }
  }
  return snap;
}

Result<std::vector<sw_decision>> StatsTable::last_decisions() const {
  auto all = read_all();
  if (!all) return all.error();
  std::vector<sw_decision> out;
  out.reserve(all->size());
  for (const auto& cpu : *all) out.push_back(cpu.last);
  return out;
}

Result<void> StatsTable::reset() {
  std::vector<sw_cpu_stats> zero(cpus_);
  std::memset(zero.data(), 0, zero.size() * sizeof(sw_cpu_stats));
  const __u32 key = 0;
  if (int ret = bpf_map_update_elem(fd_.get(), &key, zero.data(), BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "resetting sw_stats");
  }
  return {};
}

// ---- SettingsTable ----

sw_settings SettingsTable::to_raw(const Settings& s, unsigned possible_cpus) {
  sw_settings raw{};
  std::memcpy(raw.fw_mac, s.firewall_mac.data(), s.firewall_mac.size());
  raw.flags = SW_SETTINGS_VALID | (s.xdp_cookies ? SW_SETTINGS_XDP_COOKIES : 0);
  raw.flow_label_seed = s.flow_label_seed;

  constexpr std::uint64_t kNsPerSec = 1'000'000'000ull;
  const std::uint64_t cpus = std::max(1u, possible_cpus);
  auto per_cpu = [&](std::uint64_t total) { return std::max<std::uint64_t>(1, (total + cpus - 1) / cpus); };
  // cost 0 = unlimited
  auto bucket = [&](std::uint64_t pps, std::uint64_t burst_pkts, __u64& cost, __u64& burst_ns) {
    if (pps == 0) return;
    const std::uint64_t rate = per_cpu(pps);
    const std::uint64_t burst = std::min<std::uint64_t>(per_cpu(burst_pkts ? burst_pkts : pps), kNsPerSec);
    cost = std::max<std::uint64_t>(1, kNsPerSec / rate);
    burst_ns = cost * burst;  // <= 1e9 * 1e9: no overflow
  };
  bucket(s.synack_rate_pps, s.synack_burst, raw.synack_cost_ns, raw.synack_burst_ns);
  bucket(s.cookie_synack_rate_pps, s.cookie_synack_burst, raw.cookie_synack_cost_ns,
         raw.cookie_synack_burst_ns);
  return raw;
}

Result<void> SettingsTable::write(const Settings& settings) {
  const sw_settings raw = to_raw(settings, cpus_);
  const __u32 key = 0;
  if (int ret = bpf_map_update_elem(fd_.get(), &key, &raw, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "writing settings to sw_settings");
  }
  return {};
}

Result<sw_settings> SettingsTable::read_raw() const {
  sw_settings raw{};
  const __u32 key = 0;
  if (int ret = bpf_map_lookup_elem(fd_.get(), &key, &raw); ret < 0) {
    return os_error(err_of(ret), "reading sw_settings");
  }
  return raw;
}

}  // namespace synwarden::dataplane
