// Scaffolding for the agent's end-to-end test: network namespaces joined by a veth pair, a
// scope that moves the calling thread into a namespace (sockets keep the namespace they were
// created in), a child process started inside a namespace, and small command helpers. Every
// object removes what it created, also when a test fails half-way.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace synwarden::test {

// Runs a shell command; returns its exit status and (optionally) its stdout.
int shell(const std::string& command, std::string* output = nullptr);
// Same, but fails the current gtest (ADD_FAILURE) with the command and output when it fails.
std::string shell_ok(const std::string& command);

// A named network namespace (`ip netns add`), deleted on destruction.
class Netns {
 public:
  explicit Netns(std::string name);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // "ip netns exec <name> " prefix for shell().
  std::string exec() const { return "ip netns exec " + name_ + " "; }

 private:
  std::string name_;
};

// Moves the calling thread into `ns` for the scope's lifetime.
class InNetns {
 public:
  explicit InNetns(const Netns& ns);
  ~InNetns();
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  int original_ = -1;
};

// A child process whose network namespace is `ns` (its mount namespace stays the caller's, so it
// sees the same /sys/fs/bpf). stdout+stderr go to `log_path`. SIGTERM + wait on destruction.
class ChildProcess {
 public:
  ChildProcess(const Netns& ns, const std::vector<std::string>& argv, std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Sends SIGTERM and waits; returns the exit status (or -1).
  int stop();
  bool running() const { return pid_ > 0; }
  // Waits until the log contains `text` or the process exits or `timeout_ms` passes.
  bool wait_for_log(const std::string& text, int timeout_ms) const;
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// MAC address of `ifname` in the calling thread's namespace.
std::array<uint8_t, 6> interface_mac(const std::string& ifname);

}  // namespace synwarden::test
