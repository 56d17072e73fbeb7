#include "metrics_api_server.h"

#include "metrics_prometheus.h"

namespace synwarden::daemon {

std::string render_api_server_prometheus(const ApiServerCounters& c) {
  using T = PrometheusWriter::Type;
  PrometheusWriter w;
  w.family("synwarden_api_connections_total", T::kCounter,
           "API connections accepted, refused (503) or closed to admit a newer one at the "
           "connection limit");
  w.sample({{"event", "accepted"}}, c.connections_accepted);
  w.sample({{"event", "refused_at_limit"}}, c.connections_refused_at_limit);
  w.sample({{"event", "evicted_at_limit"}}, c.connections_evicted_at_limit);
  w.family("synwarden_api_connections_closed_total", T::kCounter,
           "API connections closed by a deadline: headers or body too slow (408), idle "
           "keep-alive, response not taken");
  w.sample({{"reason", "header_timeout"}}, c.header_timeouts);
  w.sample({{"reason", "body_timeout"}}, c.body_timeouts);
  w.sample({{"reason", "idle"}}, c.idle_closed);
  w.sample({{"reason", "write_timeout"}}, c.write_timeouts);
  w.family("synwarden_api_requests_refused_total", T::kCounter,
           "API requests refused before dispatch: malformed HTTP, a NUL or control byte in the "
           "path or a header, bad or oversized Content-Length, oversized headers");
  w.sample({}, c.requests_refused);
  w.family("synwarden_api_requests_dispatched_total", T::kCounter,
           "Complete API requests handed to the control thread");
  w.sample({}, c.requests_dispatched);
  return w.text();
}

}  // namespace synwarden::daemon
