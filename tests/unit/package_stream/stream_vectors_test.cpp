// Test vectors of the encrypted stream format (FORMAT.md, "Encrypted stream"). Each vector is
// checked three ways: the sealed bytes' SHA-256 is a constant written here, seal_stream
// reproduces the stored vector file byte for byte, and an independent construction with the raw
// EVP HKDF and AES-256-GCM calls, chunk by chunk exactly as FORMAT.md describes, gives the same
// bytes. The vector files were first produced by a separate Python (pyca/cryptography) script.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "sync/package/stream_cipher.hpp"
#include "tests/unit/package_stream/stream_test_support.hpp"

namespace kiosk::sync::package::test {
namespace {

// The vector plaintext: byte i is (i * 31 + 7) mod 251.
Bytes vector_plaintext(std::size_t size) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>((i * 31 + 7) % 251);
  return bytes;
}

Bytes read_vector(const std::string& name) {
  std::ifstream file(std::string(KIOSK_STREAM_VECTORS_DIR) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

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

// FORMAT.md followed literally with OpenSSL's low-level calls, independent of stream_cipher.cpp.
Bytes independent_seal(const Bytes& plaintext, const DataKey& data_key, const std::array<std::uint8_t, 16>& file_id) {
  Bytes header = {'C', 'S', 'D', 'C', 'E', 'V', '1', 0, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00};
  header.insert(header.end(), file_id.begin(), file_id.end());

  std::array<std::uint8_t, 32> file_key{};
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* kdf_context = EVP_KDF_CTX_new(kdf);
  char digest_name[] = "SHA256";
  char info[] = "csdc-evidence-stream v1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(data_key.bytes.data()), 32),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(file_id.data()), 16),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, std::strlen(info)),
      OSSL_PARAM_construct_end(),
  };
  EXPECT_EQ(EVP_KDF_derive(kdf_context, file_key.data(), file_key.size(), params), 1);
  EVP_KDF_CTX_free(kdf_context);
  EVP_KDF_free(kdf);

  Bytes out = header;
  std::size_t offset = 0;
  for (std::uint64_t counter = 0;; ++counter) {
    const bool last = offset + kChunkBytes >= plaintext.size();
    const std::size_t length = last ? plaintext.size() - offset : kChunkBytes;
    std::array<std::uint8_t, 12> nonce{};
    for (int i = 0; i < 8; ++i) nonce[10 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
    nonce[11] = last ? 1 : 0;

    EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
    int written = 0;
    Bytes chunk(length + 16);
    EXPECT_EQ(EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nullptr, file_key.data(), nonce.data()), 1);
    EXPECT_EQ(EVP_EncryptUpdate(context, nullptr, &written, header.data(), static_cast<int>(header.size())), 1);
    if (length > 0) {
      EXPECT_EQ(EVP_EncryptUpdate(context, chunk.data(), &written, plaintext.data() + offset, static_cast<int>(length)),
                1);
    }
    EXPECT_EQ(EVP_EncryptFinal_ex(context, chunk.data() + length, &written), 1);
    EXPECT_EQ(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, chunk.data() + length), 1);
    EVP_CIPHER_CTX_free(context);
    out.insert(out.end(), chunk.begin(), chunk.end());
    if (last) break;
    offset += kChunkBytes;
  }
  return out;
}

struct Vector {
  std::string file;
  std::size_t plaintext_bytes;
  std::string ciphertext_sha256;
  std::string plaintext_sha256;
};

class StreamVector : public ::testing::TestWithParam<Vector> {};

TEST_P(StreamVector, SealMatchesTheStoredVectorAndTheIndependentConstruction) {
  const Vector& vector = GetParam();
  const DataKey key = fixed_key();           // 00 01 .. 1f
  const auto file_id = fixed_file_id(0xa0);  // a0 a1 .. af
  const Bytes plaintext = vector_plaintext(vector.plaintext_bytes);

  StreamDigest digest;
  auto sealed = seal_bytes(plaintext, key, file_id, &digest);
  ASSERT_TRUE(sealed) << sealed.error().to_string();
  EXPECT_EQ(sha256_hex(*sealed), vector.ciphertext_sha256);
  EXPECT_EQ(digest.ciphertext_sha256, vector.ciphertext_sha256);
  EXPECT_EQ(digest.plaintext_sha256, vector.plaintext_sha256);

  const Bytes stored = read_vector(vector.file);
  ASSERT_FALSE(stored.empty()) << "missing vector file " << vector.file;
  EXPECT_EQ(*sealed, stored);
  EXPECT_EQ(independent_seal(plaintext, key, file_id), stored);

  MemoryFile in(stored);
  auto verified = verify_stream(in.fd(), key);
  ASSERT_TRUE(verified) << verified.error().to_string();
  EXPECT_EQ(verified->plaintext_sha256, vector.plaintext_sha256);
}

INSTANTIATE_TEST_SUITE_P(Vectors, StreamVector,
                         ::testing::Values(Vector{"empty.csdcev", 0,
                                                  "7486066332c48437170b375b2f83c8323d924bd3eb2ee6a47b065f6c7b1ee286",
                                                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                                           Vector{"one_full_chunk.csdcev", 65536,
                                                  "047057b3c4212da788450fa9696e38b4438239438664ef53af61660b7292d35f",
                                                  "c2a19b29e9a734066ffb748d00176ca95e52545a0b0afe9e73f085740aeb97f8"},
                                           Vector{"two_chunks.csdcev", 66536,
                                                  "5c081fa721674adec909ea9557797d2bc2f747f64f32e79241ccf6ddba14520d",
                                                  "7ee3e1389181d0093c26f55e4d5b8a116a52bbd86912179b3407f831cdaf4af1"}),
                         [](const auto& test) { return test.param.file.substr(0, test.param.file.find('.')); });

}  // namespace
}  // namespace kiosk::sync::package::test
