// Specification of the lock-free snapshot hand-off (QSBR) and the structures workers own.
#include "snapshot_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "frame_pool.h"
#include "snapshot.h"

namespace synwarden::daemon {
namespace {

// A snapshot that knows whether it is still alive, so a reader can detect use-after-free.
struct Probe {
  static inline std::atomic<int> alive{0};
  explicit Probe(uint64_t v) : value(v), check(~v) { alive.fetch_add(1); }
  ~Probe() {
    check = 0;
    alive.fetch_sub(1);
  }
  bool intact() const { return check == ~value; }
  uint64_t value;
  volatile uint64_t check;
};

TEST(SnapshotStore, ReaderSeesThePublishedSnapshotAtItsNextQuiescentPoint) {
  SnapshotStore<Probe> store(std::make_unique<const Probe>(1), 1);
  auto reader = store.reader(0);
  EXPECT_EQ(reader.quiescent()->value, 1u);
  store.publish(std::make_unique<const Probe>(2));
  EXPECT_EQ(reader.quiescent()->value, 2u);
}

TEST(SnapshotStore, OldSnapshotLivesUntilEveryOnlineReaderPassedAQuiescentPoint) {
  const int base = Probe::alive.load();
  SnapshotStore<Probe> store(std::make_unique<const Probe>(1), 2);
  auto a = store.reader(0);
  auto b = store.reader(1);
  const Probe* held_by_a = a.quiescent();
  b.quiescent();
  store.publish(std::make_unique<const Probe>(2));
  EXPECT_EQ(store.reclaim(), 1u) << "both readers may still hold snapshot 1";
  b.quiescent();
  EXPECT_EQ(store.reclaim(), 1u) << "reader a still holds snapshot 1";
  EXPECT_TRUE(held_by_a->intact());
  a.quiescent();
  EXPECT_EQ(store.reclaim(), 0u);
  EXPECT_EQ(Probe::alive.load(), base + 1) << "only the current snapshot is left";
}

TEST(SnapshotStore, OfflineReadersDoNotHoldReclamationBack) {
  SnapshotStore<Probe> store(std::make_unique<const Probe>(1), 2);
  auto a = store.reader(0);
  auto b = store.reader(1);
  a.quiescent();
  b.quiescent();
  b.offline();  // e.g. asleep in poll()
  store.publish(std::make_unique<const Probe>(2));
  a.quiescent();
  EXPECT_EQ(store.reclaim(), 0u);
  EXPECT_EQ(b.quiescent()->value, 2u) << "coming back online reads the newest snapshot";
}

TEST(SnapshotStore, ConcurrentReadersNeverSeeAFreedSnapshot) {
  constexpr size_t kReaders = 3;
  SnapshotStore<Probe> store(std::make_unique<const Probe>(0), kReaders);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> broken{0}, reads{0};
  std::vector<std::thread> readers;
  for (size_t i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      auto r = store.reader(i);
      uint64_t last = 0;
      while (!stop.load()) {
        const Probe* p = r.quiescent();
        for (int k = 0; k < 50; ++k) {
          if (!p->intact()) broken.fetch_add(1);
        }
        if (p->value < last) broken.fetch_add(1);  // versions never go backwards
        last = p->value;
        reads.fetch_add(1);
        if (last % 7 == 0) r.offline();
      }
      r.offline();
    });
  }
  // Publish until the readers have really interleaved with the writer (threads may start
  // late on a loaded machine), bounded in time.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (uint64_t v = 1; (v <= 20000 || reads.load() < 20000) &&
                       std::chrono::steady_clock::now() < deadline;
       ++v) {
    store.publish(std::make_unique<const Probe>(v));
    store.reclaim();
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(store.reclaim(), 0u);
  EXPECT_EQ(broken.load(), 0u);
  EXPECT_GE(reads.load(), 20000u);
}

TEST(FramePool, HandsBackTheMostRecentlyFreedFrameFirst) {
  FramePool pool(4, 2048);
  EXPECT_EQ(pool.size(), 4u);
  EXPECT_EQ(pool.pop(), 0u) << "start-up hands out frames in address order";
  EXPECT_EQ(pool.pop(), 2048u);
  EXPECT_TRUE(pool.push(2048));
  EXPECT_EQ(pool.pop(), 2048u) << "LIFO: the warm frame is reused first";
}

TEST(FramePool, RefusesToHoldMoreFramesThanTheUmemHas) {
  FramePool pool(2, 4096);
  EXPECT_FALSE(pool.push(0)) << "a frame freed twice must not enter the pool twice";
  pool.pop();
  EXPECT_TRUE(pool.push(0));
  EXPECT_EQ(pool.size(), 2u);
}

TEST(Snapshot, FindsHostsByFamilyAndAddressAndFiltersPorts) {
  std::vector<HostEntry> hosts(3);
  hosts[0].address = *IpAddress::parse("2001:db8::10");
  hosts[1].address = *IpAddress::parse("192.0.2.10");
  hosts[1].ports = {80, 443};
  hosts[2].address = *IpAddress::parse("192.0.2.9");
  const Snapshot snapshot(std::move(hosts), MacAddress{}, 7);
  const auto v4 = *IpAddress::parse("192.0.2.10");
  const auto v6 = *IpAddress::parse("2001:db8::10");
  const HostEntry* h = snapshot.find(IpFamily::kIpv4, v4.bytes().data());
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(h->port_protected(443));
  EXPECT_FALSE(h->port_protected(8080));
  ASSERT_NE(snapshot.find(IpFamily::kIpv6, v6.bytes().data()), nullptr);
  EXPECT_EQ(snapshot.find(IpFamily::kIpv6, v4.bytes().data()), nullptr)
      << "an IPv4 address's bytes are not an IPv6 host";
  const auto other = *IpAddress::parse("192.0.2.11");
  EXPECT_EQ(snapshot.find(IpFamily::kIpv4, other.bytes().data()), nullptr);
  EXPECT_EQ(snapshot.version(), 7u);
}

TEST(Snapshot, RejectsAHostListedTwice) {
  std::vector<HostEntry> hosts(2);
  hosts[0].address = *IpAddress::parse("192.0.2.10");
  hosts[1].address = *IpAddress::parse("192.0.2.10");
  EXPECT_THROW(Snapshot(std::move(hosts), MacAddress{}), std::invalid_argument);
}

}  // namespace
}  // namespace synwarden::daemon
