// The mailbox through which other threads (the HTTP API's) get work done on the control thread,
// which owns all mutable daemon state (config, secrets, snapshots, maps): the gatekeeper model of
// functional blocks that talk only through mailboxes, so no daemon state needs a lock.
//
// call() enqueues a task, wakes the control thread through an eventfd and waits for it. A task
// runs at most once and call() returns only when it can no longer run: on timeout a task that
// has not started is cancelled (the caller reports 503, nothing changed); one that has started
// is waited for. close() (shutdown) cancels everything queued and refuses new tasks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace synwarden::daemon {

class ControlQueue {
 public:
  ControlQueue();  // throws std::system_error if the eventfd cannot be created
  ~ControlQueue();
  ControlQueue(const ControlQueue&) = delete;
  ControlQueue& operator=(const ControlQueue&) = delete;

  // Readable when tasks are waiting: poll it in the control loop.
  int fd() const noexcept { return event_fd_; }

  // Any thread but the control thread. True if `task` ran (it may have thrown: the exception
  // is logged and swallowed, so tasks report their own errors); false if it was cancelled.
  bool call(std::function<void()> task, std::chrono::milliseconds timeout);

  // Control thread: runs every task queued so far. Returns how many ran.
  size_t run_pending();

  // Control thread, at shutdown: cancels queued tasks and refuses new ones.
  void close();

 private:
  struct Job;
  std::mutex mutex_;
  std::deque<std::shared_ptr<Job>> jobs_;
  bool closed_ = false;
  int event_fd_ = -1;
};

}  // namespace synwarden::daemon
