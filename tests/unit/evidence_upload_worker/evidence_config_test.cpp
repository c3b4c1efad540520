// The [evidence] upload keys of kiosk.toml: the example documents the defaults, values are read and
// bounded.
#include <gtest/gtest.h>

#include "kiosk/app/kiosk_config.hpp"

namespace kiosk {
namespace {

TEST(EvidenceUploadConfig, ExampleEqualsTheDefaults) {
  const auto loaded = load_kiosk_config(KIOSK_EXAMPLE_CONFIG);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const KioskConfig defaults;
  EXPECT_EQ(loaded->evidence_upload, defaults.evidence_upload);
  EXPECT_EQ(loaded->evidence_upload_chunk_bytes, defaults.evidence_upload_chunk_bytes);
  EXPECT_EQ(loaded->evidence_max_upload_bytes_per_second, defaults.evidence_max_upload_bytes_per_second);
  EXPECT_EQ(loaded->evidence_local_retention, defaults.evidence_local_retention);
  EXPECT_TRUE(defaults.evidence_upload);
  EXPECT_EQ(defaults.evidence_upload_chunk_bytes, 4U * 1024 * 1024);
  EXPECT_EQ(defaults.evidence_max_upload_bytes_per_second, 0U);
  EXPECT_EQ(defaults.evidence_local_retention, std::chrono::days{7});
}

TEST(EvidenceUploadConfig, ReadsAndBoundsTheKeys) {
  auto parsed = parse_kiosk_config(
      "[evidence]\nupload = false\nupload_chunk_bytes = 1048576\nmax_upload_bytes_per_second = 262144\n"
      "local_retention_days = 0\n",
      "test.toml", ".");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_FALSE(parsed->evidence_upload);
  EXPECT_EQ(parsed->evidence_upload_chunk_bytes, 1048576U);
  EXPECT_EQ(parsed->evidence_max_upload_bytes_per_second, 262144U);
  EXPECT_EQ(parsed->evidence_local_retention, std::chrono::days{0});
  // Beyond the gateway's default PATCH limit, or a negative retention: refused with the key named.
  auto too_big = parse_kiosk_config("[evidence]\nupload_chunk_bytes = 16777216\n", "test.toml", ".");
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("upload_chunk_bytes"), std::string::npos);
  EXPECT_FALSE(parse_kiosk_config("[evidence]\nlocal_retention_days = -1\n", "test.toml", "."));
}

}  // namespace
}  // namespace kiosk
