// Specification of the API's HTTP/1.1 request parser (http_request.h): what it refuses, and
// that it refuses it as soon as the bytes show it (a declared 10 GB body is refused at the end
// of the headers, never waited for).
#include "http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace synwarden::daemon {
namespace {

using State = HttpRequestParser::State;
using namespace std::string_literals;

constexpr size_t kMaxBody = 65536;

struct Parsed {
  State state;
  int status;
  std::string message;
};

Parsed parse(const std::string& bytes) {
  HttpRequestParser p(kMaxBody);
  const State s = p.feed(bytes);
  return {s, p.error_status(), p.error_message()};
}

TEST(HttpRequest, ParsesARequestWithItsBodyAndHeaders) {
  HttpRequestParser p(kMaxBody);
  EXPECT_EQ(p.feed("POST /hosts/198.51.100.10/protect?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9477\r\n"
                   "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"),
            State::kBody);
  EXPECT_EQ(p.feed(R"({"protection": true})"), State::kDone);
  EXPECT_EQ(p.request().method, "POST");
  EXPECT_EQ(p.request().path, "/hosts/198.51.100.10/protect");
  EXPECT_EQ(p.request().host, "127.0.0.1:9477");
  EXPECT_EQ(p.request().content_type, "application/json");
  EXPECT_EQ(p.request().body, R"({"protection": true})");
  EXPECT_TRUE(p.keep_alive());
}

TEST(HttpRequest, ByteByByteIsTheSameAsAllAtOnce) {
  const std::string bytes = "GET /hosts/2001%3Adb8%3A%3A10 HTTP/1.1\r\nHost: localhost\r\n\r\n";
  HttpRequestParser p(kMaxBody);
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    ASSERT_EQ(p.feed(bytes.substr(i, 1)), State::kHeaders) << i;
  }
  EXPECT_EQ(p.feed(bytes.substr(bytes.size() - 1)), State::kDone);
  EXPECT_EQ(p.request().path, "/hosts/2001:db8::10");
}

TEST(HttpRequest, PipelinedRequestsAreParsedOneAfterTheOther) {
  HttpRequestParser p(kMaxBody);
  EXPECT_EQ(p.feed("GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n"
                   "GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
            State::kDone);
  EXPECT_EQ(p.request().path, "/status");
  EXPECT_EQ(p.next(), State::kDone);
  EXPECT_EQ(p.request().path, "/stats");
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.next(), State::kHeaders);
  EXPECT_FALSE(p.started());
}

TEST(HttpRequest, ANulOrControlByteInThePathIsRefused) {
  for (const char* target : {"/hosts/198.51.100.10%00/protect", "/hosts/198.51.100.10%00",
                             "/hosts/198.51.100.10%0a", "/hosts/%7f"}) {
    const Parsed r = parse("POST "s + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(r.state, State::kError) << target;
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.message.find("NUL or control byte"), std::string::npos) << target;
  }
  EXPECT_EQ(parse("GET /hosts/%0 HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /hosts/%zz HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 400);
}

TEST(HttpRequest, AHugeOrNegativeContentLengthIsRefusedAtTheEndOfTheHeaders) {
  const Parsed huge =
      parse("POST /hosts HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000000\r\n\r\n");
  EXPECT_EQ(huge.state, State::kError) << "refused without waiting for the body";
  EXPECT_EQ(huge.status, 413);
  EXPECT_NE(huge.message.find("api.max_body_bytes"), std::string::npos);
  EXPECT_EQ(
      parse("POST /hosts HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65537\r\n\r\n").status,
      413);
  for (const char* value :
       {"-1", "+5", "1e3", "5, 5", "", " ", "0x10", "99999999999999999999999"}) {
    const Parsed r =
        parse("POST /hosts HTTP/1.1\r\nHost: localhost\r\nContent-Length: "s + value + "\r\n\r\n");
    EXPECT_EQ(r.status, 400) << "Content-Length: " << value;
  }
  EXPECT_EQ(
      parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n").status,
      400);
}

TEST(HttpRequest, TransferEncodingIsRefused) {
  EXPECT_EQ(parse("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501);
  EXPECT_EQ(parse("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 3\r\n\r\n")
                .status,
            400);
}

TEST(HttpRequest, AmbiguousOrMalformedHeadersAreRefused) {
  EXPECT_EQ(parse("GET /status HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n").status,
            400);
  EXPECT_EQ(parse("GET /status HTTP/1.1\r\nHost: localhost\0.evil\r\n\r\n"s).status, 400);
  EXPECT_EQ(parse("GET /status HTTP/1.1\r\nHost : localhost\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /status HTTP/1.1\r\nHost: localhost\r\n folded\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /status HTTP/1.1\nHost: localhost\n\n").status, 400) << "bare LF";
  EXPECT_EQ(parse("GET /status HTTP/2.0\r\nHost: localhost\r\n\r\n").status, 505);
  EXPECT_EQ(parse("GET status HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET  /status HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 400);
  EXPECT_EQ(parse("get /status HTTP/1.1\r\nHost: localhost\r\n\r\n").status, 400);
  EXPECT_EQ(parse("POST /x HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n").status, 417);
}

TEST(HttpRequest, OversizedHeadersAreRefusedWithoutWaitingForTheirEnd) {
  EXPECT_EQ(parse("GET /" + std::string(kHttpMaxHeaderBytes, 'a')).status, 414);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX: " + std::string(kHttpMaxHeaderBytes, 'a')).status, 431);
}

TEST(HttpRequest, KeepAliveFollowsTheVersionAndConnectionHeader) {
  HttpRequestParser v10(kMaxBody);
  v10.feed("GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n");
  EXPECT_FALSE(v10.keep_alive());
  HttpRequestParser v10ka(kMaxBody);
  v10ka.feed("GET /status HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(v10ka.keep_alive());
  HttpRequestParser close(kMaxBody);
  close.feed("GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(close.keep_alive());
}

TEST(HttpRequest, ExpectContinueIsReportedForARequestWithABody) {
  HttpRequestParser p(kMaxBody);
  EXPECT_EQ(p.feed("POST /hosts HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                   "Expect: 100-continue\r\n\r\n"),
            State::kBody);
  EXPECT_TRUE(p.expects_continue());
}

TEST(HttpRequest, ResponsesCarryLengthTypeAllowAndClose) {
  ApiResponse r;
  r.status = 405;
  r.body = "{}";
  r.allow = "GET";
  EXPECT_EQ(http_response_bytes(r, true),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nAllow: GET\r\nConnection: close\r\n\r\n{}");
}

}  // namespace
}  // namespace synwarden::daemon
