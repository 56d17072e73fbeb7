#include "synwarden/dataplane/result.h"

#include <cstring>

namespace synwarden::dataplane {

Error os_error(int code, const std::string& what, const std::string& hint) {
  std::string msg = what + ": " + std::strerror(code) + " (errno " + std::to_string(code) + ")";
  if (!hint.empty()) msg += "; " + hint;
  return Error{code, std::move(msg)};
}

Error logic_error(const std::string& what) { return Error{0, what}; }

}  // namespace synwarden::dataplane
