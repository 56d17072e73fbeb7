#include "attach_ladder.h"

#include <linux/if_link.h>

#include <cstring>
#include <stdexcept>

#include "log.h"

namespace synwarden::daemon {

const char* xsk_rung_name(XskRung rung) noexcept {
  switch (rung) {
    case XskRung::kZeroCopy: return "zero-copy";
    case XskRung::kDriverCopy: return "driver copy";
    case XskRung::kGeneric: return "generic (XDP_SKB) copy";
  }
  return "?";
}

namespace {

using dataplane::AttachMode;

AttachMode attach_program(dataplane::XdpFastpath& fp, const NetInterface& nic, XskMode mode,
                          bool detach_on_destroy) {
  dataplane::AttachOptions options;
  options.detach_on_destroy = detach_on_destroy;
  options.mode = mode == XskMode::kAuto      ? AttachMode::native_or_generic
                 : mode == XskMode::kGeneric ? AttachMode::generic
                                             : AttachMode::native;
  auto got = fp.attach(nic.ifindex, options);
  if (!got.ok()) {
    throw std::runtime_error("attaching the XDP program to " + nic.name + " (" +
                             xsk_mode_name(mode) + "): " + got.error().message);
  }
  AttachMode result = *got;
  if (mode == XskMode::kGeneric && result != AttachMode::generic) {
    // attach() replaced an earlier run's program in the mode that one ran in; an explicit
    // "generic" asks for skb mode, so detach and attach again (a brief forwarding gap).
    log_warning("an earlier synwarden program on " + nic.name +
                " runs in driver mode; re-attaching in generic mode as xsk_mode asks");
    if (auto r = fp.detach(); !r.ok()) {
      throw std::runtime_error("detaching the XDP program from " + nic.name + ": " +
                               r.error().message);
    }
    got = fp.attach(nic.ifindex, options);
    if (!got.ok()) {
      throw std::runtime_error("attaching the XDP program to " + nic.name +
                               " in generic mode: " + got.error().message);
    }
    result = *got;
  }
  log_info("XDP program attached to " + nic.name + " in " +
           (result == AttachMode::generic ? "generic (skb)" : "native (driver)") + " mode");
  return result;
}

std::string describe(const XskPort::Error& e) {
  return e.what + ": " + std::strerror(e.err);
}

}  // namespace

std::vector<BoundQueue> attach_and_bind(dataplane::XdpFastpath& fastpath, const NetInterface& nic,
                                        const std::vector<uint32_t>& queues, XskMode mode,
                                        const XskGeometry& geometry, bool detach_on_destroy) {
  const AttachMode program = attach_program(fastpath, nic, mode, detach_on_destroy);
  const bool native = program != AttachMode::generic;
  const uint32_t xdp_flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  const size_t bytes = size_t{geometry.frame_count} * geometry.frame_size;

  std::vector<BoundQueue> bound;
  for (const uint32_t queue : queues) {
    BoundQueue b;
    b.queue = queue;
    b.area = std::make_unique<UmemArea>(bytes);
    std::string refused;
    XskPort::Error error;
    // Copy mode does not depend on the driver, so the generic rung is reached when the driver
    // refuses native XDP (attach above), not by a failed copy bind.
    if (native && (mode == XskMode::kAuto || mode == XskMode::kZeroCopy)) {
      b.port = XskPort::open(nic.name, queue, *b.area, geometry, XskBind::kZeroCopy, xdp_flags,
                             error);
      b.rung = XskRung::kZeroCopy;
      if (!b.port) refused += "zero-copy refused (" + describe(error) + ")";
    }
    if (!b.port && mode != XskMode::kZeroCopy) {
      b.port = XskPort::open(nic.name, queue, *b.area, geometry, XskBind::kCopy, xdp_flags, error);
      b.rung = native ? XskRung::kDriverCopy : XskRung::kGeneric;
      if (!b.port) {
        refused += std::string(refused.empty() ? "" : "; ") + xsk_rung_name(b.rung) +
                   " refused (" + describe(error) + ")";
      }
    }
    if (!b.port) {
      throw std::runtime_error("no AF_XDP mode works on " + nic.name + " queue " +
                               std::to_string(queue) + ": " + refused +
                               (mode == XskMode::kZeroCopy ? "; set \"xsk_mode\" to \"auto\" to "
                                                             "allow copy mode"
                                                           : ""));
    }
    log_info("queue " + std::to_string(queue) + ": AF_XDP socket in " + xsk_rung_name(b.rung) +
             " mode" + (refused.empty() ? "" : " (" + refused + ")") +
             (b.area->huge_pages() ? ", UMEM on huge pages" : ""));
    bound.push_back(std::move(b));
  }
  return bound;
}

}  // namespace synwarden::daemon
