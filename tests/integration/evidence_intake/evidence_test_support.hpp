// Shared by the evidence intake tests: real packages sealed from a real journal transaction
// (tests/unit/package/package_test_support.hpp) by a device whose key and certificate are given,
// their upload archives, and byte-level tampering of each package region.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sync/package/manifest.hpp"
#include "sync/package/package_archive.hpp"
#include "sync/package/recipients.hpp"
#include "tests/unit/package/package_test_support.hpp"

namespace kiosk::gateway::evidence::testing {

namespace fs = std::filesystem;
namespace pkg = kiosk::sync::package;

// The whole upload archive of a package directory, as the kiosk's uploader sends it.
inline std::string archive_of(const fs::path& package_dir) {
  auto reader = pkg::PackageArchiveReader::open(package_dir);
  if (!reader) {
    ADD_FAILURE() << reader.error().to_string();
    return {};
  }
  std::string bytes(reader->size(), '\0');
  auto read = reader->read_at(0, std::span(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()));
  if (!read || *read != bytes.size()) ADD_FAILURE() << "cannot read the archive";
  return bytes;
}

// The first stream file of a package (the sealed evidence), by name order.
inline fs::path first_stream(const fs::path& package_dir) {
  std::vector<fs::path> streams;
  for (const auto& entry : fs::directory_iterator(package_dir)) {
    if (entry.path().extension() == ".sealed") streams.push_back(entry.path());
  }
  std::sort(streams.begin(), streams.end());
  return streams.empty() ? fs::path{} : streams.front();
}

enum class Region { manifest, signature, wrapped_key, stream_header, stream_chunk, stream_tag };

inline const char* region_name(Region region) {
  switch (region) {
    case Region::manifest: return "manifest";
    case Region::signature: return "signature";
    case Region::wrapped_key: return "wrapped_key";
    case Region::stream_header: return "stream_header";
    case Region::stream_chunk: return "stream_chunk";
    case Region::stream_tag: return "stream_tag";
  }
  return "?";
}

// Flips one byte of `region` in a sealed package directory. The wrapped key changed is the one for
// `recipient` (a byte inside its AES-GCM ciphertext), re-encoded canonically so that only the key
// itself differs.
inline void flip_region(const fs::path& package_dir, Region region, EVP_PKEY* recipient) {
  using pkg::testing::flip_byte;
  switch (region) {
    case Region::manifest: flip_byte(package_dir / pkg::kManifestFileName, 10); return;
    case Region::signature: {
      const auto size = fs::file_size(package_dir / pkg::kSignatureFileName);
      flip_byte(package_dir / pkg::kSignatureFileName, size - 1);
      return;
    }
    case Region::wrapped_key: {
      auto keys = pkg::parse_keys(pkg::testing::read_file(package_dir / pkg::kKeysFileName));
      ASSERT_TRUE(keys) << keys.error().to_string();
      const std::string id = pkg::recipient_id_of(recipient);
      bool changed = false;
      for (auto& key : *keys) {
        if (key.recipient_id == id) {
          key.data[80] ^= 0x01;
          changed = true;
        }
      }
      ASSERT_TRUE(changed);
      auto text = pkg::serialize_keys(*keys);
      ASSERT_TRUE(text) << text.error().to_string();
      pkg::testing::write_file(package_dir / pkg::kKeysFileName, *text);
      return;
    }
    case Region::stream_header: flip_byte(first_stream(package_dir), 20); return;
    case Region::stream_chunk: flip_byte(first_stream(package_dir), 30 + 5); return;
    case Region::stream_tag: {
      const fs::path stream = first_stream(package_dir);
      flip_byte(stream, fs::file_size(stream) - 1);
      return;
    }
  }
}

}  // namespace kiosk::gateway::evidence::testing
