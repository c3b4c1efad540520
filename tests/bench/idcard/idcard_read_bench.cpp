// Full card read (find, select, read text+photo) through idcard-sim over a pseudo-terminal, at
// 115200 baud and at 9600 baud. The anchor is the wire time of the bytes the read exchanged
// (bytes x 10 bits / baud, 8N1), which the simulator enforces like a real UART; the ratio says
// how much the driver, the pty and the scheduler add on top. It prints figures; it never asserts
// a time.
//
// Usage: idcard_read_bench --sim PATH --cards DIR --work-dir DIR [--reads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hal/idcard/reader.hpp"
#include "tests/support/idcard_sim_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace kiosk::hal::idcard;

struct Options {
  std::string sim;
  std::string cards;
  std::filesystem::path work_dir;
  int reads = 20;
};

int run_at(const Options& options, unsigned baud, bool fingerprint) {
  const auto link = options.work_dir / ("tty-" + std::to_string(baud));
  auto sim = kiosk::testing::IdcardSimProcess::start(options.sim, link, options.cards,
                                                     {"--baud", std::to_string(baud), "--card", "resident"});
  if (!sim) {
    std::fprintf(stderr, "idcard_read_bench: idcard-sim did not start\n");
    return 1;
  }
  ReaderConfig config;
  config.device_path = link.string();
  config.baud = baud;
  config.read_fingerprint = fingerprint;
  config.timeouts.read = std::chrono::milliseconds{5000};
  config.timeouts.read_with_fingerprint = std::chrono::milliseconds{6000};
  IdCardReader reader(config);
  if (auto warm = reader.read_card(); !warm) {  // opens the port
    std::fprintf(stderr, "idcard_read_bench: %s\n", warm.error().error.to_string().c_str());
    return 1;
  }
  std::vector<double> ratios;
  std::vector<double> milliseconds;
  std::uint64_t bytes_per_read = 0;
  for (int i = 0; i < options.reads; ++i) {
    const WireCounters before = reader.counters();
    const auto started = Clock::now();
    auto card = reader.read_card();
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    if (!card) {
      std::fprintf(stderr, "idcard_read_bench: read %d failed: %s\n", i, card.error().error.to_string().c_str());
      return 1;
    }
    const std::uint64_t bytes =
        (reader.counters().bytes_sent - before.bytes_sent) + (reader.counters().bytes_received - before.bytes_received);
    bytes_per_read = bytes;
    const double wire = static_cast<double>(bytes) * 10.0 / baud;
    ratios.push_back(elapsed / wire);
    milliseconds.push_back(elapsed * 1000.0);
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(milliseconds.begin(), milliseconds.end());
  const auto at = [](const std::vector<double>& v, double q) {
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf(
      "baud %6u %-22s bytes/read %5llu  wire %7.1f ms  read p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  "
      "ratio to wire time p50 %.3f  max %.3f\n",
      baud, fingerprint ? "text+photo+fingerprint" : "text+photo", static_cast<unsigned long long>(bytes_per_read),
      static_cast<double>(bytes_per_read) * 10.0 / baud * 1000.0, at(milliseconds, 0.5), at(milliseconds, 0.95),
      milliseconds.back(), at(ratios, 0.5), ratios.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--sim")
      options.sim = value;
    else if (key == "--cards")
      options.cards = value;
    else if (key == "--work-dir")
      options.work_dir = value;
    else if (key == "--reads")
      options.reads = std::max(1, std::atoi(value.c_str()));
  }
  if (options.sim.empty() || options.cards.empty() || options.work_dir.empty()) {
    std::fprintf(stderr, "usage: idcard_read_bench --sim PATH --cards DIR --work-dir DIR [--reads N]\n");
    return 2;
  }
  std::filesystem::create_directories(options.work_dir);
  std::printf("Full card read (find + select + read) through idcard-sim; anchor: bytes x 10 / baud\n");
  int status = run_at(options, 115200, false);
  if (status == 0) status = run_at(options, 115200, true);
  if (status == 0) {
    Options slow = options;
    slow.reads = std::min(options.reads, 5);
    status = run_at(slow, 9600, false);
  }
  return status;
}
