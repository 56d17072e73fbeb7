// What the HTTP API can ask of the daemon. The router (api_router.h) calls it on the control
// thread; DaemonControlApi (control_daemon_api.h) is the daemon's implementation, tests use fakes.
// Methods throw ApiError for requests they refuse (status + message); anything else is a 500.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config.h"
#include "control_health.h"

namespace synwarden::daemon {

class ControlApi {
 public:
  virtual ~ControlApi() = default;
  virtual nlohmann::json status() = 0;
  virtual HealthReport health() = 0;  // control_health.h
  virtual nlohmann::json list_hosts() = 0;
  virtual nlohmann::json get_host(const IpAddress& address) = 0;
  virtual nlohmann::json add_host(const nlohmann::json& spec) = 0;  // 201 on success
  virtual nlohmann::json remove_host(const IpAddress& address) = 0;
  virtual nlohmann::json set_protection(const IpAddress& address, bool on) = 0;
  virtual nlohmann::json set_mode(const IpAddress& address, HostMode mode) = 0;
  virtual nlohmann::json stats() = 0;
  virtual std::string metrics() = 0;  // Prometheus text exposition format 0.0.4
  virtual nlohmann::json reload() = 0;
  // Source lists: GET/POST/DELETE /lists/{allow|deny} (ControlPlane::change_list).
  virtual nlohmann::json get_list(ListKindCfg kind) = 0;
  virtual nlohmann::json change_list(ListKindCfg kind, const nlohmann::json& body, bool add) = 0;
};

}  // namespace synwarden::daemon
