// The local API's HTTP/1.1 wire format, without sockets: an incremental request parser that
// refuses what the API must never act on, and the response writer. api_server.cpp feeds it the
// bytes of one connection; tests feed it strings.
//
// Refused (status, then the connection is closed):
//   400  malformed request line or header, a NUL or control byte in the decoded path or in a
//        header, a bad %-escape, two Host headers, Content-Length that is not one decimal
//        number ("-1", "1e3", two different values), Content-Length together with
//        Transfer-Encoding
//   413  Content-Length above the body limit, answered as soon as the headers are read (the
//        body is never waited for)
//   414  request line longer than the header limit
//   431  request line and headers longer than the header limit (8 KiB)
//   501  Transfer-Encoding (chunked bodies are not accepted: send Content-Length)
//   505  a version other than HTTP/1.0 and HTTP/1.1
// A missing Host header is the router's to refuse (api_router.h), so it is tested without
// sockets too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "api_types.h"

namespace synwarden::daemon {

inline constexpr size_t kHttpMaxHeaderBytes = 8192;

class HttpRequestParser {
 public:
  enum class State { kHeaders, kBody, kDone, kError };

  explicit HttpRequestParser(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

  // Appends bytes of the connection and parses as far as they go. After kDone, bytes beyond the
  // request stay buffered for the next one (pipelining): call next() to parse them.
  State feed(std::string_view bytes);
  // Drops the finished request and parses any buffered bytes as the start of the next one.
  State next();

  State state() const noexcept { return state_; }
  // True once any byte of the current request arrived (an idle keep-alive connection has none).
  bool started() const noexcept { return !buffer_.empty() || state_ != State::kHeaders; }
  // The client sent "Expect: 100-continue" and waits for the interim response before the body.
  bool expects_continue() const noexcept { return expect_continue_; }

  const ApiRequest& request() const noexcept { return request_; }
  bool keep_alive() const noexcept { return keep_alive_; }
  int error_status() const noexcept { return error_status_; }
  const std::string& error_message() const noexcept { return error_message_; }

 private:
  State parse();
  State fail(int status, std::string message);
  bool parse_request_line(std::string_view line);
  bool parse_header(std::string_view line);
  bool finish_headers();

  size_t max_body_bytes_;
  std::string buffer_;
  size_t scanned_ = 0;  // bytes of buffer_ already searched for the end of the headers
  State state_ = State::kHeaders;
  ApiRequest request_;
  std::string version_;
  size_t content_length_ = 0;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  bool has_host_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool expect_continue_ = false;
  bool keep_alive_ = true;
  int error_status_ = 0;
  std::string error_message_;
};

// The bytes of a response: status line, Content-Type, Content-Length, Allow if set, and
// "Connection: close" when `close` (the server then closes after writing).
std::string http_response_bytes(const ApiResponse& response, bool close);

// "%2F" -> "/"; false for a truncated or non-hex escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace synwarden::daemon
