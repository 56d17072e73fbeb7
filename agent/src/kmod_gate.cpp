#include "kmod_gate.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "host_facts.h"

namespace synwarden::agent {
namespace {

std::string hint(int err) {
  if (err == ENOENT) {
    return " (is the synwarden_secrets module loaded? `modprobe synwarden_secrets`)";
  }
  if (err == EACCES || err == EPERM) return " (the gate is root-only: run the agent as root)";
  return "";
}

}  // namespace

bool read_gate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw FactsError("cannot open the acceptance gate " + path + ": " + std::strerror(err) +
                     hint(err));
  }
  char buf[8] = {};
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    throw FactsError("cannot read the acceptance gate " + path + ": " + std::strerror(err));
  }
  // A bool module parameter reads as Y or N (param_get_bool()).
  const std::string text(buf, static_cast<size_t>(n));
  if (text == "Y\n" || text == "1\n" || text == "Y" || text == "1") return true;
  if (text == "N\n" || text == "0\n" || text == "N" || text == "0") return false;
  throw FactsError(path + ": expected Y or N, the value of a bool module parameter");
}

void write_gate(const std::string& path, bool on) {
  // O_TRUNC: a no-op on sysfs, and keeps a stand-in regular file (tests) to the one value.
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw FactsError("cannot open the acceptance gate " + path + " for writing: " +
                     std::strerror(err) + hint(err));
  }
  const char value = on ? '1' : '0';
  ssize_t n;
  do {
    n = ::write(fd, &value, 1);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n != 1) {
    throw FactsError("cannot write " + std::string(1, value) + " to the acceptance gate " + path +
                     ": " + (n < 0 ? std::strerror(err) : "short write"));
  }
}

KmodGate::KmodGate(std::string path, LogFn log) : path_(std::move(path)), log_(std::move(log)) {
  was_on_ = read_gate(path_);
  if (!was_on_) write_gate(path_, true);
  log_("kmod gate " + path_ + ": on" +
       (was_on_ ? " already; it stays on when the agent stops"
                : " (was off; turned off again when the agent stops)") +
       ": the kernel accepts cookie ACKs for the firewall's SYN-ACKs");
}

KmodGate::~KmodGate() {
  if (was_on_) return;
  try {
    write_gate(path_, false);
    log_("kmod gate " + path_ + ": off again (as found at start): the kernel refuses cookie "
         "ACKs for SYN-ACKs it did not send");
  } catch (const std::exception& e) {
    log_(std::string("warning: could not turn the kmod gate off on exit: ") + e.what());
  }
}

void KmodGate::keep_open() noexcept {
  try {
    const bool on = read_gate(path_);
    if (!on) write_gate(path_, true);
    if (failing_ || !on) {
      log_("kmod gate " + path_ + ": " +
           (on ? std::string("readable again and on")
               : std::string("was turned off (by hand, or the module was reloaded); turned it "
                             "back on")));
    }
    failing_ = false;
  } catch (const std::exception& e) {
    if (!failing_) {
      log_(std::string("warning: the kmod gate cannot be kept on, so the host refuses the "
                       "firewall's cookie ACKs: ") + e.what());
    }
    failing_ = true;
  }
}

}  // namespace synwarden::agent
