#include "established_map.h"

namespace synwarden::daemon {

bool EstablishedMap::insert(const sw_flow_key& key) noexcept {
  try {
    return table_.insert(dataplane::FlowKey::from_raw(key), dataplane::FlowOrigin::cookie).ok();
  } catch (...) {
    // Only the error path builds a message (and could fail to allocate); the frame is still
    // forwarded and the failure counted by the caller.
    return false;
  }
}

}  // namespace synwarden::daemon
