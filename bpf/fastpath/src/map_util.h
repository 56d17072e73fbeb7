// Small helpers shared by the dataplane's map wrappers (private to bpf/fastpath/src).
#pragma once

#include "synwarden/dataplane/types.h"
#include "synwarden_shared.h"

namespace synwarden::dataplane::detail {

// libbpf's negative-errno returns as a positive errno (0 on success).
inline int err_of(int ret) { return ret < 0 ? -ret : 0; }

// The key of a protected address in the host-keyed maps (sw_hosts, sw_host_cookies, ...).
inline sw_host_key host_key_of(const IpAddress& addr) {
  sw_host_key key{};
  key.family = sw_family_of(addr);
  copy_words(addr, key.addr);
  return key;
}

}  // namespace synwarden::dataplane::detail
