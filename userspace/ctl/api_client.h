// synwardenctl's client of the daemon's local HTTP API (userspace/daemon/src/api/api_router.h).
// Errors name the request, the API address and what the daemon said, e.g.
//   "POST /hosts/192.0.2.10/protect on http://127.0.0.1:9477: 404 host 192.0.2.10 is not ..."
//   "GET /status on http://127.0.0.1:9477: cannot connect (Connection) - is synwarden running?"
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace synwarden::ctl {

// The daemon's default API address (its api.address/api.port defaults).
inline constexpr const char* kDefaultApiUrl = "http://127.0.0.1:9477";

class ApiCallError : public std::runtime_error {
 public:
  ApiCallError(const std::string& message, int status) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }  // HTTP status, 0 if none was received

 private:
  int status_;
};

class ApiClient {
 public:
  explicit ApiClient(std::string url);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Each returns the parsed JSON body of a 2xx answer; throws ApiCallError otherwise.
  nlohmann::json get(const std::string& path);
  nlohmann::json post(const std::string& path, const nlohmann::json& body);
  nlohmann::json del(const std::string& path);
  nlohmann::json del(const std::string& path, const nlohmann::json& body);  // bulk DELETE
  std::string get_text(const std::string& path);
  // GET whose `also_ok` status is an answer too (GET /health answers 503 with its checks):
  // returns the status and the body; throws ApiCallError for any other non-2xx status.
  std::pair<int, nlohmann::json> get_verdict(const std::string& path, int also_ok);

  const std::string& url() const noexcept { return url_; }

 private:
  struct Impl;
  std::string url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synwarden::ctl
