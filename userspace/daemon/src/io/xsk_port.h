// One AF_XDP endpoint of one RX queue: its UMEM (frame memory + fill/completion rings) and its
// socket (RX/TX rings), created through libxdp's xsk API with INHIBIT_PROG_LOAD because the
// firewall's own XDP program owns the XSKMAP (libxdp must not load its default program).
// Non-movable: libxdp keeps pointers to the ring structs held here.
#pragma once

#include <linux/if_xdp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <xdp/xsk.h>

namespace synwarden::daemon {

// How the socket binds. Zero-copy needs driver support (ndo_xsk_wakeup / XDP_SETUP_XSK_POOL);
// copy mode works on any device the XDP program is attached to, native or generic.
enum class XskBind : uint8_t { kZeroCopy, kCopy };
const char* xsk_bind_name(XskBind bind) noexcept;

struct XskGeometry {
  uint32_t frame_count = 4096;
  uint32_t frame_size = 4096;
  uint32_t ring_size = 2048;  // fill, completion, RX and TX rings alike
};

// The UMEM's memory: anonymous, page-aligned, populated up front so the first packets do not
// take page faults. Huge pages are tried first (fewer TLB misses across 16 MiB per queue).
class UmemArea {
 public:
  explicit UmemArea(size_t bytes);  // throws std::system_error
  ~UmemArea();
  UmemArea(const UmemArea&) = delete;
  UmemArea& operator=(const UmemArea&) = delete;

  uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool huge_pages() const noexcept { return huge_pages_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool huge_pages_ = false;
};

class XskPort {
 public:
  static constexpr uint32_t kDefaultTxBudget = 32;  // TX_BATCH_SIZE in net/xdp/xsk.c

  // What went wrong when a bind attempt failed: errno and the step, for the attach ladder's log.
  struct Error {
    int err = 0;
    std::string what;
  };

  // Registers `area` as a UMEM and binds a socket to (ifname, queue) in `bind` mode with
  // need-wakeup. `xdp_flags` (XDP_FLAGS_DRV_MODE/SKB_MODE) names the mode the firewall's
  // program runs in; libxdp records it but loads nothing (INHIBIT_PROG_LOAD). On failure
  // returns nullptr and fills `error`; the area can be reused for the next attempt.
  static std::unique_ptr<XskPort> open(const std::string& ifname, uint32_t queue,
                                       UmemArea& area, const XskGeometry& geometry,
                                       XskBind bind, uint32_t xdp_flags, Error& error);
  ~XskPort();
  XskPort(const XskPort&) = delete;
  XskPort& operator=(const XskPort&) = delete;

  int fd() const noexcept { return xsk_socket__fd(socket_); }
  uint32_t queue() const noexcept { return queue_; }
  XskBind bind_mode() const noexcept { return bind_; }
  const XskGeometry& geometry() const noexcept { return geometry_; }
  uint8_t* frame(uint64_t addr) const noexcept { return area_.data() + addr; }

  xsk_ring_prod& fill() noexcept { return fill_; }
  xsk_ring_cons& completion() noexcept { return comp_; }
  xsk_ring_cons& rx() noexcept { return rx_; }
  xsk_ring_prod& tx() noexcept { return tx_; }

  // Descriptors one sendmsg() hands to the device in copy mode: TX_BATCH_SIZE (32) in
  // net/xdp/xsk.c unless XDP_MAX_TX_SKB_BUDGET (Linux >= 6.17) raised it at open().
  uint32_t tx_budget() const noexcept { return tx_budget_; }

  // XDP_STATISTICS of the socket (drops the kernel saw before our rings). Syscall: control
  // thread or per report, never per packet. Returns false with errno on failure.
  bool statistics(xdp_statistics& out) const noexcept;

 private:
  XskPort(UmemArea& area, uint32_t queue, const XskGeometry& geometry, XskBind bind)
      : area_(area), queue_(queue), geometry_(geometry), bind_(bind) {}
  void raise_tx_budget() noexcept;

  UmemArea& area_;
  uint32_t queue_;
  XskGeometry geometry_;
  XskBind bind_;
  uint32_t tx_budget_ = kDefaultTxBudget;
  xsk_umem* umem_ = nullptr;
  xsk_socket* socket_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
};

}  // namespace synwarden::daemon
