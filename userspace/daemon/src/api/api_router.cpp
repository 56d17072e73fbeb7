#include "api_router.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "synwarden/strict_json.h"

namespace synwarden::daemon {

namespace {

ApiResponse json_response(int status, const nlohmann::json& body) {
  ApiResponse r;
  r.status = status;
  // Error messages quote the request's own path, Host and Content-Type, which may hold any
  // bytes: invalid UTF-8 is replaced (U+FFFD) instead of throwing type_error 316, which would
  // escape handle() and terminate the daemon (found by fuzzing).
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

// Request text quoted in an error message: control bytes become \xNN, so a NUL cannot cut the
// message short (what() is a C string) and the operator sees what was actually sent.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

ApiResponse method_not_allowed(const std::string& method, const std::string& path,
                               const std::string& allow) {
  ApiResponse r = ApiResponse::json_error(405, printable(method) + " is not supported on " + path +
                                                    " (allowed: " + allow + ")");
  r.allow = allow;
  return r;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start < path.size()) {
    while (start < path.size() && path[start] == '/') ++start;
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end;
  }
  return parts;
}

IpAddress path_address(std::string_view text) {
  const auto ip = IpAddress::parse(text);
  if (!ip) {
    throw ApiError(400, "\"" + printable(text) + "\" in the path is not an IPv4 or IPv6 address");
  }
  return *ip;
}

// `root` prefixes key paths in errors: "host" for POST /hosts, whose errors say "host.mac".
nlohmann::json parse_body(const ApiRequest& request, std::string_view root) {
  if (request.body.empty()) {
    throw ApiError(400, "the request needs a JSON body");
  }
  try {
    return parse_json_strict(request.body, root);
  } catch (const JsonInputError& e) {
    throw ApiError(400, "the request body is refused: " + std::string(e.what()));
  } catch (const nlohmann::json::exception& e) {
    // parse_error, or out_of_range.406 for a number beyond double ("1e400"; found by fuzzing),
    // which would otherwise end as a 500.
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
  }
}

bool is_json_content_type(const std::string& value) {
  std::string lower = value.substr(0, value.find(';'));
  lower.erase(std::remove_if(lower.begin(), lower.end(), [](unsigned char c) { return std::isspace(c); }),
              lower.end());
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "application/json";
}

}  // namespace

ApiResponse ApiResponse::json_error(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

bool is_loopback_host_header(const std::string& host) {
  std::string_view name = host;
  std::string_view port;
  if (!name.empty() && name.front() == '[') {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    port = name.substr(close + 1);
    name = name.substr(1, close - 1);
  } else if (const auto colon = name.find(':'); colon != std::string_view::npos) {
    port = name.substr(colon);
    name = name.substr(0, colon);
  }
  // Nothing may follow the name but ":<port>": "localhost:9477\0.evil.example" is not local.
  if (!port.empty()) {
    if (port.size() < 2 || port.size() > 6 || port.front() != ':') return false;
    for (const char c : port.substr(1)) {
      if (c < '0' || c > '9') return false;
    }
  }
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost") return true;
  const auto ip = IpAddress::parse(lower);
  return ip && ip->is_loopback();
}

int http_status(Refusal refusal) noexcept {
  switch (refusal) {
    case Refusal::kInvalidRequest:
      return 400;
    case Refusal::kNotFound:
      return 404;
    case Refusal::kConflict:
      return 409;
    case Refusal::kInvalidConfig:
      return 422;
    case Refusal::kRolledBack:
    case Refusal::kOutOfSync:
      break;
  }
  return 500;
}

ApiResponse ApiRouter::handle(const ApiRequest& request) noexcept {
  try {
    return route(request);
  } catch (const ApiError& e) {
    return ApiResponse::json_error(e.status(), e.what());
  } catch (const ControlError& e) {
    return ApiResponse::json_error(http_status(e.refusal()), e.what());
  } catch (const std::exception& e) {
    return ApiResponse::json_error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return ApiResponse::json_error(500, "internal error");
  }
}

ApiResponse ApiRouter::route(const ApiRequest& request) {
  if (request.host.empty()) {
    // HTTP/1.1 requires Host (RFC 9112 3.2), and the DNS-rebinding check below needs it.
    throw ApiError(400, "the request has no Host header: the API only answers requests "
                        "addressed to 127.0.0.1, ::1 or localhost");
  }
  if (!is_loopback_host_header(request.host)) {
    throw ApiError(403, "Host \"" + printable(request.host) +
                            "\" is not a loopback name: the API only "
                        "answers requests addressed to 127.0.0.1, ::1 or localhost");
  }
  const std::string& m = request.method;
  const bool mutating = m == "POST" || m == "DELETE" || m == "PUT" || m == "PATCH";
  if (mutating && !is_json_content_type(request.content_type)) {
    throw ApiError(415, m + " requests need \"Content-Type: application/json\" (got \"" +
                            printable(request.content_type) + "\")");
  }
  const auto parts = split_path(request.path);
  const auto is = [&](std::initializer_list<std::string_view> want) {
    return parts.size() == want.size() && std::equal(want.begin(), want.end(), parts.begin());
  };

  if (is({"status"})) {
    if (m != "GET") return method_not_allowed(m, printable(request.path), "GET");
    return json_response(200, reports_.status());
  }
  if (is({"health"})) {
    if (m != "GET") return method_not_allowed(m, printable(request.path), "GET");
    const HealthReport report = reports_.health();
    // 503 so that plain HTTP checkers (curl -f, load balancers) see an unhealthy box as down.
    return json_response(report.healthy ? 200 : 503, report.to_json());
  }
  if (is({"stats"})) {
    if (m != "GET") return method_not_allowed(m, printable(request.path), "GET");
    return json_response(200, reports_.stats());
  }
  if (is({"metrics"})) {
    if (m != "GET") return method_not_allowed(m, printable(request.path), "GET");
    ApiResponse r;
    r.body = reports_.metrics();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (is({"reload"})) {
    if (m != "POST") return method_not_allowed(m, printable(request.path), "POST");
    return json_response(200, control_.reload("api"));
  }
  if (is({"hosts"})) {
    if (m == "GET") return json_response(200, control_.hosts_json());
    if (m == "POST") return json_response(201, control_.add_host(parse_body(request, "host")));
    return method_not_allowed(m, printable(request.path), "GET, POST");
  }
  if (parts.size() == 2 && parts[0] == "hosts") {
    if (m != "GET" && m != "DELETE") {
      return method_not_allowed(m, printable(request.path), "GET, DELETE");
    }
    const IpAddress address = path_address(parts[1]);
    if (m == "GET") return json_response(200, control_.host_json(address));
    return json_response(200, control_.remove_host(address));
  }
  if (parts.size() == 3 && parts[0] == "hosts" && parts[2] == "protect") {
    if (m != "POST") return method_not_allowed(m, printable(request.path), "POST");
    const IpAddress address = path_address(parts[1]);
    const nlohmann::json body = parse_body(request, "");
    const auto it = body.is_object() ? body.find("protection") : body.end();
    if (!body.is_object() || it == body.end() || !it->is_boolean() || body.size() != 1) {
      throw ApiError(400, "expected {\"protection\": true} or {\"protection\": false}");
    }
    return json_response(200, control_.set_protection(address, it->get<bool>()));
  }
  if (parts.size() == 3 && parts[0] == "hosts" && parts[2] == "mode") {
    if (m != "POST") return method_not_allowed(m, printable(request.path), "POST");
    const IpAddress address = path_address(parts[1]);
    const nlohmann::json body = parse_body(request, "");
    const auto it = body.is_object() ? body.find("mode") : body.end();
    const auto mode = it != body.end() && it->is_string()
                          ? parse_host_mode(it->get<std::string>())
                          : std::nullopt;
    if (!mode || body.size() != 1) {
      throw ApiError(400, std::string("expected {\"mode\": M} with M one of ") +
                              kHostModeChoices);
    }
    return json_response(200, control_.set_mode(address, *mode));
  }
  if (parts.size() == 2 && parts[0] == "lists") {
    const auto kind = parse_list_kind(parts[1]);
    if (!kind) {
      throw ApiError(404, "no such list: \"" + printable(parts[1]) + "\" (lists: allow, deny)");
    }
    if (m == "GET") return json_response(200, control_.list_json(*kind));
    if (m == "POST") {
      return json_response(200, control_.change_list(*kind, parse_body(request, "list"), true));
    }
    if (m == "DELETE") {
      return json_response(200, control_.change_list(*kind, parse_body(request, "list"), false));
    }
    return method_not_allowed(m, printable(request.path), "GET, POST, DELETE");
  }
  throw ApiError(404, "no such resource: " + printable(request.path) +
                          " (see GET /status, /health, /hosts, /lists/allow, /lists/deny, "
                          "/stats, /metrics; POST /reload)");
}

}  // namespace synwarden::daemon
