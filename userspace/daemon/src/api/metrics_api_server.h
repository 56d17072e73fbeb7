// The API server's own counters (api_server.h: refusals, deadlines, the connection limit) in the
// Prometheus text format, appended to GET /metrics.
#pragma once

#include <string>

#include "api_server.h"

namespace synwarden::daemon {

std::string render_api_server_prometheus(const ApiServerCounters& counters);

}  // namespace synwarden::daemon
