// Options every API command takes: --api URL[,URL...] (default the daemon's default address, or
// $SYNWARDEN_API with the same syntax; the flag wins) and --json (print the API's JSON instead
// of a table, for scripts).
//
// Several URLs run the command once per box, in the order given: every line a box prints is
// prefixed with "URL: " and its errors go to stderr with the same prefix; the exit status is the
// worst of the boxes' (so `synwardenctl health --api A,B` fails if either box is unhealthy).
// The daemon answers only requests addressed to a loopback name, so remote boxes are reached
// through SSH tunnels (ssh -L 19477:127.0.0.1:9477 box-a) or a local forwarder.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "api_client.h"

namespace synwarden::ctl {

struct ApiOptions {
  std::string url = kDefaultApiUrl;
  bool json = false;
};

void add_api_options(CLI::App* command, ApiOptions& options);

// Splits "URL[,URL...]" into the boxes' URLs. Each entry must be http://HOST[:PORT] (HOST a
// name, an IPv4 address or a bracketed IPv6 address), without path, query or credentials; an
// empty entry or a URL given twice is refused. Throws CLI::ValidationError naming the entry.
std::vector<std::string> parse_api_urls(const std::string& text);

// The exit status a command wants (main returns it); thrown by run_on_boxes when it is not 0.
struct ExitStatus {
  int code;
};

// Runs `body` once per box of options.url; `body` returns the box's exit status (0 fine).
// A box whose call throws (unreachable, refused) gets `failure_status` and its error on stderr.
// One box: output as is and its failure rethrown (main prints it, exit 1) unless
// failure_status differs from 1. Throws ExitStatus{worst} if any box's status is not 0.
void run_on_boxes(const ApiOptions& options, const std::function<int(ApiClient&)>& body,
                  int failure_status = 1);

// Prints a JSON value for --json output: pretty, one document, newline-terminated.
void print_json(const nlohmann::json& value);

}  // namespace synwarden::ctl
