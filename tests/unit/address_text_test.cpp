// Specification of the strict text parsers every address, MAC and interface name goes through
// (daemon config and API, agent config, synwardenctl): the whole text is the value, so an
// embedded NUL or trailing bytes are refused instead of silently cut off.
#include "synwarden/address_text.h"

#include <gtest/gtest.h>

#include <string>

namespace synwarden {
namespace {

using namespace std::string_literals;

TEST(AddressText, ParsesIpv4AndIpv6InNetworkOrder) {
  const auto v4 = parse_ipv4_text("198.51.100.10");
  ASSERT_TRUE(v4);
  EXPECT_EQ((*v4)[0], 198);
  EXPECT_EQ((*v4)[3], 10);
  const auto v6 = parse_ipv6_text("2001:db8::10");
  ASSERT_TRUE(v6);
  EXPECT_EQ((*v6)[0], 0x20);
  EXPECT_EQ((*v6)[15], 0x10);
}

TEST(AddressText, RefusesAnEmbeddedNulWhateverFollowsIt) {
  EXPECT_FALSE(parse_ipv4_text("198.51.100.10\0"s));
  EXPECT_FALSE(parse_ipv4_text("198.51.100.25\0x"s));
  EXPECT_FALSE(parse_ipv6_text("2001:db8::10\0"s));
  EXPECT_FALSE(parse_ipv6_text("2001:db8::10\0:1"s));
  EXPECT_FALSE(parse_mac_text("02:00:5e:00:53:0\0"s));
  EXPECT_FALSE(parse_mac_text("02:00:5e:00:53:01\0"s));
}

TEST(AddressText, RefusesTrailingAndLeadingGarbage) {
  for (const char* text : {"198.51.100.10 ", " 198.51.100.10", "198.51.100.10x", "198.51.100",
                           "198.51.100.10/32", "198.51.100.256", "0x7f.0.0.1", ""}) {
    EXPECT_FALSE(parse_ipv4_text(text)) << text;
  }
  for (const char* text : {"2001:db8::10 ", "[2001:db8::10]", "2001:db8::10%eth0", "2001:db8::g",
                           "198.51.100.10", ""}) {
    EXPECT_FALSE(parse_ipv6_text(text)) << text;
  }
}

TEST(AddressText, MacIsSixHexPairsWithOneSeparatorThroughout) {
  const auto colon = parse_mac_text("02:00:5E:00:53:01");
  ASSERT_TRUE(colon);
  EXPECT_EQ(*colon, (MacAddress{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}));
  EXPECT_EQ(parse_mac_text("02-00-5e-00-53-01"), colon);
  for (const char* text :
       {"02:00:5e:00:53:01:", "02:00:5e:00:53:01 ", "02:00-5e:00:53:01", "2:0:5e:0:53:1",
        " 2:00:5e:00:53:01", "02:00:5e:00:53:0g", "0200.5e00.5301..", "+2:00:5e:00:53:01", ""}) {
    EXPECT_FALSE(parse_mac_text(text)) << text;
  }
}

TEST(AddressText, InterfaceNamesFollowTheKernelRules) {
  EXPECT_EQ(interface_name_problem("eth0"), nullptr);
  EXPECT_EQ(interface_name_problem("veth-fw.100"), nullptr);
  EXPECT_EQ(interface_name_problem("fifteen-bytes15"), nullptr);
  EXPECT_NE(interface_name_problem("sixteen-bytes-16"), nullptr);
  EXPECT_NE(interface_name_problem(""), nullptr);
  EXPECT_NE(interface_name_problem("."), nullptr);
  EXPECT_NE(interface_name_problem(".."), nullptr);
  EXPECT_NE(interface_name_problem("eth0\0x"s), nullptr);
  EXPECT_NE(interface_name_problem("eth0\0"s), nullptr);
  EXPECT_NE(interface_name_problem("eth/0"), nullptr);
  EXPECT_NE(interface_name_problem("eth0:1"), nullptr);
  EXPECT_NE(interface_name_problem("eth 0"), nullptr);
  EXPECT_NE(interface_name_problem("eth0\n"), nullptr);
}

}  // namespace
}  // namespace synwarden
