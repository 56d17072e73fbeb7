// An Ethernet address: the one type for a MAC everywhere (codec, XDP map values, config, API).
// Its text form is parsed by parse_mac_text() (address_text.h) and written by format_mac().
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace synwarden {

using MacAddress = std::array<uint8_t, 6>;

// "02:00:5e:00:53:01": lower-case hex pairs separated by ':' (what the API and the config file
// print; parse_mac_text() reads it back).
std::string format_mac(const MacAddress& mac);

}  // namespace synwarden
