// Round trips and tamper cases of the chunked stream cipher (sync/package/stream_cipher.hpp).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <thread>

#include "sync/package/stream_cipher.hpp"
#include "tests/unit/package_stream/stream_test_support.hpp"

namespace kiosk::sync::package::test {
namespace {

constexpr std::size_t kHeader = 30;
constexpr std::size_t kSealedChunk = kChunkBytes + 16;

std::string sha256_hex(std::span<const std::uint8_t> bytes) {
  std::array<std::uint8_t, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr);
  std::string text;
  for (const auto byte : digest) {
    static constexpr char kDigits[] = "0123456789abcdef";
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0x0f]);
  }
  return text;
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

std::size_t chunks_for(std::size_t plaintext) {
  return plaintext == 0 ? 1 : (plaintext + kChunkBytes - 1) / kChunkBytes;
}

// Offset of chunk `index` in a sealed stream.
std::size_t chunk_at(std::size_t index) { return kHeader + index * kSealedChunk; }

class StreamRoundTrip : public ::testing::TestWithParam<std::size_t> {};

TEST_P(StreamRoundTrip, SealsOpensAndVerifiesWithMatchingDigests) {
  const std::size_t size = GetParam();
  const Bytes plaintext = random_bytes(size, static_cast<std::uint32_t>(size) + 1);
  const DataKey key = fixed_key();
  const auto file_id = fixed_file_id();

  StreamDigest sealed_digest;
  auto sealed = seal_bytes(plaintext, key, file_id, &sealed_digest);
  ASSERT_TRUE(sealed) << sealed.error().to_string();

  EXPECT_EQ(sealed->size(), kHeader + size + 16 * chunks_for(size));
  EXPECT_EQ(sealed_digest.plaintext_bytes, size);
  EXPECT_EQ(sealed_digest.ciphertext_bytes, sealed->size());
  EXPECT_EQ(sealed_digest.plaintext_sha256, sha256_hex(plaintext));
  EXPECT_EQ(sealed_digest.ciphertext_sha256, sha256_hex(*sealed));
  // The plaintext must not appear in clear after the header.
  if (size >= 64) {
    EXPECT_EQ(std::search(sealed->begin(), sealed->end(), plaintext.begin(), plaintext.begin() + 64), sealed->end());
  }

  ScratchDirectory directory;
  const auto out_path = directory.path() / "evidence.bin";
  MemoryFile in(*sealed);
  auto opened = open_stream(in.fd(), out_path, key);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(read_file(out_path), plaintext);
  EXPECT_EQ(opened->plaintext_sha256, sealed_digest.plaintext_sha256);
  EXPECT_EQ(opened->ciphertext_sha256, sealed_digest.ciphertext_sha256);
  EXPECT_EQ(opened->plaintext_bytes, sealed_digest.plaintext_bytes);
  EXPECT_EQ(opened->ciphertext_bytes, sealed_digest.ciphertext_bytes);
  EXPECT_EQ(directory.entries(), std::vector<std::string>{"evidence.bin"});  // no temp left

  MemoryFile again(*sealed);
  auto verified = verify_stream(again.fd(), key);
  ASSERT_TRUE(verified) << verified.error().to_string();
  EXPECT_EQ(verified->plaintext_sha256, sealed_digest.plaintext_sha256);
  EXPECT_EQ(verified->ciphertext_sha256, sealed_digest.ciphertext_sha256);
}

INSTANTIATE_TEST_SUITE_P(Sizes, StreamRoundTrip,
                         ::testing::Values(0, 1, kChunkBytes - 1, kChunkBytes, kChunkBytes + 1, 2 * kChunkBytes,
                                           5 * 1024 * 1024 + 123));

TEST(StreamCipher, SealsFromAPipeThatDeliversSmallPieces) {
  const Bytes plaintext = random_bytes(3 * kChunkBytes + 77, 9);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::thread writer([&] {
    for (std::size_t at = 0; at < plaintext.size(); at += 1000) {
      const std::size_t piece = std::min<std::size_t>(1000, plaintext.size() - at);
      if (::write(pipe_fds[1], plaintext.data() + at, piece) != static_cast<ssize_t>(piece)) break;
    }
    ::close(pipe_fds[1]);
  });
  MemoryFile out;
  auto sealed = seal_stream(pipe_fds[0], out.fd(), fixed_key(), fixed_file_id());
  writer.join();
  ::close(pipe_fds[0]);
  ASSERT_TRUE(sealed) << sealed.error().to_string();
  // Same bytes as sealing from a file: chunking does not depend on how reads arrive.
  EXPECT_EQ(out.contents(), *seal_bytes(plaintext, fixed_key(), fixed_file_id()));
}

TEST(StreamCipher, RandomDataKeysDiffer) {
  auto first = random_data_key();
  auto second = random_data_key();
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->bytes, second->bytes);
}

// --- Tampering: each case is refused with its own error, by verify and by open, and open leaves
// nothing behind (not even its temp file).

struct Refusal {
  std::string code;
  std::string message_part;
};

void expect_refused(const Bytes& stream, const Refusal& expected, const DataKey& key = fixed_key()) {
  MemoryFile verify_in(stream);
  auto verified = verify_stream(verify_in.fd(), key);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, expected.code) << verified.error().to_string();
  EXPECT_NE(verified.error().message.find(expected.message_part), std::string::npos) << verified.error().to_string();

  ScratchDirectory directory;
  MemoryFile open_in(stream);
  auto opened = open_stream(open_in.fd(), directory.path() / "out.bin", key);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, expected.code);
  EXPECT_TRUE(directory.entries().empty());
}

class StreamTamper : public ::testing::Test {
 protected:
  // Four chunks: three full, the final one 100 bytes.
  const Bytes plaintext_ = random_bytes(3 * kChunkBytes + 100, 42);
  Bytes sealed_ = *seal_bytes(plaintext_, fixed_key(), fixed_file_id());
};

TEST_F(StreamTamper, FlippedMagicIsAnInvalidHeader) {
  Bytes stream = sealed_;
  stream[0] ^= 0x01;
  expect_refused(stream, {"PACKAGE_HEADER_INVALID", "magic"});
}

TEST_F(StreamTamper, ChangedChunkSizeIsAnInvalidHeader) {
  Bytes stream = sealed_;
  stream[12] ^= 0x01;
  expect_refused(stream, {"PACKAGE_HEADER_INVALID", "chunk size"});
}

TEST_F(StreamTamper, UnknownSuiteIsAnInvalidHeader) {
  Bytes stream = sealed_;
  stream[9] = 7;
  expect_refused(stream, {"PACKAGE_HEADER_INVALID", "suite"});
}

TEST_F(StreamTamper, ReservedSmSuitesAreRefusedAsUnsupported) {
  for (const std::uint8_t suite : {std::uint8_t{2}, std::uint8_t{3}}) {
    Bytes stream = sealed_;
    stream[9] = suite;
    expect_refused(stream, {"PACKAGE_SUITE_UNSUPPORTED", "SM4"});
  }
}

TEST_F(StreamTamper, FlippedFileIdFailsTheFirstChunk) {
  // The file id is in the key derivation and the AAD, so it cannot be changed unnoticed.
  Bytes stream = sealed_;
  stream[20] ^= 0x80;
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 0 "});
}

TEST_F(StreamTamper, FlippedCiphertextByteNamesTheChunk) {
  Bytes stream = sealed_;
  stream[chunk_at(1) + 5000] ^= 0x01;
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 1 "});
}

TEST_F(StreamTamper, FlippedTagNamesTheChunk) {
  Bytes stream = sealed_;
  stream[chunk_at(3) - 1] ^= 0x01;  // last tag byte of chunk 2
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 2 "});
}

TEST_F(StreamTamper, FlippedFinalChunkIsRefusedAfterFullChunksWereDecrypted) {
  Bytes stream = sealed_;
  stream.back() ^= 0x01;
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 3 "});
}

TEST_F(StreamTamper, DroppedFinalChunkIsTruncation) {
  Bytes stream(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(chunk_at(3)));
  expect_refused(stream, {"PACKAGE_TRUNCATED", "not the final chunk"});
}

TEST_F(StreamTamper, DroppedLastTwoChunksIsTruncation) {
  Bytes stream(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(chunk_at(2)));
  expect_refused(stream, {"PACKAGE_TRUNCATED", "after chunk 1"});
}

TEST_F(StreamTamper, HeaderOnlyOrCutHeaderIsTruncation) {
  expect_refused(Bytes(sealed_.begin(), sealed_.begin() + kHeader), {"PACKAGE_TRUNCATED", "chunk 0"});
  expect_refused(Bytes(sealed_.begin(), sealed_.begin() + 12), {"PACKAGE_TRUNCATED", "header"});
}

TEST_F(StreamTamper, SwappedChunksAreRefusedAtTheFirstMovedChunk) {
  Bytes stream = sealed_;
  std::swap_ranges(stream.begin() + static_cast<std::ptrdiff_t>(chunk_at(0)),
                   stream.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)),
                   stream.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)));
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 0 "});
}

TEST_F(StreamTamper, ChunkAppendedAfterAFullFinalChunkIsTrailingData) {
  // Exactly two full chunks: the final chunk is full-size, so an appended chunk starts on a
  // chunk boundary.
  const Bytes plaintext = random_bytes(2 * kChunkBytes, 5);
  Bytes stream = *seal_bytes(plaintext, fixed_key(), fixed_file_id());
  const Bytes first_chunk(stream.begin() + kHeader, stream.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)));
  stream.insert(stream.end(), first_chunk.begin(), first_chunk.end());
  expect_refused(stream, {"PACKAGE_TRAILING_DATA", "final chunk 1"});

  Bytes one_byte_more = *seal_bytes(plaintext, fixed_key(), fixed_file_id());
  one_byte_more.push_back(0);
  expect_refused(one_byte_more, {"PACKAGE_TRAILING_DATA", "final chunk 1"});
}

TEST_F(StreamTamper, BytesAppendedAfterAShortFinalChunkFailThatChunk) {
  // Chunk boundaries follow from the fixed chunk size, so appended bytes become part of the
  // short final chunk, which then fails authentication.
  Bytes stream = sealed_;
  stream.insert(stream.end(), sealed_.begin() + kHeader, sealed_.begin() + kHeader + 116);
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 3 "});
}

TEST_F(StreamTamper, ChunkFromAnotherFileOfTheSamePackageIsRefused) {
  // Same data key (one per package), different file ids.
  const Bytes other_plaintext = random_bytes(3 * kChunkBytes + 100, 43);
  const Bytes other = *seal_bytes(other_plaintext, fixed_key(), fixed_file_id(0x10));
  Bytes stream = sealed_;
  std::copy(other.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)),
            other.begin() + static_cast<std::ptrdiff_t>(chunk_at(2)),
            stream.begin() + static_cast<std::ptrdiff_t>(chunk_at(1)));
  expect_refused(stream, {"PACKAGE_CHUNK_TAMPERED", "chunk 1 "});
}

TEST_F(StreamTamper, WrongDataKeyIsRefusedWithAHint) {
  expect_refused(sealed_, {"PACKAGE_CHUNK_TAMPERED", "data key is wrong"}, fixed_key(1));
}

TEST_F(StreamTamper, FailedOpenKeepsAnExistingOutputFileUntouched) {
  ScratchDirectory directory;
  const auto out_path = directory.path() / "out.bin";
  { std::ofstream(out_path) << "previous"; }
  Bytes stream = sealed_;
  stream[chunk_at(2) + 1] ^= 0x04;
  MemoryFile in(stream);
  auto opened = open_stream(in.fd(), out_path, fixed_key());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "PACKAGE_CHUNK_TAMPERED");
  const Bytes kept = read_file(out_path);
  EXPECT_EQ(std::string(kept.begin(), kept.end()), "previous");
  EXPECT_EQ(directory.entries(), std::vector<std::string>{"out.bin"});
}

TEST(StreamCipher, OpenIntoAMissingDirectoryIsAnIoError) {
  const Bytes sealed = *seal_bytes(random_bytes(10, 1), fixed_key(), fixed_file_id());
  MemoryFile in(sealed);
  auto opened = open_stream(in.fd(), "no-such-directory-for-stream-test/out.bin", fixed_key());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "PACKAGE_IO_FAILED");
}

}  // namespace
}  // namespace kiosk::sync::package::test
