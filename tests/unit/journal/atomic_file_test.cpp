#include "kiosk/core/journal/atomic_file.hpp"

#include <gtest/gtest.h>

#include "journal_test_support.hpp"

namespace kiosk::journal {
namespace {

using testing::bytes_of;
using testing::read_file;
using testing::ScratchDir;

// SHA-256("abc") from FIPS 180-2, so the hashing is checked against a published value.
constexpr const char* kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(AtomicFile, WritesTheBytesUnderTheFinalNameAndReturnsTheirHash) {
  ScratchDir dir;
  const auto data = bytes_of("abc");
  auto digest = write_file_atomically(dir.path() / "final", data);
  ASSERT_TRUE(digest) << digest.error().to_string();
  EXPECT_EQ(digest->size, 3U);
  EXPECT_EQ(digest->sha256_hex, kAbcSha256);
  EXPECT_EQ(read_file(dir.path() / "final"), "abc");
}

TEST(AtomicFile, LeavesNoTempFileBehind) {
  ScratchDir dir;
  const auto data = bytes_of("evidence");
  ASSERT_TRUE(write_file_atomically(dir.path() / "a", data));
  ASSERT_TRUE(write_file_atomically(dir.path() / "a", bytes_of("replaced")));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_FALSE(is_temp_name(entry.path().filename().string())) << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(read_file(dir.path() / "a"), "replaced");
}

TEST(AtomicFile, CopiesASourceFileAndHashesWhatItCopied) {
  ScratchDir dir;
  std::string big(200 * 1024, 'x');  // several read chunks
  big[1234] = 'y';
  ASSERT_TRUE(write_file_atomically(dir.path() / "source", bytes_of(big)));
  auto digest = copy_file_atomically(dir.path() / "copy", dir.path() / "source");
  ASSERT_TRUE(digest) << digest.error().to_string();
  EXPECT_EQ(digest->size, big.size());
  EXPECT_EQ(digest->sha256_hex, sha256_hex(bytes_of(big)));
  EXPECT_EQ(read_file(dir.path() / "copy"), big);
}

TEST(AtomicFile, AMissingSourceIsAClearErrorAndCreatesNothing) {
  ScratchDir dir;
  auto digest = copy_file_atomically(dir.path() / "copy", dir.path() / "no-such-file");
  ASSERT_FALSE(digest);
  EXPECT_EQ(digest.error().code, "JOURNAL_EVIDENCE_SOURCE_UNREADABLE");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(AtomicFile, AMissingDirectoryIsAClearError) {
  ScratchDir dir;
  auto digest = write_file_atomically(dir.path() / "absent" / "file", bytes_of("x"));
  ASSERT_FALSE(digest);
  EXPECT_EQ(digest.error().code, "JOURNAL_EVIDENCE_WRITE_FAILED");
}

TEST(AtomicFile, DigestFileMatchesWhatWasWritten) {
  ScratchDir dir;
  ASSERT_TRUE(write_file_atomically(dir.path() / "f", bytes_of("abc")));
  auto digest = digest_file(dir.path() / "f");
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->sha256_hex, kAbcSha256);
  EXPECT_EQ(digest_file(dir.path() / "missing").error().code, "JOURNAL_EVIDENCE_UNREADABLE");
}

}  // namespace
}  // namespace kiosk::journal
