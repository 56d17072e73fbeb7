// The stand-in of the API tests for the daemon's operations and reports (api_backend.h): records
// calls, answers with what the test set.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "api_backend.h"
#include "api_types.h"
#include "control_error.h"

namespace synwarden::daemon {

class FakeApi : public ControlOperations, public StatusReports {
 public:
  nlohmann::json status() override { return record("status", {{"ok", true}}); }
  HealthReport health() override {
    record("health", {});
    return next_health;
  }
  nlohmann::json hosts_json() const override {
    return record("list", {{"hosts", nlohmann::json::array()}});
  }
  nlohmann::json host_json(const IpAddress& a) const override {
    return record("get " + a.to_string(), {});
  }
  nlohmann::json add_host(const nlohmann::json& spec) override {
    if (spec.value("address", "") == "192.0.2.99") throw ControlError(Refusal::kConflict, "already protected");
    return record("add " + spec.dump(), {{"host", spec}});
  }
  nlohmann::json remove_host(const IpAddress& a) override {
    if (a.to_string() == "192.0.2.98") throw std::runtime_error("map on fire");
    return record("remove " + a.to_string(), {{"removed", a.to_string()}});
  }
  nlohmann::json set_protection(const IpAddress& a, bool on) override {
    return record("protect " + a.to_string() + (on ? " on" : " off"), {{"protection", on}});
  }
  nlohmann::json set_mode(const IpAddress& a, HostMode mode) override {
    return record("mode " + a.to_string() + " " + host_mode_name(mode),
                  {{"mode", host_mode_name(mode)}});
  }
  nlohmann::json stats() override { return record("stats", {{"hosts", nlohmann::json::array()}}); }
  std::string metrics() override {
    record("metrics", {});
    return "# HELP x y\n# TYPE x gauge\nx 1\n";
  }
  nlohmann::json reload(const std::string& trigger) override {
    record(trigger == "api" ? "reload" : "reload " + trigger, {});
    if (reload_fails) throw ControlError(Refusal::kInvalidConfig, "reload refused: config key 'x': bad");
    return {{"reloaded", true}};
  }
  nlohmann::json list_json(ListKindCfg kind) const override {
    return record(std::string("get_list ") + list_kind_name(kind), {{"count", 0}});
  }
  nlohmann::json change_list(ListKindCfg kind, const nlohmann::json& body, bool add) override {
    return record(std::string(add ? "list_add " : "list_del ") + list_kind_name(kind) + " " +
                      body.dump(),
                  {{"list", list_kind_name(kind)}});
  }

  // The server's dispatch threads may call concurrently.
  nlohmann::json record(std::string call, nlohmann::json answer) const {
    std::lock_guard lock(mutex);
    calls.push_back(std::move(call));
    return answer;
  }
  mutable std::mutex mutex;
  mutable std::vector<std::string> calls;
  bool reload_fails = false;
  HealthReport next_health;
};

}  // namespace synwarden::daemon
