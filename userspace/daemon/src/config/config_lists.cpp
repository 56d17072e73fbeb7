#include "config_lists.h"

#include <arpa/inet.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "config.h"
#include "json_reader.h"

namespace synwarden::daemon {

namespace {

unsigned width(bool v6) { return v6 ? 128u : 32u; }

std::string address_text(bool v6, const std::array<uint8_t, 16>& bytes) {
  return IpAddress::from_bytes(v6 ? IpAddress::Family::kIpv6 : IpAddress::Family::kIpv4,
                               bytes.data())
      .to_string();
}

bool host_bits_zero(const std::array<uint8_t, 16>& b, bool v6, unsigned length) {
  for (unsigned i = 0; i < width(v6) / 8; ++i) {
    const unsigned first = i * 8;
    const uint8_t beyond = first + 8 <= length ? 0
                           : first < length    ? static_cast<uint8_t>(0xffu >> (length - first))
                                               : 0xff;
    if (b[i] & beyond) return false;
  }
  return true;
}

void sort_unique(std::vector<ListPrefix>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

const char* list_kind_name(ListKindCfg kind) noexcept {
  return kind == ListKindCfg::kAllow ? "allow" : "deny";
}

std::optional<ListKindCfg> parse_list_kind(std::string_view text) {
  if (text == "allow") return ListKindCfg::kAllow;
  if (text == "deny") return ListKindCfg::kDeny;
  return std::nullopt;
}

std::string ListPrefix::prefix_text() const {
  return address_text(v6, prefix) + "/" + std::to_string(length);
}

std::string ListPrefix::host_text() const { return has_host ? address_text(v6, host) : ""; }

ListPrefix parse_list_prefix(const nlohmann::json& value, const std::string& path) {
  const std::string text = json_string(value, path);
  const auto slash = text.find('/');
  const std::string_view addr_part = std::string_view(text).substr(0, slash);
  const auto ip = IpAddress::parse(addr_part);
  if (!ip) {
    throw_config_error(path, "\"" + text + "\" is not an IPv4 or IPv6 prefix (expected "
                             "198.51.100.0/24, 2001:db8::/32 or a single address)");
  }
  ListPrefix p;
  p.v6 = ip->family() == IpAddress::Family::kIpv6;
  p.prefix = ip->bytes();
  p.length = static_cast<uint8_t>(width(p.v6));
  if (slash != std::string::npos) {
    const std::string_view len = std::string_view(text).substr(slash + 1);
    const bool digits = !len.empty() && len.size() <= 3 &&
                        std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || (len.size() > 1 && len[0] == '0')) {
      throw_config_error(path, "\"" + text + "\": the prefix length must be a decimal number "
                               "without sign or leading zero");
    }
    const unsigned n = static_cast<unsigned>(std::stoul(std::string(len)));
    if (n > width(p.v6)) {
      throw_config_error(path, "\"" + text + "\": /" + std::to_string(n) + " is longer than " +
                                   (p.v6 ? "IPv6's 128" : "IPv4's 32") + " bits");
    }
    p.length = static_cast<uint8_t>(n);
  }
  if (!host_bits_zero(p.prefix, p.v6, p.length)) {
    throw_config_error(path, "\"" + text + "\" has address bits set beyond /" +
                                 std::to_string(p.length) + " (did you mean " +
                                 [&] {
                                   ListPrefix masked = p;
                                   for (unsigned i = 0; i < 16; ++i) {
                                     const unsigned first = i * 8;
                                     if (first >= p.length) masked.prefix[i] = 0;
                                     else if (first + 8 > p.length)
                                       masked.prefix[i] &= static_cast<uint8_t>(0xff00u >> (p.length - first));
                                   }
                                   return masked.prefix_text();
                                 }() + "?)");
  }
  return p;
}

void parse_list_group(const nlohmann::json& value, const std::string& path,
                      std::vector<ListPrefix>& out) {
  JsonObjectReader r(value, path);
  std::optional<IpAddress> host;
  if (const auto* h = r.find("host")) {
    const std::string text = json_string(*h, r.path_of("host"));
    host = IpAddress::parse(text);
    if (!host) throw_config_error(r.path_of("host"), "\"" + text + "\" is not an IPv4 or IPv6 address");
    const auto& b = host->bytes();
    if (std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; })) {
      throw_config_error(r.path_of("host"), "the all-zero address is no host (omit \"host\" "
                                            "for the global lists)");
    }
  }
  const auto& prefixes = json_array(r.require("prefixes"), r.path_of("prefixes"));
  out.reserve(out.size() + prefixes.size());
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const std::string item = r.path_of("prefixes") + "[" + std::to_string(i) + "]";
    ListPrefix p = parse_list_prefix(prefixes[i], item);
    if (host) {
      if ((host->family() == IpAddress::Family::kIpv6) != p.v6) {
        throw_config_error(item, p.prefix_text() + " is of another address family than host " +
                                     host->to_string() + " (an IPv4 host only sees IPv4 sources)");
      }
      p.has_host = true;
      p.host = host->bytes();
    }
    out.push_back(p);
  }
  r.reject_unknown_keys();
}

SourceLists parse_source_lists(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  SourceLists lists;
  for (const ListKindCfg kind : {ListKindCfg::kAllow, ListKindCfg::kDeny}) {
    const char* name = list_kind_name(kind);
    const auto* groups = r.find(name);
    if (groups == nullptr) continue;
    const auto& array = json_array(*groups, r.path_of(name));
    for (size_t i = 0; i < array.size(); ++i) {
      parse_list_group(array[i], r.path_of(name) + "[" + std::to_string(i) + "]", lists.of(kind));
    }
    sort_unique(lists.of(kind));
  }
  r.reject_unknown_keys();
  return lists;
}

nlohmann::json list_to_json(const std::vector<ListPrefix>& list) {
  // Groups by scope, global first (ListPrefix orders has_host = false first).
  nlohmann::json groups = nlohmann::json::array();
  std::string current_host = "?";
  for (const auto& p : list) {
    const std::string host = p.host_text();
    if (groups.empty() || host != current_host) {
      nlohmann::json g = nlohmann::json::object();
      if (p.has_host) g["host"] = host;
      g["prefixes"] = nlohmann::json::array();
      groups.push_back(std::move(g));
      current_host = host;
    }
    groups.back()["prefixes"].push_back(p.prefix_text());
  }
  return groups;
}

nlohmann::json source_lists_to_json(const SourceLists& lists) {
  return {{"allow", list_to_json(lists.allow)}, {"deny", list_to_json(lists.deny)}};
}

SynAckBudget parse_synack_budget(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  SynAckBudget b;
  b.pps = r.uint_or("pps", b.pps, 0, 1'000'000'000);
  b.burst = r.uint_or("burst", b.burst, 0, 1'000'000'000);
  b.prefix_v4 = static_cast<uint8_t>(r.uint_or("prefix_v4", b.prefix_v4, 1, 32));
  b.prefix_v6 = static_cast<uint8_t>(r.uint_or("prefix_v6", b.prefix_v6, 1, 128));
  r.reject_unknown_keys();
  return b;
}

nlohmann::json synack_budget_to_json(const SynAckBudget& b) {
  return {{"pps", b.pps}, {"burst", b.burst}, {"prefix_v4", b.prefix_v4}, {"prefix_v6", b.prefix_v6}};
}

ListCounts count_trie_entries(const SourceLists& lists) {
  // Both lists are sorted: merge them, counting a prefix held by both once.
  std::vector<ListPrefix> all;
  all.reserve(lists.allow.size() + lists.deny.size());
  std::set_union(lists.allow.begin(), lists.allow.end(), lists.deny.begin(), lists.deny.end(),
                 std::back_inserter(all));
  ListCounts c;
  for (const auto& p : all) (p.v6 ? c.v6 : c.v4)++;
  return c;
}

ListDiff diff_list(const std::vector<ListPrefix>& from, const std::vector<ListPrefix>& to) {
  ListDiff d;
  std::set_difference(to.begin(), to.end(), from.begin(), from.end(), std::back_inserter(d.added));
  std::set_difference(from.begin(), from.end(), to.begin(), to.end(), std::back_inserter(d.removed));
  return d;
}

}  // namespace synwarden::daemon
