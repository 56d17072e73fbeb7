// The daemon speaks up when a lab set-up makes it drop everything silently (lab_checks.h).
#include "lab_checks.h"

#include <gtest/gtest.h>
#include <net/if.h>

namespace synwarden::daemon {
namespace {

TEST(ChecksumWatch, WarnsWhenMostSynsHadBadChecksumsAndSaysWhatToDo) {
  ChecksumWatch w;
  EXPECT_FALSE(w.observe(1'000, 0, 0)) << "the first reading only primes the watch";
  const auto warning = w.observe(1'000 + ChecksumWatch::kIntervalMs, 1000, 990);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("990 of 1000 SYNs"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("ethtool -K"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("dropped_bad_checksum"), std::string::npos) << *warning;
}

TEST(ChecksumWatch, QuietForStrayCorruptFramesAndForAMinorityOfBadOnes) {
  ChecksumWatch w;
  w.observe(0, 0, 0);
  EXPECT_FALSE(w.observe(ChecksumWatch::kIntervalMs, 50, 50)) << "below the minimum count";
  EXPECT_FALSE(w.observe(2 * ChecksumWatch::kIntervalMs, 50 + 10'000, 50 + 4'000))
      << "most SYNs were fine";
}

TEST(ChecksumWatch, WarnsAtMostOnceAMinute) {
  ChecksumWatch w;
  w.observe(0, 0, 0);
  uint64_t t = 0, syns = 0;
  int warnings = 0;
  for (int i = 0; i < 24; ++i) {  // two minutes of bad checksums
    t += ChecksumWatch::kIntervalMs;
    syns += 1000;
    if (w.observe(t, syns, syns)) ++warnings;
  }
  EXPECT_EQ(warnings, 2);
}

TEST(ChecksumWatch, WaitsForAFullInterval) {
  ChecksumWatch w;
  w.observe(0, 0, 0);
  EXPECT_FALSE(w.observe(ChecksumWatch::kIntervalMs - 1, 1000, 1000));
  EXPECT_EQ(w.next_ms(), ChecksumWatch::kIntervalMs);
}

TEST(VethPeerWarning, SilentForAnInterfaceThatIsNotAVeth) {
  EXPECT_FALSE(veth_peer_warning("lo", static_cast<int>(if_nametoindex("lo"))));
}

}  // namespace
}  // namespace synwarden::daemon
