#include "oracle_record.h"

#include <sstream>
#include <stdexcept>

#include "guest_net.h"

namespace synwarden::vmtest {

RecordWriter::RecordWriter(std::ostream& out, uint64_t seed) : out_(out) {
  out_ << "SWREC " << kRecordFormatVersion << ' ' << seed << '\n';
}

void RecordWriter::phase(const std::string& name, uint64_t mono_ns,
                         const std::string& secrets_json) {
  out_ << "PHASE " << name << ' ' << mono_ns << ' ' << secrets_json << '\n';
}

void RecordWriter::exchange(const std::string& phase, uint64_t t_send_ns, uint64_t t_recv_ns,
                            const std::vector<uint8_t>& syn, const std::vector<uint8_t>& synack) {
  out_ << "SYN " << phase << ' ' << t_send_ns << ' ' << t_recv_ns << ' '
       << to_hex(syn.data(), syn.size()) << ' ' << to_hex(synack.data(), synack.size()) << '\n';
  ++exchanges_;
}

void RecordWriter::missing(const std::string& phase, const std::vector<uint8_t>& syn) {
  out_ << "MISS " << phase << ' ' << to_hex(syn.data(), syn.size()) << '\n';
}

void RecordWriter::done() {
  out_ << "DONE " << exchanges_ << '\n';
  out_.flush();
  if (!out_) throw std::runtime_error("writing the record file failed");
}

RecordFile read_records(std::istream& in) {
  RecordFile file;
  std::string line;
  size_t number = 0;
  bool header = false;
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error("record line " + std::to_string(number) + ": " + why);
  };
  const auto phase_index = [&](const std::string& name) {
    for (size_t i = 0; i < file.phases.size(); ++i)
      if (file.phases[i].name == name) return i;
    fail("unknown phase '" + name + "'");
    return size_t{0};
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "SWREC") {
      int version = 0;
      words >> version >> file.seed;
      if (version != kRecordFormatVersion) fail("unknown record format version");
      header = true;
      continue;
    }
    if (!header) fail("missing SWREC header");
    if (kind == "PHASE") {
      PhaseRecord p;
      words >> p.name >> p.mono_ns >> std::ws;
      std::getline(words, p.secrets_json);
      if (p.name.empty() || p.secrets_json.empty()) fail("malformed PHASE");
      file.phases.push_back(std::move(p));
    } else if (kind == "SYN") {
      ExchangeRecord r;
      std::string phase, syn, synack;
      words >> phase >> r.t_send_ns >> r.t_recv_ns >> syn >> synack;
      if (!words) fail("malformed SYN record");
      r.phase = phase_index(phase);
      r.line = number;
      r.syn = from_hex(syn);
      r.synack = from_hex(synack);
      file.exchanges.push_back(std::move(r));
    } else if (kind == "MISS") {
      std::string phase, syn;
      words >> phase >> syn;
      phase_index(phase);
      file.missing.push_back(from_hex(syn));
    } else if (kind == "DONE") {
      size_t count = 0;
      words >> count;
      if (count != file.exchanges.size())
        fail("DONE counts " + std::to_string(count) + " exchanges, the file has " +
             std::to_string(file.exchanges.size()));
      file.complete = true;
    } else {
      fail("unknown record kind '" + kind + "'");
    }
  }
  return file;
}

}  // namespace synwarden::vmtest
