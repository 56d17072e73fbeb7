// Shared by every fuzz target: the invariant check that turns a broken property into a crash
// (which libFuzzer saves as a reproducer and the corpus replay test reports as a failure), and a
// reader that turns fuzz bytes into structured values.
//
// Targets must not depend on libFuzzer-only headers: the same source is built with
// replay_main.cpp by g++ for the corpus regression test.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>

namespace synwarden::fuzz {

[[noreturn, gnu::format(printf, 4, 5)]] inline void fail(const char* file, int line,
                                                         const char* expr, const char* fmt,
                                                         ...) {
  std::fprintf(stderr, "\n%s:%d: fuzz invariant broken: %s\n  ", file, line, expr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::abort();
}

// Consumes fuzz bytes front to back; once they run out every value reads as zero, so any input
// length describes a complete case.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}

  template <typename T>
    requires std::is_integral_v<T>
  T take() noexcept {
    T v{};
    const size_t n = size_ < sizeof(T) ? size_ : sizeof(T);
    std::memcpy(&v, data_, n);
    data_ += n;
    size_ -= n;
    return v;
  }
  bool take_bool() noexcept { return (take<uint8_t>() & 1) != 0; }
  // A value in [lo, hi] (both ends reachable).
  template <typename T>
    requires std::is_unsigned_v<T>
  T take_in(T lo, T hi) noexcept {
    const T v = take<T>();
    const T span = static_cast<T>(hi - lo);
    if (span == static_cast<T>(~T{0})) return v;
    return static_cast<T>(lo + v % static_cast<T>(span + 1));
  }
  void take_bytes(uint8_t* out, size_t n) noexcept {
    const size_t have = size_ < n ? size_ : n;
    std::memcpy(out, data_, have);
    std::memset(out + have, 0, n - have);
    data_ += have;
    size_ -= have;
  }
  // Up to `max` bytes, the length taken from the input first.
  std::span<const uint8_t> take_span(size_t max) noexcept {
    size_t n = take<uint16_t>();
    if (n > max) n = max;
    if (n > size_) n = size_;
    const std::span<const uint8_t> s(data_, n);
    data_ += n;
    size_ -= n;
    return s;
  }
  std::span<const uint8_t> rest() noexcept {
    const std::span<const uint8_t> s(data_, size_);
    data_ += size_;
    size_ = 0;
    return s;
  }
  size_t remaining() const noexcept { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace synwarden::fuzz

// FUZZ_CHECK(condition, printf-format, args...): the property every input must satisfy.
#define FUZZ_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) ::synwarden::fuzz::fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)
