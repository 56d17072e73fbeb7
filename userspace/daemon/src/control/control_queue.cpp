#include "control_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <exception>
#include <system_error>

#include "log.h"

namespace synwarden::daemon {

struct ControlQueue::Job {
  enum State : int { kQueued, kRunning, kCancelled };
  std::function<void()> task;
  std::atomic<int> state{kQueued};
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool ran = false;

  void finish(bool did_run) {
    std::lock_guard lock(mutex);
    done = true;
    ran = did_run;
    done_cv.notify_all();
  }
};

ControlQueue::ControlQueue() {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd for the control queue");
  }
}

ControlQueue::~ControlQueue() {
  close();
  if (event_fd_ >= 0) ::close(event_fd_);
}

bool ControlQueue::call(std::function<void()> task, std::chrono::milliseconds timeout) {
  auto job = std::make_shared<Job>();
  job->task = std::move(task);
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    jobs_.push_back(job);
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);

  std::unique_lock lock(job->mutex);
  if (job->done_cv.wait_for(lock, timeout, [&] { return job->done; })) return job->ran;
  int expected = Job::kQueued;
  if (job->state.compare_exchange_strong(expected, Job::kCancelled)) return false;
  // Already running: its effects are happening, so wait for them rather than report a failure
  // for a change that then takes place anyway.
  job->done_cv.wait(lock, [&] { return job->done; });
  return job->ran;
}

size_t ControlQueue::run_pending() {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(event_fd_, &count, sizeof count);
  std::deque<std::shared_ptr<Job>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(jobs_);
  }
  size_t ran = 0;
  for (const auto& job : batch) {
    int expected = Job::kQueued;
    if (!job->state.compare_exchange_strong(expected, Job::kRunning)) {
      job->finish(false);
      continue;
    }
    try {
      job->task();
    } catch (const std::exception& e) {
      log_error(std::string("control task failed: ") + e.what());
    } catch (...) {
      log_error("control task failed with a non-standard exception");
    }
    ++ran;
    job->finish(true);
  }
  return ran;
}

void ControlQueue::close() {
  std::deque<std::shared_ptr<Job>> cancelled;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cancelled.swap(jobs_);
  }
  for (const auto& job : cancelled) {
    int expected = Job::kQueued;
    job->state.compare_exchange_strong(expected, Job::kCancelled);
    job->finish(false);
  }
}

}  // namespace synwarden::daemon
