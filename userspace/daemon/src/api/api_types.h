// The local HTTP API's request and response, independent of the wire: the router (api_router.h)
// maps one to the other and is tested without sockets; the server (api_server.h) parses requests
// into these and writes responses from them (http_request.h).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace synwarden::daemon {

struct ApiRequest {
  std::string method;        // "GET", "POST", "DELETE", ...
  std::string path;          // decoded path without the query ("/hosts/192.0.2.10/protect")
  std::string body;
  std::string content_type;  // Content-Type header, "" if absent
  std::string host;          // Host header, "" if absent
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  // Allow header of a 405

  static ApiResponse json_error(int status, const std::string& message);
};

// Thrown inside the router for a request it refuses before it reaches the daemon (a bad path,
// body, Host or Content-Type); `status` is the HTTP status to answer. The control plane's own
// refusals are ControlErrors (control_error.h), mapped by the router.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

}  // namespace synwarden::daemon
