#include "synwarden/fail_policy.h"

#include <stdexcept>
#include <string>

namespace synwarden {

const char* fail_policy_name(FailPolicy policy) noexcept {
  return policy == FailPolicy::kOpen ? "open" : "closed";
}

FailPolicy parse_fail_policy(std::string_view text) {
  if (text == "open") return FailPolicy::kOpen;
  if (text == "closed") return FailPolicy::kClosed;
  throw std::invalid_argument(
      "fail policy '" + std::string(text) +
      "' is not one of: open (forward SYNs unprotected), closed (drop SYNs)");
}

}  // namespace synwarden
