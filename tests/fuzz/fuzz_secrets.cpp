// Fuzz target "secrets": the secrets JSON loader (secrets.h), which reads documents an agent
// sends over the network and files an operator edits.
//
// Properties:
//  1. parse_secrets() on any text either returns or throws SecretsError -- never another
//     exception type (a nlohmann::json type_error escaping would kill the secret poller thread).
//  2. A document that loads serialises to a canonical document that loads back equal, and
//     serialising that again gives the same text (serialize_secrets() is a fixed point).
//     has_uninitialised_keys() is true exactly when one of the five keys is all zero.
//  3. The same bytes read as a structured HostSecrets (every field raw, out-of-range values
//     included): serialize_secrets() then parse_secrets() succeeds exactly when every field is in
//     its documented range, and then gives back an equal HostSecrets.
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "synwarden/secrets.h"

namespace synwarden::fuzz {
namespace {

bool any_zero_key(const HostSecrets& s) {
  return s.syncookie[0].is_zero() || s.syncookie[1].is_zero() || s.syncookie6[0].is_zero() ||
         s.syncookie6[1].is_zero() || s.ts_key.is_zero();
}

void check_round_trip(const HostSecrets& s, const char* what) {
  FUZZ_CHECK(s.has_uninitialised_keys() == any_zero_key(s), "%s: has_uninitialised_keys() wrong",
             what);
  const std::string text = serialize_secrets(s);
  HostSecrets back;
  try {
    back = parse_secrets(text, "fuzz round trip");
  } catch (const SecretsError& e) {
    fail(__FILE__, __LINE__, what, "serialised secrets do not load back: %s\n  document: %s",
         e.what(), text.c_str());
  }
  FUZZ_CHECK(back == s, "%s: loaded back different secrets from %s", what, text.c_str());
  FUZZ_CHECK(serialize_secrets(back) == text, "%s: serialisation is not canonical", what);
}

// The ranges secrets.h documents for each field.
bool in_documented_range(const HostSecrets& s) {
  return s.sysctls.tcp_timestamps <= 2 && s.sysctls.tcp_sack <= 1 &&
         s.sysctls.tcp_window_scaling <= 1 && s.sysctls.tcp_ecn <= 5 && s.mss >= 88 &&
         s.mss6 >= 88 && s.rcv_wscale <= 14 && s.rcv_space >= 1 &&
         s.rcv_space <= static_cast<uint32_t>(std::numeric_limits<int32_t>::max()) &&
         s.clock.hz >= 1 && s.clock.hz <= HostClock::kMaxHz;
}

HostSecrets structured(FuzzInput& in) {
  const auto key = [&in] {
    std::array<uint8_t, 16> b;
    in.take_bytes(b.data(), b.size());
    return SipKey::from_bytes(b);
  };
  HostSecrets s;
  s.syncookie = {key(), key()};
  s.syncookie6 = {key(), key()};
  s.ts_offset = in.take_bool() ? TsOffsetMode::kPerHost : TsOffsetMode::kPerConnection;
  s.ts_key = key();
  s.sysctls.tcp_timestamps = in.take<uint8_t>();
  s.sysctls.tcp_sack = in.take<uint8_t>();
  s.sysctls.tcp_window_scaling = in.take<uint8_t>();
  s.sysctls.tcp_ecn = in.take<uint8_t>();
  s.mss = in.take<uint16_t>();
  s.mss6 = in.take<uint16_t>();
  s.rcv_wscale = in.take<uint8_t>();
  // Mostly the default (which serialisation omits), sometimes anything.
  s.rcv_space = in.take_bool() ? in.take<uint32_t>() : HostSecrets::kDefaultRcvSpace;
  s.clock.jiffies = in.take<uint64_t>();
  s.clock.hz = in.take<uint32_t>();
  s.clock.mono_ms = in.take<uint64_t>();
  return s;
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const HostSecrets s = parse_secrets(text, "fuzz input");
    check_round_trip(s, "loaded document");
  } catch (const SecretsError& e) {
    // Refused, as it should be for nearly every input. The message must name the origin so
    // an operator can tell which agent or file sent it.
    FUZZ_CHECK(std::strstr(e.what(), "fuzz input") != nullptr, "error without origin: %s",
               e.what());
  }

  FuzzInput in(data, size);
  const HostSecrets s = structured(in);
  if (in_documented_range(s)) {
    check_round_trip(s, "structured secrets");
  } else {
    bool refused = false;
    try {
      (void)parse_secrets(serialize_secrets(s), "fuzz structured");
    } catch (const SecretsError&) {
      refused = true;
    }
    FUZZ_CHECK(refused, "out-of-range secrets accepted: %s", serialize_secrets(s).c_str());
  }
  return 0;
}
