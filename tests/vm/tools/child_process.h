// A program started by a guest test tool (here: the real synwarden-agent), with its stdout and
// stderr in a log file the tool can watch. Test code only: it throws on any failure. The
// destructor kills a child that is still running, so no process outlives the tool.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace synwarden::vmtest {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`, stdout and stderr appended to `log_path` (created 0600).
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // The log so far.
  std::string log() const;
  // Waits until the log contains `needle`; false on timeout or when the child exited first.
  bool wait_for_log(const std::string& needle, int timeout_ms);
  // Waits for the child to exit; its wait(2) status, nullopt on timeout.
  std::optional<int> wait_exit(int timeout_ms);
  // Sends `signal` and waits for the exit; its wait(2) status, nullopt on timeout.
  std::optional<int> stop(int signal, int timeout_ms);

 private:
  bool reap(int* status);   // non-blocking; true once the child has been reaped

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string log_path_;
};

// "exit 0", "exit 1", "killed by signal 9": a wait(2) status in words.
std::string describe_wait_status(int status);

}  // namespace synwarden::vmtest
