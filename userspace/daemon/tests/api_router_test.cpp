// Specification of the local HTTP API: routes, statuses and error bodies, the browser guards
// (Host header, Content-Type), called directly on the router and through a real cpp-httplib
// server on 127.0.0.1 with a real client (body limit 413, JSON errors from the library's own
// refusals, loopback-only binding).
#include "api_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_server.h"
#include "api_test_support.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::string_literals;

ApiRequest request(std::string method, std::string path, std::string body = {},
                   std::string content_type = "application/json") {
  ApiRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  r.host = "127.0.0.1:9477";
  return r;
}

std::string error_of(const ApiResponse& r) { return json::parse(r.body).value("error", ""); }

class ApiRouterTest : public ::testing::Test {
 protected:
  FakeApi api_;
  ApiRouter router_{api_, api_};
};

TEST_F(ApiRouterTest, EachRouteCallsTheControlApiAndReturnsItsJson) {
  EXPECT_EQ(router_.handle(request("GET", "/status")).status, 200);
  EXPECT_EQ(router_.handle(request("GET", "/hosts")).status, 200);
  EXPECT_EQ(router_.handle(request("GET", "/hosts/2001:db8::10")).status, 200);
  const ApiResponse added =
      router_.handle(request("POST", "/hosts", R"({"address":"192.0.2.11"})"));
  EXPECT_EQ(added.status, 201) << "POST /hosts creates";
  EXPECT_EQ(json::parse(added.body)["host"]["address"], "192.0.2.11");
  EXPECT_EQ(router_.handle(request("DELETE", "/hosts/192.0.2.11")).status, 200);
  EXPECT_EQ(router_.handle(request("POST", "/hosts/192.0.2.10/protect", R"({"protection":false})"))
                .status,
            200);
  EXPECT_EQ(
      router_.handle(request("POST", "/hosts/192.0.2.10/mode", R"({"mode":"monitor"})")).status,
      200);
  EXPECT_EQ(router_.handle(request("GET", "/stats")).status, 200);
  EXPECT_EQ(router_.handle(request("POST", "/reload", "{}")).status, 200);
  EXPECT_EQ(api_.calls, (std::vector<std::string>{
                            "status", "list", "get 2001:db8::10", R"(add {"address":"192.0.2.11"})",
                            "remove 192.0.2.11", "protect 192.0.2.10 off",
                            "mode 192.0.2.10 monitor", "stats", "reload"}));
  const ApiResponse metrics = router_.handle(request("GET", "/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics.body, "# HELP x y\n# TYPE x gauge\nx 1\n");
}

TEST_F(ApiRouterTest, BadRequestsGetA4xxJsonErrorAndReachNothing) {
  struct Case {
    ApiRequest req;
    int status;
    const char* error;
  };
  const std::vector<Case> cases = {
      {request("GET", "/nope"), 404, "no such resource: /nope"},
      {request("GET", "/hosts/192.0.2.10/protect/extra"), 404, "no such resource"},
      {request("PUT", "/status"), 405, "PUT is not supported on /status (allowed: GET)"},
      {request("GET", "/reload"), 405, "allowed: POST"},
      {request("GET", "/hosts/web1"), 400, "\"web1\" in the path is not an IPv4 or IPv6 address"},
      {request("POST", "/hosts", "{\"address\": "), 400, "the request body is not valid JSON"},
      {request("POST", "/hosts", ""), 400, "the request needs a JSON body"},
      {request("POST", "/hosts/192.0.2.10/protect", R"({"protection":"on"})"), 400,
       "expected {\"protection\": true}"},
      {request("POST", "/hosts/192.0.2.10/protect", R"({"protection":true,"x":1})"), 400,
       "expected {\"protection\": true}"},
      {request("POST", "/hosts/192.0.2.10/protect", "[]"), 400, "expected {\"protection\""},
      {request("POST", "/hosts/192.0.2.10/mode", R"({"mode":"block"})"), 400,
       "expected {\"mode\": M} with M one of \"protect\", \"pass\", \"monitor\" or \"auto\""},
      {request("POST", "/hosts/192.0.2.10/mode", R"({"mode":true})"), 400, "expected {\"mode\""},
      {request("POST", "/hosts/192.0.2.10/mode", R"({"mode":"auto","x":1})"), 400,
       "expected {\"mode\""},
      {request("POST", "/hosts/192.0.2.10/mode", R"({"protection":true})"), 400,
       "expected {\"mode\""},
      {request("GET", "/hosts/192.0.2.10/mode"), 405, "allowed: POST"},
      {request("POST", "/hosts/web1/mode", R"({"mode":"auto"})"), 400, "not an IPv4 or IPv6"},
      {request("POST", "/reload", "", "text/plain"), 415, "need \"Content-Type: application/json\""},
      {request("DELETE", "/hosts/192.0.2.10", "", ""), 415, "Content-Type: application/json"},
  };
  for (const Case& c : cases) {
    const ApiResponse r = router_.handle(c.req);
    EXPECT_EQ(r.status, c.status) << c.req.method << " " << c.req.path;
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_THAT(error_of(r), HasSubstr(c.error)) << c.req.method << " " << c.req.path;
  }
  EXPECT_TRUE(api_.calls.empty()) << "no refused request reached the control plane";
  const ApiResponse not_allowed = router_.handle(request("DELETE", "/hosts"));
  EXPECT_EQ(not_allowed.allow, "GET, POST") << "a 405 names the allowed methods";
}

TEST_F(ApiRouterTest, ControlPlaneRefusalsKeepTheirStatusAndFailuresBecome500) {
  const ApiResponse conflict =
      router_.handle(request("POST", "/hosts", R"({"address":"192.0.2.99"})"));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(error_of(conflict), "already protected");
  api_.reload_fails = true;
  const ApiResponse refused = router_.handle(request("POST", "/reload", "{}"));
  EXPECT_EQ(refused.status, 422);
  EXPECT_THAT(error_of(refused), HasSubstr("config key 'x'"));
  const ApiResponse failed = router_.handle(request("DELETE", "/hosts/192.0.2.98"));
  EXPECT_EQ(failed.status, 500);
  EXPECT_THAT(error_of(failed), HasSubstr("map on fire"));
}

TEST_F(ApiRouterTest, OnlyLoopbackHostHeadersAreAnswered) {
  // A page on evil.example that rebinds its name to 127.0.0.1 still sends its own name.
  ApiRequest rebinding = request("GET", "/status");
  rebinding.host = "evil.example:9477";
  EXPECT_EQ(router_.handle(rebinding).status, 403);
  for (const char* host : {"127.0.0.1:9477", "127.0.0.1", "localhost:9477", "[::1]:9477",
                           "LOCALHOST"}) {
    ApiRequest ok = request("GET", "/status");
    ok.host = host;
    EXPECT_EQ(router_.handle(ok).status, 200) << "Host: " << host;
  }
  EXPECT_FALSE(is_loopback_host_header("192.0.2.1:9477"));
  EXPECT_FALSE(is_loopback_host_header("[2001:db8::1]:9477"));
}

TEST_F(ApiRouterTest, ARequestWithoutHostOrWithGarbageAfterTheHostIsRefused) {
  ApiRequest none = request("POST", "/hosts/192.0.2.10/protect", R"({"protection":false})");
  none.host = "";
  const ApiResponse r = router_.handle(none);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(error_of(r), HasSubstr("no Host header"));
  for (const std::string& host :
       std::vector<std::string>{"localhost:9477x", "127.0.0.1:", "localhost:9477\0.evil"s,
                                "127.0.0.1\0.evil.example"s, "[::1]x", "127.0.0.1:1234567"}) {
    ApiRequest bad = request("GET", "/status");
    bad.host = host;
    EXPECT_EQ(router_.handle(bad).status, 403) << "Host: " << host;
  }
  EXPECT_TRUE(api_.calls.empty());
}

TEST_F(ApiRouterTest, ANulInThePathAddressIsRefusedNotTruncated) {
  // What the HTTP layer hands over after decoding "/hosts/198.51.100.10%00/protect".
  for (const ApiRequest& r :
       {request("POST", "/hosts/198.51.100.10\0/protect"s, R"({"protection":false})"),
        request("DELETE", "/hosts/198.51.100.10\0"s), request("GET", "/hosts/2001:db8::10\0x"s),
        request("POST", "/hosts/198.51.100.10 /protect", R"({"protection":false})")}) {
    const ApiResponse answer = router_.handle(r);
    EXPECT_EQ(answer.status, 400) << r.method << " " << r.path;
    EXPECT_THAT(error_of(answer), HasSubstr("in the path is not an IPv4 or IPv6 address"));
  }
  EXPECT_TRUE(api_.calls.empty()) << "no state was changed";
}

TEST_F(ApiRouterTest, ANulInABodyStringIsRefusedWithTheKeyPath) {
  const ApiResponse r = router_.handle(request(
      "POST", "/hosts", R"({"address": "198.51.100.25\u0000x", "mac": "02:00:5e:00:53:01"})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(error_of(r), HasSubstr("'host.address'"));
  EXPECT_THAT(error_of(r), HasSubstr("NUL"));
  EXPECT_TRUE(api_.calls.empty());
}

TEST_F(ApiRouterTest, DuplicateKeysInABodyAreRefusedNamingTheKey) {
  const ApiResponse protect = router_.handle(request(
      "POST", "/hosts/192.0.2.10/protect", R"({"protection": true, "protection": false})"));
  EXPECT_EQ(protect.status, 400);
  EXPECT_THAT(error_of(protect), HasSubstr("duplicate key 'protection'"));
  const ApiResponse add = router_.handle(request(
      "POST", "/hosts",
      R"({"address": "192.0.2.11", "policy": {"fail": "open", "fail": "closed"}})"));
  EXPECT_EQ(add.status, 400);
  EXPECT_THAT(error_of(add), HasSubstr("duplicate key 'host.policy.fail'"));
  EXPECT_TRUE(api_.calls.empty()) << "no state was changed";
}

// The same router behind the real server, reached by a real client over loopback.
class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest() {
    ApiConfig config;
    config.port = 0;  // any free port
    config.max_body_bytes = 2048;
    server_ = std::make_unique<ApiServer>(
        config, [this](const ApiRequest& r) { return router_.handle(r); });
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  FakeApi api_;
  ApiRouter router_{api_, api_};
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiServerTest, ServesJsonAndMetricsOverLoopback) {
  auto status = client_->Get("/status");
  ASSERT_TRUE(status) << httplib::to_string(status.error());
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(status->body)["ok"], true);
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto protect = client_->Post("/hosts/2001:db8::10/protect", R"({"protection":true})",
                               "application/json");
  ASSERT_TRUE(protect);
  EXPECT_EQ(protect->status, 200);
  EXPECT_EQ(api_.calls.back(), "protect 2001:db8::10 on");
  auto wrong = client_->Patch("/status", "{}", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET");
}

TEST_F(ApiServerTest, ABodyOverTheLimitIsRefusedWith413AndAJsonError) {
  const std::string big = "{\"address\":\"" + std::string(4096, 'x') + "\"}";
  auto r = client_->Post("/hosts", big, "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 413);
  EXPECT_THAT(json::parse(r->body).value("error", ""), HasSubstr("too large"));
  EXPECT_TRUE(api_.calls.empty()) << "the body never reached the router";
  auto small = client_->Post("/hosts", R"({"address":"192.0.2.11"})", "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 201) << "the server still serves after refusing";
}

TEST(ApiServer, RefusesANonLoopbackAddressAndReportsAPortInUse) {
  ApiConfig outside;
  outside.address = *IpAddress::parse("192.0.2.1");
  EXPECT_THROW(ApiServer(outside, [](const ApiRequest&) { return ApiResponse{}; }),
               std::runtime_error);
  ApiConfig any;
  any.port = 0;
  ApiServer first(any, [](const ApiRequest&) { return ApiResponse{}; });
  ApiConfig same;
  same.port = first.port();
  try {
    ApiServer second(same, [](const ApiRequest&) { return ApiResponse{}; });
    FAIL() << "a second server bound the same port (SO_REUSEPORT must not be set)";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("Address already in use"));
    EXPECT_THAT(e.what(), HasSubstr("port " + std::to_string(first.port())));
  }
}

TEST(ApiServer, StopsPromptlyWhetherStartedOrNot) {
  ApiConfig any;
  any.port = 0;
  ApiServer never_started(any, [](const ApiRequest&) { return ApiResponse{}; });
  never_started.stop();
  ApiServer started(any, [](const ApiRequest&) { return ApiResponse{}; });
  started.start();
  httplib::Client client("127.0.0.1", started.port());
  ASSERT_TRUE(client.Get("/status"));  // a keep-alive connection stays open
  const auto t0 = std::chrono::steady_clock::now();
  started.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace synwarden::daemon
