// GET /metrics: a StatsSample in the Prometheus text exposition format (version 0.0.4). Every
// family gets one HELP and one TYPE line before its samples, all its samples are contiguous,
// counters end in _total (and only counters do), label values are escaped. Names follow the
// Prometheus conventions: synwarden_ prefix, base units (seconds), one meaning per metric, the
// distinguishing dimension as a label (host, reason, queue).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics_sample.h"

namespace synwarden::daemon {

class PrometheusWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { kCounter, kGauge };

  // Starts a family. Throws std::logic_error if the family was started before (samples of a
  // family must be contiguous) or a counter's name does not end in _total.
  void family(const std::string& name, Type type, std::string_view help);
  // A sample of the current family.
  void sample(const Labels& labels, double value);
  void sample(const Labels& labels, uint64_t value);

  const std::string& text() const noexcept { return out_; }

 private:
  void write_labels(const Labels& labels);
  std::string out_;
  std::string current_;
  std::vector<std::string> seen_;
};

// Escapes a label value: backslash, double quote and newline.
std::string prometheus_escape(std::string_view value);

std::string render_prometheus(const StatsSample& sample);

}  // namespace synwarden::daemon
