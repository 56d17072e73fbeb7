#include "http_request.h"

#include <algorithm>
#include <cctype>

namespace synwarden::daemon {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// RFC 9110 token characters (header names).
bool is_tchar(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex(in[i + 1]);
    const int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

HttpRequestParser::State HttpRequestParser::fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  keep_alive_ = false;
  state_ = State::kError;
  return state_;
}

HttpRequestParser::State HttpRequestParser::feed(std::string_view bytes) {
  if (state_ == State::kError) return state_;
  buffer_.append(bytes);
  if (state_ == State::kDone) return state_;
  return parse();
}

HttpRequestParser::State HttpRequestParser::next() {
  if (state_ == State::kError) return state_;
  request_ = ApiRequest{};
  version_.clear();
  content_length_ = 0;
  has_content_length_ = has_transfer_encoding_ = has_host_ = false;
  connection_close_ = connection_keep_alive_ = expect_continue_ = false;
  keep_alive_ = true;
  scanned_ = 0;
  state_ = State::kHeaders;
  return buffer_.empty() ? state_ : parse();
}

HttpRequestParser::State HttpRequestParser::parse() {
  if (state_ == State::kHeaders) {
    // Every line ends in CRLF; a bare LF is refused at once rather than waited out.
    size_t end = std::string::npos;
    for (size_t i = scanned_; i < buffer_.size(); ++i) {
      if (buffer_[i] != '\n') continue;
      if (i == 0 || buffer_[i - 1] != '\r')
        return fail(400, "a line of the request ends in a bare LF (lines end in CRLF)");
      if (i >= 3 && buffer_[i - 2] == '\n' && buffer_[i - 3] == '\r') {
        end = i + 1;
        break;
      }
    }
    if (end == std::string::npos) {
      scanned_ = buffer_.size();
      if (buffer_.size() > kHttpMaxHeaderBytes) {
        if (buffer_.find("\r\n") == std::string::npos) {
          return fail(414,
                      "request line longer than " + std::to_string(kHttpMaxHeaderBytes) + " bytes");
        }
        return fail(
            431, "request headers longer than " + std::to_string(kHttpMaxHeaderBytes) + " bytes");
      }
      return state_;
    }
    if (end > kHttpMaxHeaderBytes) {
      return fail(431,
                  "request headers longer than " + std::to_string(kHttpMaxHeaderBytes) + " bytes");
    }
    const std::string_view head(buffer_.data(), end - 4);  // without the final CRLF CRLF
    size_t line_start = 0;
    bool first = true;
    while (line_start <= head.size()) {
      size_t line_end = head.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = head.size();
      const std::string_view line = head.substr(line_start, line_end - line_start);
      if (first ? !parse_request_line(line) : !parse_header(line)) return state_;
      first = false;
      line_start = line_end + 2;
    }
    buffer_.erase(0, end);
    if (!finish_headers()) return state_;
    state_ = State::kBody;
  }
  if (state_ == State::kBody && buffer_.size() >= content_length_) {
    request_.body = buffer_.substr(0, content_length_);
    buffer_.erase(0, content_length_);
    state_ = State::kDone;
  }
  return state_;
}

bool HttpRequestParser::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "malformed request line (expected METHOD /path HTTP/1.1)");
    return false;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  version_ = std::string(line.substr(sp2 + 1));
  if (method.empty() || method.size() > 16 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    fail(400, "malformed request method");
    return false;
  }
  if (version_ != "HTTP/1.1" && version_ != "HTTP/1.0") {
    if (version_.rfind("HTTP/", 0) == 0)
      fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
    else
      fail(400, "malformed request line (expected METHOD /path HTTP/1.1)");
    return false;
  }
  if (target.empty() || target.front() != '/') {
    fail(400, "the request target must be a path starting with /");
    return false;
  }
  const std::string_view raw_path = target.substr(0, target.find('?'));
  if (!percent_decode(raw_path, request_.path)) {
    fail(400, "the path has a malformed %-escape");
    return false;
  }
  if (std::any_of(request_.path.begin(), request_.path.end(),
                  [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
    fail(400, "the path holds a NUL or control byte (such as %00): no address or name has one");
    return false;
  }
  request_.method = std::string(method);
  return true;
}

bool HttpRequestParser::parse_header(std::string_view line) {
  if (line.empty() || line.front() == ' ' || line.front() == '\t') {
    fail(400, "malformed header line (folded or empty)");
    return false;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                   [](char c) { return is_tchar(static_cast<unsigned char>(c)); })) {
    fail(400, "malformed header line (expected Name: value)");
    return false;
  }
  const std::string name = lower(line.substr(0, colon));
  const std::string_view value = trim(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(),
                  [](char c) { return c != '\t' && is_control(static_cast<unsigned char>(c)); })) {
    fail(400, "header " + name + " holds a NUL or control byte");
    return false;
  }
  if (name == "host") {
    if (has_host_) {
      fail(400, "two Host headers");
      return false;
    }
    has_host_ = true;
    request_.host = std::string(value);
  } else if (name == "content-length") {
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      fail(400,
           "Content-Length must be a decimal number of bytes, got \"" + std::string(value) + "\"");
      return false;
    }
    const size_t length = std::stoull(std::string(value));
    if (has_content_length_ && length != content_length_) {
      fail(400, "two different Content-Length headers");
      return false;
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (name == "transfer-encoding") {
    has_transfer_encoding_ = true;
  } else if (name == "content-type") {
    if (!request_.content_type.empty()) {
      fail(400, "two Content-Type headers");
      return false;
    }
    request_.content_type = std::string(value);
  } else if (name == "connection") {
    const std::string tokens = lower(value);
    if (tokens.find("close") != std::string::npos) connection_close_ = true;
    if (tokens.find("keep-alive") != std::string::npos) connection_keep_alive_ = true;
  } else if (name == "expect") {
    if (lower(value) != "100-continue") {
      fail(417, "only \"Expect: 100-continue\" is understood");
      return false;
    }
    expect_continue_ = true;
  }
  return true;
}

bool HttpRequestParser::finish_headers() {
  keep_alive_ =
      version_ == "HTTP/1.1" ? !connection_close_ : connection_keep_alive_ && !connection_close_;
  if (has_transfer_encoding_) {
    if (has_content_length_)
      fail(400, "both Content-Length and Transfer-Encoding");
    else
      fail(501, "Transfer-Encoding is not accepted: send the body with a Content-Length");
    return false;
  }
  if (content_length_ > max_body_bytes_) {
    fail(413, "request body too large: Content-Length " + std::to_string(content_length_) +
                  " is over api.max_body_bytes (" + std::to_string(max_body_bytes_) + ")");
    return false;
  }
  expect_continue_ = expect_continue_ && content_length_ > 0;
  return true;
}

std::string http_response_bytes(const ApiResponse& response, bool close) {
  std::string out =
      "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (!response.allow.empty()) out += "Allow: " + response.allow + "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += response.body;
  return out;
}

}  // namespace synwarden::daemon
