#include "api_client.h"

#include <httplib.h>

#include "synwarden/strict_json.h"

namespace synwarden::ctl {

namespace {

constexpr const char* kJson = "application/json";

}  // namespace

struct ApiClient::Impl {
  explicit Impl(const std::string& url) : client(url) {
    client.set_connection_timeout(2, 0);
    // A /metrics or /stats answer walks the flow table; reloads read files: allow some time.
    client.set_read_timeout(30, 0);
    client.set_write_timeout(5, 0);
  }
  httplib::Client client;

  // `also_ok`: a non-2xx status that is an answer rather than a failure (0: none).
  std::string finish(const std::string& request, const std::string& url, httplib::Result r,
                     int also_ok = 0, int* status = nullptr) {
    if (!r) {
      throw ApiCallError(request + " on " + url + ": cannot get an answer (" +
                             httplib::to_string(r.error()) +
                             ") - is synwarden running, and is --api its api.address/api.port?",
                         0);
    }
    if (status != nullptr) *status = r->status;
    if ((r->status < 200 || r->status > 299) && r->status != also_ok) {
      std::string why = r->body;
      try {
        const auto body = nlohmann::json::parse(r->body);
        if (body.is_object() && body.contains("error")) why = body["error"].get<std::string>();
      } catch (const std::exception&) {
        // Not JSON: show the body as it is.
      }
      throw ApiCallError(request + " on " + url + ": " + std::to_string(r->status) + " " + why,
                         r->status);
    }
    return r->body;
  }
};

ApiClient::ApiClient(std::string url) : url_(std::move(url)) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  impl_ = std::make_unique<Impl>(url_);
  if (!impl_->client.is_valid()) {
    throw ApiCallError("--api " + url_ + " is not a usable URL (expected http://HOST:PORT)", 0);
  }
}

ApiClient::~ApiClient() = default;

namespace {

nlohmann::json parse_json(const std::string& request, const std::string& body) {
  try {
    return parse_json_strict(body);
  } catch (const JsonInputError& e) {  // a repeated key or a NUL: not what the daemon sends
    throw ApiCallError(request + ": the answer is ambiguous JSON: " + e.what(), 0);
  } catch (const nlohmann::json::exception& e) {  // also out_of_range: "1e400"
    throw ApiCallError(request + ": the answer is not JSON: " + e.what(), 0);
  }
}

}  // namespace

nlohmann::json ApiClient::get(const std::string& path) {
  const std::string request = "GET " + path;
  return parse_json(request, impl_->finish(request, url_, impl_->client.Get(path)));
}

std::pair<int, nlohmann::json> ApiClient::get_verdict(const std::string& path, int also_ok) {
  const std::string request = "GET " + path;
  int status = 0;
  nlohmann::json body =
      parse_json(request, impl_->finish(request, url_, impl_->client.Get(path), also_ok, &status));
  return {status, std::move(body)};
}

std::string ApiClient::get_text(const std::string& path) {
  return impl_->finish("GET " + path, url_, impl_->client.Get(path));
}

nlohmann::json ApiClient::post(const std::string& path, const nlohmann::json& body) {
  const std::string request = "POST " + path;
  return parse_json(request,
                    impl_->finish(request, url_, impl_->client.Post(path, body.dump(), kJson)));
}

nlohmann::json ApiClient::del(const std::string& path) {
  const std::string request = "DELETE " + path;
  return parse_json(request, impl_->finish(request, url_, impl_->client.Delete(path, "{}", kJson)));
}

nlohmann::json ApiClient::del(const std::string& path, const nlohmann::json& body) {
  const std::string request = "DELETE " + path;
  return parse_json(request,
                    impl_->finish(request, url_, impl_->client.Delete(path, body.dump(), kJson)));
}

}  // namespace synwarden::ctl
