#include "guest_net.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace synwarden::vmtest {
namespace {

[[noreturn]] void fail_errno(const std::string& what) {
  const int err = errno;
  throw std::runtime_error(what + ": " + std::strerror(err));
}

}  // namespace

TapDevice::TapDevice(const std::string& name, unsigned mtu) : name_(name) {
  if (name.size() >= IFNAMSIZ) throw std::invalid_argument("interface name too long: " + name);
  fd_ = UniqueFd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (fd_.get() < 0) fail_errno("open /dev/net/tun (is tun.ko loaded?)");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  if (::ioctl(fd_.get(), TUNSETIFF, &ifr) < 0) fail_errno("TUNSETIFF " + name);
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) fail_errno("socket");
  if (::ioctl(sock.get(), SIOCGIFHWADDR, &ifr) < 0) fail_errno("SIOCGIFHWADDR " + name);
  std::memcpy(mac_.data(), ifr.ifr_hwaddr.sa_data, mac_.size());
  // IPv6 DAD would hold the addresses tentative for a second; NOARP devices skip it.
  run_ip({"link", "set", "dev", name, "mtu", std::to_string(mtu), "arp", "off", "up"});
}

void TapDevice::send(const uint8_t* frame, size_t len) const {
  const ssize_t n = ::write(fd_.get(), frame, len);
  if (n < 0) fail_errno("write to " + name_);
  if (static_cast<size_t>(n) != len) throw std::runtime_error("short write to " + name_);
}

size_t TapDevice::receive(uint8_t* buf, size_t cap, int timeout_ms) const {
  pollfd p{fd_.get(), POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) fail_errno("poll " + name_);
  if (r == 0) return 0;
  const ssize_t n = ::read(fd_.get(), buf, cap);
  if (n < 0) fail_errno("read from " + name_);
  return static_cast<size_t>(n);
}

void run_ip(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string ip = "ip";
  argv.push_back(ip.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ);
  if (err != 0) throw std::runtime_error(std::string("cannot run ip: ") + std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail_errno("waitpid ip");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line = "ip";
    for (const auto& a : args) line += " " + a;
    throw std::runtime_error("'" + line + "' failed with status " + std::to_string(status));
  }
}

void write_sysctl(const std::string& name, const std::string& value) {
  write_file("/proc/sys/" + name, value);
}

void write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value << '\n';
  out.flush();
  if (!out) throw std::runtime_error("cannot write '" + value + "' to " + path);
}

std::string to_hex(const uint8_t* data, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd-length hex string");
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument(std::string("not a hex digit: ") + c);
  };
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]));
  return out;
}

}  // namespace synwarden::vmtest
