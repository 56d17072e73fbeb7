// Measures what the one per-packet syscall of the design costs: a worker inserting the flow of a
// valid cookie ACK into the XDP program's established map (EstablishedMap -> bpf() map update
// on an LRU hash). Loads the fast path without pinning or attaching it, inserts --count distinct
// flows, then re-inserts them (refresh of existing keys), then times the bare bpf_map_update_elem() on
// --count more keys, and prints one JSON line.
// Needs root (BPF). Used by test_lifecycle.py, which checks that every insert landed.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <bpf/bpf.h>

#include "established_map.h"
#include "synwarden/clock_now.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace {

using synwarden::monotonic_ns;

sw_flow_key key_for(uint32_t i) {
  sw_flow_key key;
  std::memset(&key, 0, sizeof key);
  key.family = SW_FAMILY_IPV4;
  key.saddr[0] = 0x000064c6u | ((i & 0xFFFF) << 16);  // 198.51.x.y, network order
  key.daddr[0] = 0x0a0200c0u;                          // 192.0.2.10
  key.sport = static_cast<__be16>(((i >> 16) + 1024) << 8);
  key.dport = static_cast<__be16>(0x901f);             // 8080
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  const uint32_t count = argc > 1 ? static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 20000;
  synwarden::dataplane::LoadOptions options;
  options.flow_table_size = count * 4;
  auto fp = synwarden::dataplane::XdpFastpath::load(options);
  if (!fp.ok()) {
    std::fprintf(stderr, "flow_insert_cost: %s\n", fp.error().message.c_str());
    return 1;
  }
  synwarden::daemon::EstablishedMap map(fp->flows());
  uint32_t failed = 0;
  const uint64_t t0 = monotonic_ns();
  for (uint32_t i = 0; i < count; ++i) failed += map.insert(key_for(i)) ? 0 : 1;
  const uint64_t t1 = monotonic_ns();
  for (uint32_t i = 0; i < count; ++i) failed += map.insert(key_for(i)) ? 0 : 1;
  const uint64_t t2 = monotonic_ns();
  // The bare syscall on the same map, to separate the kernel's cost from the wrapper's.
  const sw_flow value{};
  for (uint32_t i = 0; i < count; ++i) {
    const sw_flow_key key = key_for(i + count);
    failed += bpf_map_update_elem(fp->flows().fd(), &key, &value, BPF_ANY) == 0 ? 0 : 1;
  }
  const uint64_t t3 = monotonic_ns();
  auto entries = fp->flows().count();
  std::printf("{\"inserts\":%u,\"failed\":%u,\"entries\":%llu,\"new_key_ns\":%.0f,"
              "\"existing_key_ns\":%.0f,\"bare_syscall_new_key_ns\":%.0f}\n",
              count, failed, entries.ok() ? static_cast<unsigned long long>(*entries) : 0ull,
              static_cast<double>(t1 - t0) / count, static_cast<double>(t2 - t1) / count,
              static_cast<double>(t3 - t2) / count);
  return failed == 0 ? 0 : 1;
}
