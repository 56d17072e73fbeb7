#include "synwarden/strict_json.h"

#include <optional>
#include <set>
#include <vector>

namespace synwarden {
namespace {

using json = nlohmann::json;

// A SAX pass that keeps the key path of the value being read and each open object's keys.
class StrictChecker {
 public:
  explicit StrictChecker(std::string_view root) : root_(root) {}

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }
  bool string(json::string_t& text) {
    if (!value()) return false;
    if (text.find('\0') != std::string::npos) {
      return fail("the string at '" + path() +
                  "' contains a NUL byte (\\u0000): no name, "
                  "address or path may hold one");
    }
    return true;
  }
  bool start_object(std::size_t) {
    if (!value()) return false;
    frames_.push_back(Frame{true, {}, {}, 0});
    return true;
  }
  bool key(json::string_t& text) {
    Frame& top = frames_.back();
    if (text.find('\0') != std::string::npos) {
      top.key = "(a key with a NUL byte)";
      return fail("a key at '" + path() + "' contains a NUL byte (\\u0000)");
    }
    top.key = text;
    if (!top.keys.insert(text).second) {
      return fail("duplicate key '" + path() +
                  "': a JSON object must not repeat a key (which "
                  "of the values counts would be ambiguous); remove one of them");
    }
    return true;
  }
  bool end_object() {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (!value()) return false;
    frames_.push_back(Frame{false, {}, {}, 0});
    return true;
  }
  bool end_array() {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;  // the DOM parse that follows reports it with its usual message
  }

  const std::optional<JsonInputError>& error() const { return error_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string, std::less<>> keys;
    std::string key;    // object: the key whose value comes next
    size_t next_index;  // array: index of the next element
  };

  // Every value advances the enclosing array's index, so path() names the element.
  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().next_index;
    return true;
  }

  std::string path() const {
    std::string out(root_);
    for (const Frame& f : frames_) {
      if (f.object) {
        if (!out.empty()) out += '.';
        out += f.key;
      } else {
        out += "[" + std::to_string(f.next_index == 0 ? 0 : f.next_index - 1) + "]";
      }
    }
    return out;
  }

  bool fail(const std::string& message) {
    if (!error_) error_.emplace(message, path());
    return false;
  }

  std::string_view root_;
  std::vector<Frame> frames_;
  std::optional<JsonInputError> error_;
};

}  // namespace

void check_json_text(std::string_view text, std::string_view root) {
  StrictChecker checker(root);
  json::sax_parse(text, &checker);
  if (checker.error()) throw *checker.error();
}

nlohmann::json parse_json_strict(std::string_view text, std::string_view root) {
  check_json_text(text, root);
  return nlohmann::json::parse(text);
}

nlohmann::ordered_json parse_ordered_json_strict(std::string_view text, std::string_view root) {
  check_json_text(text, root);
  return nlohmann::ordered_json::parse(text);
}

}  // namespace synwarden
