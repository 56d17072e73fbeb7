// Maps API requests to the daemon's operations and reports (api_backend.h), and their results or
// refusals to responses:
//
//   GET    /status                  daemon, interface, workers, per-host secrets freshness
//   GET    /health                  checks and verdict (control_health.h): 200 healthy, 503 not
//   GET    /hosts                   protected hosts, in the config file's form
//   POST   /hosts                   add a host (body: one protected_hosts[] object)       201
//   GET    /hosts/{ip}              one host
//   DELETE /hosts/{ip}              remove a host
//   POST   /hosts/{ip}/protect      body {"protection": true|false} (= mode protect|pass)
//   POST   /hosts/{ip}/mode         body {"mode": "protect"|"pass"|"monitor"|"auto"}
//   GET    /stats                   counters as JSON (per host, per worker, XDP reasons)
//   GET    /metrics                 Prometheus text exposition
//   POST   /reload                  re-read the config file (422 if it is invalid)
//
// Every error is a JSON object {"error": "..."} with a 4xx/5xx status, and a refused request
// changes nothing. This is the one place where a control-plane refusal (control_error.h) gets its
// HTTP status (http_status below). Because the API has no authentication and listens on
// loopback, two checks keep web pages in the operator's browser out: the Host header must name a
// loopback address (DNS rebinding), and POST/DELETE must carry Content-Type: application/json,
// which a cross-origin page cannot send without a CORS preflight that this API never approves.
#pragma once

#include "api_backend.h"
#include "api_types.h"
#include "control_error.h"

namespace synwarden::daemon {

// 400 invalid request, 404 not found, 409 conflict, 422 invalid config file (reload) or key
// file, 500 rolled back or out of sync.
int http_status(Refusal refusal) noexcept;

class ApiRouter {
 public:
  ApiRouter(ControlOperations& control, StatusReports& reports)
      : control_(control), reports_(reports) {}

  // Never throws: every failure becomes an error response.
  ApiResponse handle(const ApiRequest& request) noexcept;

 private:
  ApiResponse route(const ApiRequest& request);
  ControlOperations& control_;
  StatusReports& reports_;
};

// True if a Host header value names a loopback address or "localhost" (with optional port).
bool is_loopback_host_header(const std::string& host);

}  // namespace synwarden::daemon
