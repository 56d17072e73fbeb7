// Specification of the strict JSON reading used for every document the product reads: a
// repeated key or a NUL byte in a key or string is refused with the key path; everything else
// parses exactly as nlohmann::json::parse does.
#include "synwarden/strict_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace synwarden {
namespace {

using ::testing::HasSubstr;

std::string path_of_refusal(std::string_view text, std::string_view root = {}) {
  try {
    parse_json_strict(text, root);
  } catch (const JsonInputError& e) {
    return e.key_path() + " | " + e.what();
  }
  return "accepted";
}

TEST(StrictJson, RefusesARepeatedKeyNamingItsPath) {
  EXPECT_THAT(path_of_refusal(R"({"protection": true, "protection": false})"),
              HasSubstr("protection | duplicate key 'protection'"));
  EXPECT_THAT(path_of_refusal(R"({"protected_hosts": [{"a": 1}, {"mac": "x", "mac": "y"}]})"),
              HasSubstr("protected_hosts[1].mac | duplicate key"));
  EXPECT_THAT(
      path_of_refusal(R"({"agent": {"address": "a", "key_file": "/k", "address": "b"}})", "host"),
      HasSubstr("host.agent.address | duplicate key"));
  EXPECT_THAT(path_of_refusal(R"([[1, 2], {"x": [0, {"y": 1, "y": 1}]}])"),
              HasSubstr("[1].x[1].y | duplicate key"));
}

TEST(StrictJson, TheSameKeyInDifferentObjectsIsFine) {
  const auto doc =
      parse_json_strict(R"({"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 3}, {"k": 4}]})");
  EXPECT_EQ(doc["c"][1]["k"], 4);
  EXPECT_EQ(parse_ordered_json_strict(R"({"z": 1, "a": 2})").begin().key(), "z");
}

TEST(StrictJson, RefusesNulInStringsAndKeys) {
  EXPECT_THAT(path_of_refusal(R"({"address": "198.51.100.25\u0000x"})", "host"),
              HasSubstr("host.address | the string at 'host.address' contains a NUL byte"));
  EXPECT_THAT(path_of_refusal(R"({"ports": [80], "names": ["ok", "eth0\u0000"]})"),
              HasSubstr("names[1] | "));
  EXPECT_THAT(path_of_refusal(R"({"protection\u0000": false})"), HasSubstr("NUL"));
  EXPECT_EQ(path_of_refusal(R"({"text": "\u0001 \u001f ok"})"), "accepted");
}

TEST(StrictJson, SyntaxErrorsStayNlohmannParseErrors) {
  EXPECT_THROW(parse_json_strict(R"({"a": )"), nlohmann::json::parse_error);
  EXPECT_THROW(parse_json_strict(R"({"a": 1e400})"), nlohmann::json::out_of_range);
  EXPECT_THROW(parse_json_strict("{} trailing"), nlohmann::json::parse_error);
}

}  // namespace
}  // namespace synwarden
