#include "api_options.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

namespace synwarden::ctl {

void add_api_options(CLI::App* command, ApiOptions& options) {
  command->add_option("--api", options.url,
                      "The daemon's API, http://HOST:PORT; several boxes: URL,URL,...")
      ->envname("SYNWARDEN_API")
      ->capture_default_str();
  command->add_flag("--json", options.json, "Print the API's JSON instead of a table");
}

namespace {

bool valid_host_port(const std::string& rest) {
  // rest = HOST[:PORT], HOST = name | IPv4 | [IPv6]
  std::string host = rest;
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos || close == 1) return false;
    host = rest.substr(1, close - 1);
    const std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
    if (!std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; })) {
      return false;
    }
  } else {
    if (const auto colon = rest.find(':'); colon != std::string::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '.' || c == '-';
        })) {
      return false;
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return false;
    }
    const long value = std::stol(port);
    if (value < 1 || value > 65535) return false;
  }
  return true;
}

// Redirects stdout into a temporary file while a box's command runs, so its lines can be
// prefixed: the commands print through stdio, and this keeps every command's printer unchanged.
class StdoutCapture {
 public:
  StdoutCapture() : file_(std::tmpfile()) {
    if (file_ == nullptr) throw std::runtime_error("cannot create a temporary file for output");
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    if (saved_ < 0 || ::dup2(::fileno(file_), STDOUT_FILENO) < 0) {
      restore();
      std::fclose(file_);
      throw std::runtime_error("cannot redirect standard output for --api lists");
    }
  }
  ~StdoutCapture() {
    restore();
    if (file_ != nullptr) std::fclose(file_);
  }
  StdoutCapture(const StdoutCapture&) = delete;
  StdoutCapture& operator=(const StdoutCapture&) = delete;

  // Restores stdout and returns what was printed meanwhile.
  std::string finish() {
    restore();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  void restore() noexcept {
    if (saved_ < 0) return;
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_ = -1;
};

void print_prefixed(std::FILE* to, const std::string& prefix, const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::fprintf(to, "%s%.*s\n", prefix.c_str(), static_cast<int>(end - start),
                 text.data() + start);
    start = end + 1;
  }
}

}  // namespace

std::vector<std::string> parse_api_urls(const std::string& text) {
  std::vector<std::string> urls;
  size_t start = 0;
  size_t index = 1;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string entry =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::string where = "--api entry " + std::to_string(index) + " \"" + entry + "\"";
    if (entry.empty()) {
      throw CLI::ValidationError("--api", "entry " + std::to_string(index) +
                                              " is empty; expected URL[,URL...], each "
                                              "http://HOST:PORT");
    }
    while (entry.size() > 7 && entry.back() == '/') entry.pop_back();
    const std::string scheme = "http://";
    if (entry.rfind(scheme, 0) != 0 || !valid_host_port(entry.substr(scheme.size()))) {
      throw CLI::ValidationError(where + " is not http://HOST[:PORT] (HOST a name, an IPv4 "
                                         "address or [IPv6]; no path, user or https)");
    }
    if (std::find(urls.begin(), urls.end(), entry) != urls.end()) {
      throw CLI::ValidationError(where + " names the same box twice");
    }
    urls.push_back(entry);
    if (comma == std::string::npos) break;
    start = comma + 1;
    ++index;
  }
  return urls;
}

void run_on_boxes(const ApiOptions& options, const std::function<int(ApiClient&)>& body,
                  int failure_status) {
  const std::vector<std::string> urls = parse_api_urls(options.url);
  int worst = 0;
  if (urls.size() == 1) {
    try {
      ApiClient api(urls.front());
      worst = body(api);
    } catch (const std::exception& e) {
      if (failure_status == 1) throw;
      std::cerr << "synwardenctl: " << e.what() << "\n";
      worst = failure_status;
    }
  } else {
    for (const auto& url : urls) {
      int status = 0;
      std::optional<std::string> error;
      StdoutCapture capture;
      try {
        ApiClient api(url);
        status = body(api);
      } catch (const std::exception& e) {
        error = e.what();
        status = failure_status;
      }
      print_prefixed(stdout, url + ": ", capture.finish());
      std::fflush(stdout);
      if (error) print_prefixed(stderr, url + ": synwardenctl: ", *error);
      worst = std::max(worst, status);
    }
  }
  if (worst != 0) throw ExitStatus{worst};
}

void print_json(const nlohmann::json& value) { std::printf("%s\n", value.dump(2).c_str()); }

}  // namespace synwarden::ctl
