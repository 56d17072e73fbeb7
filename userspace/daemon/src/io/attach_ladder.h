// The AF_XDP attach ladder: zero-copy -> driver copy -> generic (XDP_SKB), as OVS's
// netdev-afxdp walks it ("best-effort" mode) and the AF_XDP examples document:
//   zero-copy     program in driver mode, socket bound with XDP_ZEROCOPY (needs driver support)
//   driver copy   program in driver mode, socket bound with XDP_COPY (the kernel copies frames)
//   generic       program in skb mode, socket bound with XDP_COPY (works on any device, slowest)
// Each queue logs the rung it got and why the higher rungs were refused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "net_interface.h"
#include "synwarden/dataplane/xdp_fastpath.h"
#include "xsk_port.h"

namespace synwarden::daemon {

enum class XskRung : uint8_t { kZeroCopy, kDriverCopy, kGeneric };
const char* xsk_rung_name(XskRung rung) noexcept;

struct BoundQueue {
  uint32_t queue = 0;
  XskRung rung = XskRung::kDriverCopy;
  std::unique_ptr<UmemArea> area;
  std::unique_ptr<XskPort> port;
};

// Attaches `fastpath` to the interface and binds one socket per queue, walking the ladder from
// the rung `mode` allows. Throws std::runtime_error naming the queue, the rungs tried and their
// errors when no rung works.
std::vector<BoundQueue> attach_and_bind(dataplane::XdpFastpath& fastpath, const NetInterface& nic,
                                        const std::vector<uint32_t>& queues, XskMode mode,
                                        const XskGeometry& geometry, bool detach_on_destroy);

}  // namespace synwarden::daemon
