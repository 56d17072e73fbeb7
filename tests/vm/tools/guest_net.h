// Guest-side network plumbing for the VM tier's static test tools: TAP devices (the tools play
// the wire: they write the frames the host kernel receives and read the frames it sends) and
// configuration through the guest's busybox `ip`. Test code only: it throws on any failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "synwarden/packet_headers.h"
#include "synwarden/unique_fd.h"

namespace synwarden::vmtest {

// A TAP interface (IFF_TAP | IFF_NO_PI) owned by this process: it disappears with the fd.
// Created with ARP/ND off (IFF_NOARP), so the kernel sends to any on-link address without
// resolving it and addresses need no DAD: the tools answer nothing but TCP.
class TapDevice {
 public:
  // Creates `name` in the calling process's network namespace, sets `mtu`, brings it up.
  TapDevice(const std::string& name, unsigned mtu);
  // Takes over a TAP fd created elsewhere (e.g. in another network namespace).
  TapDevice(std::string name, UniqueFd fd, const MacAddress& mac)
      : name_(std::move(name)), fd_(std::move(fd)), mac_(mac) {}
  const std::string& name() const noexcept { return name_; }
  int fd() const noexcept { return fd_.get(); }
  const MacAddress& mac() const noexcept { return mac_; }

  // Writes one frame. Throws on error.
  void send(const uint8_t* frame, size_t len) const;
  // Reads one frame, waiting at most `timeout_ms`. Returns 0 on timeout.
  size_t receive(uint8_t* buf, size_t cap, int timeout_ms) const;

 private:
  std::string name_;
  UniqueFd fd_;
  MacAddress mac_{};
};

// Runs the guest's `ip` with `args` (no shell) and throws with its exit status on failure.
void run_ip(const std::vector<std::string>& args);

// Writes `value` and a newline into `path` (procfs, sysfs). Throws.
void write_file(const std::string& path, const std::string& value);
// Writes `value` into /proc/sys/<name> (e.g. "net/ipv4/tcp_syncookies"). Throws.
void write_sysctl(const std::string& name, const std::string& value);

std::string to_hex(const uint8_t* data, size_t len);
std::vector<uint8_t> from_hex(const std::string& hex);  // throws std::invalid_argument

}  // namespace synwarden::vmtest
