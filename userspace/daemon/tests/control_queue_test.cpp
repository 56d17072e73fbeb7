// Specification of the control thread's mailbox: tasks run on the thread that drains the queue,
// a task that timed out before it started never runs later (the API already answered 503), one
// that started is waited for, and shutdown cancels what is queued.
#include "control_queue.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace synwarden::daemon {
namespace {

using namespace std::chrono_literals;

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(ControlQueue, TasksRunOnTheDrainingThreadAndTheCallerGetsTheirResult) {
  ControlQueue queue;
  std::thread::id ran_on;
  int result = 0;
  auto caller = std::async(std::launch::async, [&] {
    return queue.call([&] { ran_on = std::this_thread::get_id(); result = 42; }, 5s);
  });
  ASSERT_TRUE(readable(queue.fd(), 5000)) << "the eventfd wakes the control loop";
  EXPECT_EQ(queue.run_pending(), 1u);
  EXPECT_TRUE(caller.get());
  EXPECT_EQ(result, 42);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_FALSE(readable(queue.fd(), 0)) << "drained";
}

TEST(ControlQueue, ATaskThatTimedOutBeforeStartingNeverRuns) {
  ControlQueue queue;
  std::atomic<bool> ran{false};
  EXPECT_FALSE(queue.call([&] { ran = true; }, 20ms)) << "nobody drained the queue in time";
  EXPECT_EQ(queue.run_pending(), 0u);
  EXPECT_FALSE(ran) << "the caller was told it failed, so it must not happen later";
}

TEST(ControlQueue, ATaskAlreadyRunningIsWaitedForPastTheTimeout) {
  ControlQueue queue;
  std::atomic<bool> started{false};
  auto caller = std::async(std::launch::async, [&] {
    return queue.call([&] {
      started = true;
      std::this_thread::sleep_for(200ms);
    }, 50ms);
  });
  ASSERT_TRUE(readable(queue.fd(), 5000));
  queue.run_pending();
  EXPECT_TRUE(started);
  EXPECT_TRUE(caller.get()) << "its effects happened: report success, not a timeout";
}

TEST(ControlQueue, CloseCancelsQueuedTasksAndRefusesNewOnes) {
  ControlQueue queue;
  std::atomic<bool> ran{false};
  auto caller = std::async(std::launch::async, [&] { return queue.call([&] { ran = true; }, 10s); });
  ASSERT_TRUE(readable(queue.fd(), 5000));
  const auto t0 = std::chrono::steady_clock::now();
  queue.close();
  EXPECT_FALSE(caller.get());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "the waiting caller is released at once";
  EXPECT_FALSE(queue.call([&] { ran = true; }, 10s));
  EXPECT_EQ(queue.run_pending(), 0u);
  EXPECT_FALSE(ran);
}

TEST(ControlQueue, AThrowingTaskDoesNotTakeTheControlThreadDown) {
  ControlQueue queue;
  auto caller = std::async(std::launch::async, [&] {
    return queue.call([] { throw std::runtime_error("boom"); }, 5s);
  });
  ASSERT_TRUE(readable(queue.fd(), 5000));
  EXPECT_NO_THROW(queue.run_pending());
  EXPECT_TRUE(caller.get());
}

}  // namespace
}  // namespace synwarden::daemon
