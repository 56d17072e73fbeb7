#include "agent_test_net.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace synwarden::test {

int shell(const std::string& command, std::string* output) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string shell_ok(const std::string& command) {
  std::string out;
  const int rc = shell(command, &out);
  if (rc != 0) ADD_FAILURE() << "command failed (" << rc << "): " << command << "\n" << out;
  return out;
}

Netns::Netns(std::string name) : name_(std::move(name)) {
  shell("ip netns del " + name_);   // a leftover of a crashed run
  shell_ok("ip netns add " + name_);
  shell_ok(exec() + "ip link set lo up");
}

Netns::~Netns() { shell("ip netns del " + name_); }

InNetns::InNetns(const Netns& ns) {
  original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(ns.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    ADD_FAILURE() << "cannot enter network namespace " << ns.name() << ": " << std::strerror(errno);
  }
  if (target >= 0) ::close(target);
}

InNetns::~InNetns() {
  if (original_ >= 0) {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
  }
}

ChildProcess::ChildProcess(const Netns& ns, const std::vector<std::string>& argv,
                           std::string log_path)
    : log_path_(std::move(log_path)) {
  const int ns_fd = ::open(ns.path().c_str(), O_RDONLY | O_CLOEXEC);
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (ns_fd < 0 || log_fd < 0) {
    ADD_FAILURE() << "cannot prepare child process: " << std::strerror(errno);
    return;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(ns_fd);
  ::close(log_fd);
  if (pid_ < 0) ADD_FAILURE() << "fork failed: " << std::strerror(errno);
}

ChildProcess::~ChildProcess() { stop(); }

int ChildProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool ChildProcess::wait_for_log(const std::string& text, int timeout_ms) const {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    if (log().find(text) != std::string::npos) return true;
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      const_cast<ChildProcess*>(this)->pid_ = -1;
      return log().find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::array<uint8_t, 6> interface_mac(const std::string& ifname) {
  std::array<uint8_t, 6> mac{};
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (fd < 0 || ::ioctl(fd, SIOCGIFHWADDR, &req) != 0) {
    ADD_FAILURE() << "cannot read the MAC of " << ifname << ": " << std::strerror(errno);
  } else {
    std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, mac.size());
  }
  if (fd >= 0) ::close(fd);
  return mac;
}

}  // namespace synwarden::test
