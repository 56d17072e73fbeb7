// How the control plane refuses a request or a reload, in its own terms. The API router
// (api_router.cpp) is the one place that turns a refusal into an HTTP status; the control thread
// (SIGHUP) only logs it. Every refusal leaves the running configuration as it was: either nothing
// was changed, or the change was rolled back.
#pragma once

#include <stdexcept>
#include <string>

namespace synwarden::daemon {

enum class Refusal {
  kInvalidRequest,  // the request itself is malformed (a bad host object, an empty prefix list)
  kNotFound,        // it names a host or list entry that does not exist
  kConflict,        // it is valid but conflicts with the running state (duplicate, last host,
                    // the resulting config breaks a limit)
  kInvalidConfig,   // the config file (reload) or a key file it names cannot be used
  kRolledBack,      // the dataplane refused a write halfway; the previous state was restored
  kOutOfSync,       // the running config and its document disagree (reload to resynchronise)
};

class ControlError : public std::runtime_error {
 public:
  ControlError(Refusal refusal, const std::string& message)
      : std::runtime_error(message), refusal_(refusal) {}
  Refusal refusal() const noexcept { return refusal_; }

 private:
  Refusal refusal_;
};

}  // namespace synwarden::daemon
