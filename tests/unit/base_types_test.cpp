// Specification of synwarden_base's vocabulary types (userspace/base): the one address, MAC, fd
// owner, clock and fail policy that the daemon, the dataplane library, the agent and
// synwardenctl share. The text parsers' refusals are specified in address_text_test.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "synwarden/address_text.h"
#include "synwarden/clock_now.h"
#include "synwarden/fail_policy.h"
#include "synwarden/ip_address.h"
#include "synwarden/mac_address.h"
#include "synwarden/unique_fd.h"

namespace synwarden {
namespace {

using namespace std::string_literals;

TEST(IpAddress, ParsesBothFamiliesInNetworkOrderAndPrintsThemBack) {
  const auto v4 = IpAddress::parse("198.51.100.10");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->family(), IpAddress::Family::kIpv4);
  EXPECT_EQ(v4->size(), 4u);
  EXPECT_EQ(v4->bytes()[0], 198);
  EXPECT_EQ(v4->bytes()[3], 10);
  EXPECT_EQ(v4->to_string(), "198.51.100.10");

  const auto v6 = IpAddress::parse("2001:DB8:0:0::10");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->size(), 16u);
  EXPECT_EQ(v6->bytes()[0], 0x20);
  EXPECT_EQ(v6->bytes()[15], 0x10);
  EXPECT_EQ(v6->to_string(), "2001:db8::10") << "RFC 5952 form";
}

TEST(IpAddress, RefusesWhatTheStrictTextParsersRefuse) {
  for (const std::string& text : {"198.51.100.10\0"s, "198.51.100.10 "s, "[2001:db8::1]"s,
                                  "2001:db8::1%eth0"s, "198.51.100.0/24"s, "0x7f.0.0.1"s, ""s,
                                  "eth0"s}) {
    EXPECT_FALSE(IpAddress::parse(text)) << text;
  }
}

TEST(IpAddress, AnIpv4AddressIsItsFourBytesWhateverFollowsThemInTheSource) {
  // Key structs carry IPv4 in the first of 16 bytes; what follows must not make two equal
  // addresses compare unequal.
  const uint8_t words[16] = {192, 0, 2, 1, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8};
  const IpAddress a = IpAddress::from_bytes(IpAddress::Family::kIpv4, words);
  EXPECT_EQ(a, *IpAddress::parse("192.0.2.1"));
  EXPECT_EQ(a, IpAddress::v4({192, 0, 2, 1}));
  for (size_t i = 4; i < 16; ++i) EXPECT_EQ(a.bytes()[i], 0) << i;
}

TEST(IpAddress, OrdersIpv4BeforeIpv6AndThenByBytes) {
  const std::set<IpAddress> sorted = {*IpAddress::parse("2001:db8::1"),
                                      *IpAddress::parse("198.51.100.1"),
                                      *IpAddress::parse("192.0.2.200"), *IpAddress::parse("::1")};
  std::string order;
  for (const auto& a : sorted) order += a.to_string() + " ";
  EXPECT_EQ(order, "192.0.2.200 198.51.100.1 ::1 2001:db8::1 ");
  EXPECT_NE(*IpAddress::parse("::"), IpAddress()) << "0.0.0.0 and :: are different addresses";
}

TEST(IpAddress, LoopbackIs127Slash8AndColonColonOne) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("127.200.0.9")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("128.0.0.1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("::2")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("::ffff:127.0.0.1")->is_loopback());
}

TEST(MacAddress, FormatsLowerCaseColonPairsThatParseBack) {
  const MacAddress mac{0x02, 0x00, 0x5e, 0xAB, 0x53, 0x0f};
  EXPECT_EQ(format_mac(mac), "02:00:5e:ab:53:0f");
  EXPECT_EQ(parse_mac_text(format_mac(mac)), mac);
  EXPECT_EQ(format_mac(MacAddress{}), "00:00:00:00:00:00");
}

TEST(FailPolicy, OneDefaultOpenAndTwoNamesThatParseBack) {
  EXPECT_EQ(kDefaultFailPolicy, FailPolicy::kOpen)
      << "the config file's documented default: a host without secrets stays reachable";
  for (const FailPolicy p : {FailPolicy::kOpen, FailPolicy::kClosed}) {
    EXPECT_EQ(parse_fail_policy(fail_policy_name(p)), p);
  }
  EXPECT_STREQ(fail_policy_name(FailPolicy::kClosed), "closed");
  EXPECT_THROW(parse_fail_policy("Open"), std::invalid_argument);
  EXPECT_THROW(parse_fail_policy("open\0"s), std::invalid_argument);
}

TEST(ClockNow, MillisecondsAreTheSameClockAsNanoseconds) {
  const uint64_t ns_before = monotonic_ns();
  const uint64_t ms = monotonic_ms();
  const uint64_t ns_after = monotonic_ns();
  EXPECT_LE(ns_before / 1'000'000, ms);
  EXPECT_LE(ms, ns_after / 1'000'000);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t wall_ms = static_cast<uint64_t>(ts.tv_sec) * 1000;
  EXPECT_GE(unix_time_ms(), wall_ms);
  EXPECT_LT(unix_time_ms(), wall_ms + 60'000);
}

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFd, ClosesOnceWhenTheLastOwnerGoes) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[1]);
  const int raw = fds[0];
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
    UniqueFd c;
    c = std::move(b);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[1]);
  int raw = -1;
  {
    UniqueFd a(fds[0]);
    raw = a.release();
    EXPECT_FALSE(a.valid());
  }
  EXPECT_TRUE(is_open(raw));
  close(raw);
}

}  // namespace
}  // namespace synwarden
