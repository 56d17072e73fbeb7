// Error policy of the dataplane library (OS-facing code): every call that can fail returns a
// Result. Failures carry the errno captured at the failing call and a message saying what
// failed, on what, and what to do. Nothing in this library throws; callers at start-up or
// config boundaries may turn an Error into an exception if that suits them.
//
// C++20 has no std::expected; this is the minimal subset the library needs.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace synwarden::dataplane {

struct Error {
  int code = 0;         // errno value (positive); 0 when the failure is not the OS's
  std::string message;  // full sentence(s): what failed, on what, what to do
};

// Builds an Error from an errno value: "<what>: <strerror> (errno N)[; <hint>]".
[[nodiscard]] Error os_error(int code, const std::string& what, const std::string& hint = {});
// An Error that is not an OS failure (bad argument, incompatible state).
[[nodiscard]] Error logic_error(const std::string& what);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit

  [[nodiscard]] bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const { assert(failed_); return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace synwarden::dataplane
