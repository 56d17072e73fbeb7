#include "synwarden/dataplane/mode_tables.h"

#include "map_util.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <string>
#include <vector>

namespace synwarden::dataplane {

using detail::err_of;
using detail::host_key_of;

Result<void> HostSynTable::track(const IpAddress& addr) {
  const sw_host_key key = host_key_of(addr);
  std::vector<std::uint64_t> zero(cpus_, 0);
  // BPF_NOEXIST keeps a running count when the host is already tracked (a reload).
  if (int ret = bpf_map_update_elem(fd_.get(), &key, zero.data(), BPF_NOEXIST);
      ret < 0 && err_of(ret) != EEXIST) {
    return os_error(err_of(ret), "starting the SYN count of " + addr.to_string() +
                                     " in sw_host_syns",
                    err_of(ret) == E2BIG ? "more auto hosts than limits.host_table_size"
                                         : std::string{});
  }
  return {};
}

Result<void> HostSynTable::untrack(const IpAddress& addr) {
  const sw_host_key key = host_key_of(addr);
  if (int ret = bpf_map_delete_elem(fd_.get(), &key); ret < 0 && err_of(ret) != ENOENT) {
    return os_error(err_of(ret), "removing the SYN count of " + addr.to_string() +
                                     " from sw_host_syns");
  }
  return {};
}

Result<std::uint64_t> HostSynTable::read(const IpAddress& addr) const {
  const sw_host_key key = host_key_of(addr);
  std::vector<std::uint64_t> per_cpu(cpus_, 0);
  if (int ret = bpf_map_lookup_elem(fd_.get(), &key, per_cpu.data()); ret < 0) {
    return os_error(err_of(ret), "reading the SYN count of " + addr.to_string() +
                                     " from sw_host_syns");
  }
  std::uint64_t sum = 0;
  for (auto n : per_cpu) sum += n;
  return sum;
}

}  // namespace synwarden::dataplane
