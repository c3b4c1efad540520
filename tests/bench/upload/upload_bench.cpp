// Upload benchmark: TusUploader vs a curl shell loop (same gateway, same archive bytes, same chunk size
// and headers), then the bytes re-sent after random cuts. Prints figures and ratios; asserts no time.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "sync/client/tus_uploader.hpp"
#include "sync/package/package_archive.hpp"
#include "tests/support/fault_proxy.hpp"
#include "upload_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace kiosk::sync::testing;

constexpr std::size_t kMiB = 1024 * 1024;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Writes the archive of `package_dir` as numbered chunk files (the anchor's input), outside the timing.
bool write_chunk_files(const fs::path& package_dir, const fs::path& chunk_dir, std::size_t chunk_bytes) {
  auto archive = kiosk::sync::package::PackageArchiveReader::open(package_dir);
  if (!archive) return false;
  fs::create_directories(chunk_dir);
  std::vector<std::uint8_t> buffer(chunk_bytes);
  for (std::uint64_t offset = 0, index = 0; offset < archive->size(); ++index) {
    auto read = archive->read_at(offset, buffer);
    if (!read || *read == 0) return false;
    char name[32];
    std::snprintf(name, sizeof name, "c%06llu", static_cast<unsigned long long>(index));
    std::ofstream(chunk_dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(*read));
    offset += *read;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t megabytes = 256;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--megabytes") megabytes = std::stoull(argv[i + 1]);
  }
  kiosk::ctl::testing::GatewayProcess gateway;
  if (!gateway.started()) {
    std::fprintf(stderr, "the gateway did not start\n");
    return 1;
  }
  const fs::path work = gateway.root() / "bench";
  const kiosk::sync::TlsIdentity identity{gateway.ca_file(), gateway.cert_file(), gateway.key_file()};
  kiosk::sync::UploadOptions options;  // defaults: 4 MiB chunks
  const fs::path package_dir = make_package_dir(work, "pkg-bench", megabytes * kMiB, 11);

  // 1. TusUploader.
  auto uploader = kiosk::sync::TusUploader::create(gateway.device_url(), identity, options);
  if (!uploader) {
    std::fprintf(stderr, "%s\n", uploader.error().to_string().c_str());
    return 1;
  }
  auto start = Clock::now();
  auto outcome =
      uploader->upload({.package_id = "pkg-bench", .transaction_id = "tx-00000001", .package_dir = package_dir});
  const double ours_seconds = seconds_since(start);
  if (!outcome) {
    std::fprintf(stderr, "upload failed: %s\n", outcome.error().to_string().c_str());
    return 1;
  }
  const double mib = static_cast<double>(outcome->archive_size) / kMiB;
  const bool ours_exact = read_whole_file(gateway.root() / "data" / "uploads" / "complete" /
                                          outcome->location.substr(outcome->location.rfind('/') + 1))
                              .size() == outcome->archive_size;

  // 2. The anchor: curl, one process per 4 MiB PATCH, same archive bytes (another package id).
  const fs::path chunk_dir = work / "chunks";
  if (!write_chunk_files(package_dir, chunk_dir, options.chunk_bytes)) {
    std::fprintf(stderr, "could not write the chunk files\n");
    return 1;
  }
  const std::string command = std::string(CURL_LOOP_SCRIPT) + " " + CURL_PROGRAM + " " + gateway.device_url() + " " +
                              gateway.ca_file().string() + " " + gateway.cert_file().string() + " " +
                              gateway.key_file().string() + " pkg-bench-curl " + outcome->archive_sha256 + " " +
                              std::to_string(outcome->archive_size) + " " + chunk_dir.string() + " > /dev/null";
  start = Clock::now();
  const int curl_status = std::system(command.c_str());
  const double curl_seconds = seconds_since(start);
  fs::remove_all(chunk_dir);

  std::printf("archive: %.1f MiB in %zu-byte chunks over loopback mutual TLS\n", mib, options.chunk_bytes);
  std::printf("tus_uploader: %.2f s, %.1f MiB/s (stored file complete: %s)\n", ours_seconds, mib / ours_seconds,
              ours_exact ? "yes" : "NO");
  if (curl_status == 0) {
    std::printf("curl loop (anchor): %.2f s, %.1f MiB/s\n", curl_seconds, mib / curl_seconds);
    std::printf("ratio tus_uploader/curl: %.2f\n", (mib / ours_seconds) / (mib / curl_seconds));
  } else {
    std::printf("curl loop (anchor) FAILED (status %d)\n", curl_status);
  }

  // 3. Bytes re-sent after cuts: each connection cut at a random point between 2 and 24 MiB of
  // client bytes, on a 64 MiB package.
  auto proxy = kiosk::testing::FaultProxy::start("127.0.0.1", url_port(gateway.device_url()));
  if (!proxy) {
    std::fprintf(stderr, "%s\n", proxy.error().to_string().c_str());
    return 1;
  }
  (*proxy)->cut_randomly(kiosk::testing::Direction::client_to_server, 2 * kMiB, 24 * kMiB, 42);
  const fs::path cut_dir = make_package_dir(work, "pkg-bench-cuts", 64 * kMiB, 12);
  kiosk::sync::UploadOptions cut_options;
  cut_options.max_attempts = 100;
  cut_options.base_backoff = std::chrono::milliseconds(10);
  cut_options.max_backoff = std::chrono::milliseconds(100);
  auto cut_uploader =
      kiosk::sync::TusUploader::create("https://127.0.0.1:" + std::to_string((*proxy)->port()), identity, cut_options);
  if (!cut_uploader) return 1;
  start = Clock::now();
  auto cut_outcome =
      cut_uploader->upload({.package_id = "pkg-bench-cuts", .transaction_id = "tx-00000002", .package_dir = cut_dir});
  const double cut_seconds = seconds_since(start);
  if (!cut_outcome) {
    std::fprintf(stderr, "cut upload failed: %s\n", cut_outcome.error().to_string().c_str());
    return 1;
  }
  const auto cuts = (*proxy)->counters().cuts_fired;
  std::printf(
      "cuts: %llu on %.1f MiB in %.2f s; bytes re-sent %llu (%.2f MiB, %.2f MiB per cut, chunk %.0f MiB); "
      "bytes sent %llu = %.3f x archive\n",
      static_cast<unsigned long long>(cuts), static_cast<double>(cut_outcome->archive_size) / kMiB, cut_seconds,
      static_cast<unsigned long long>(cut_outcome->bytes_resent), static_cast<double>(cut_outcome->bytes_resent) / kMiB,
      cuts == 0 ? 0.0 : static_cast<double>(cut_outcome->bytes_resent) / kMiB / static_cast<double>(cuts),
      static_cast<double>(cut_options.chunk_bytes) / kMiB, static_cast<unsigned long long>(cut_outcome->bytes_sent),
      static_cast<double>(cut_outcome->bytes_sent) / static_cast<double>(cut_outcome->archive_size));
  return curl_status == 0 && ours_exact ? 0 : 1;
}
