#include "xsk_port.h"

#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace synwarden::daemon {

namespace {
// XDP_MAX_TX_SKB_BUDGET of include/uapi/linux/if_xdp.h (Linux 6.17); Debian 12's headers predate
// it.
constexpr int kXdpMaxTxSkbBudget = 9;
}  // namespace

const char* xsk_bind_name(XskBind bind) noexcept {
  return bind == XskBind::kZeroCopy ? "zero-copy" : "copy";
}

UmemArea::UmemArea(size_t bytes) : size_(bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_HUGETLB, -1, 0);
  huge_pages_ = p != MAP_FAILED;
  if (p == MAP_FAILED) {
    // No huge pages reserved (vm.nr_hugepages = 0 is the default): ordinary pages work too.
    p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
               -1, 0);
  }
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(),
                            "mmap of " + std::to_string(bytes) + " bytes of UMEM");
  }
  data_ = static_cast<uint8_t*>(p);
}

UmemArea::~UmemArea() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

std::unique_ptr<XskPort> XskPort::open(const std::string& ifname, uint32_t queue,
                                       UmemArea& area, const XskGeometry& geometry,
                                       XskBind bind, uint32_t xdp_flags, Error& error) {
  std::unique_ptr<XskPort> port(new XskPort(area, queue, geometry, bind));
  const size_t bytes = size_t{geometry.frame_count} * geometry.frame_size;
  if (bytes > area.size()) {
    error = {EINVAL, "UMEM geometry larger than its memory area"};
    return nullptr;
  }
  xsk_umem_config umem_config{};
  umem_config.fill_size = geometry.ring_size;
  umem_config.comp_size = geometry.ring_size;
  umem_config.frame_size = geometry.frame_size;
  umem_config.frame_headroom = 0;
  umem_config.flags = 0;
  int rc = xsk_umem__create(&port->umem_, area.data(), bytes, &port->fill_, &port->comp_,
                            &umem_config);
  if (rc != 0) {
    error = {-rc, "registering the UMEM (XDP_UMEM_REG)"};
    port->umem_ = nullptr;
    return nullptr;
  }
  xsk_socket_config socket_config{};
  socket_config.rx_size = geometry.ring_size;
  socket_config.tx_size = geometry.ring_size;
  socket_config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  socket_config.xdp_flags = xdp_flags;  // recorded only: the dataplane owns the attachment
  socket_config.bind_flags = static_cast<uint16_t>(
      XDP_USE_NEED_WAKEUP | (bind == XskBind::kZeroCopy ? XDP_ZEROCOPY : XDP_COPY));
  rc = xsk_socket__create(&port->socket_, ifname.c_str(), queue, port->umem_, &port->rx_,
                          &port->tx_, &socket_config);
  if (rc != 0) {
    error = {-rc, std::string("binding an AF_XDP socket in ") + xsk_bind_name(bind) +
                      " mode to " + ifname + " queue " + std::to_string(queue)};
    port->socket_ = nullptr;
    return nullptr;  // the destructor deletes the UMEM so the next rung starts clean
  }
  if (bind == XskBind::kCopy) port->raise_tx_budget();
  return port;
}

XskPort::~XskPort() {
  // Socket first: the UMEM refuses deletion (-EBUSY) while a socket still uses it.
  if (socket_ != nullptr) xsk_socket__delete(socket_);
  if (umem_ != nullptr) xsk_umem__delete(umem_);
}

void XskPort::raise_tx_budget() noexcept {
  // Copy mode transmits inside sendmsg(), at most max_tx_budget descriptors per call (32 by
  // default), answering EAGAIN while more are queued: a 64-frame batch then costs two or three
  // syscalls. Linux >= 6.17 lets a socket raise the budget up to its TX ring size
  // (XDP_MAX_TX_SKB_BUDGET, xsk_setsockopt()); older kernels answer ENOPROTOOPT and keep 32.
  unsigned int budget = geometry_.ring_size;
  if (::setsockopt(fd(), SOL_XDP, kXdpMaxTxSkbBudget, &budget, sizeof budget) == 0) {
    tx_budget_ = budget;
  }
}

bool XskPort::statistics(xdp_statistics& out) const noexcept {
  socklen_t len = sizeof out;
  std::memset(&out, 0, sizeof out);
  return ::getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &out, &len) == 0;
}

}  // namespace synwarden::daemon
