// What the HTTP API can ask of the daemon, as the router (api_router.h) sees it: the operations
// that change or show the configuration (ControlPlane implements them) and the reports read from
// the running daemon (DaemonReports, daemon_reports.h). Both run on the control thread; tests
// give the router stand-ins. Operations refuse with ControlError (control_error.h), which only
// the router turns into an HTTP status; any other exception is a 500.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config.h"
#include "control_health.h"

namespace synwarden::daemon {

class ControlOperations {
 public:
  virtual ~ControlOperations() = default;
  virtual nlohmann::json hosts_json() const = 0;
  virtual nlohmann::json host_json(const IpAddress& address) const = 0;
  virtual nlohmann::json add_host(const nlohmann::json& spec) = 0;
  virtual nlohmann::json remove_host(const IpAddress& address) = 0;
  virtual nlohmann::json set_protection(const IpAddress& address, bool on) = 0;
  virtual nlohmann::json set_mode(const IpAddress& address, HostMode mode) = 0;
  // `trigger` names who asked, for the log and /status: "SIGHUP", "api".
  virtual nlohmann::json reload(const std::string& trigger) = 0;
  // Source lists: GET/POST/DELETE /lists/{allow|deny}.
  virtual nlohmann::json list_json(ListKindCfg kind) const = 0;
  virtual nlohmann::json change_list(ListKindCfg kind, const nlohmann::json& body, bool add) = 0;
};

class StatusReports {
 public:
  virtual ~StatusReports() = default;
  virtual nlohmann::json status() = 0;
  virtual HealthReport health() = 0;  // control_health.h
  virtual nlohmann::json stats() = 0;
  virtual std::string metrics() = 0;  // Prometheus text exposition format 0.0.4
};

}  // namespace synwarden::daemon
