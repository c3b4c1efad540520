// Recipient key wrapping (sync/package/recipients.hpp): round trips for both algorithms, refusal
// of wrong recipients, altered wraps and weak or unsupported keys.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kiosk/core/openssl_handles.hpp"
#include "sync/package/recipients.hpp"
#include "tests/unit/package_stream/stream_test_support.hpp"

namespace kiosk::sync::package::test {
namespace {

openssl::Key rsa_key(unsigned int bits) {
  return openssl::Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
}
openssl::Key ec_key(const char* curve) { return openssl::Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)); }

// The public half only, as head office would publish it (SubjectPublicKeyInfo).
openssl::Key public_half(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  const unsigned char* cursor = der;
  openssl::Key public_key(d2i_PUBKEY(nullptr, &cursor, length));
  OPENSSL_free(der);
  return public_key;
}

class WrapRoundTrip : public ::testing::TestWithParam<bool> {
 protected:
  openssl::Key make_key() const { return GetParam() ? rsa_key(2048) : ec_key("P-256"); }
  WrapAlgorithm expected_algorithm() const {
    return GetParam() ? WrapAlgorithm::rsa_oaep_sha256 : WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm;
  }
};

TEST_P(WrapRoundTrip, UnwrapsWithTheRecipientPrivateKey) {
  const auto recipient = make_key();
  ASSERT_TRUE(recipient);
  const auto published = public_half(recipient.get());
  const DataKey key = *random_data_key();

  auto wrapped = wrap_data_key(key, published.get());
  ASSERT_TRUE(wrapped) << wrapped.error().to_string();
  EXPECT_EQ(wrapped->algorithm, expected_algorithm());
  EXPECT_EQ(wrapped->recipient_id, recipient_id_of(recipient.get()));
  EXPECT_EQ(wrapped->recipient_id.size(), 64u);
  const std::size_t expected_size = GetParam() ? 256u : 65u + 12 + 32 + 16;
  EXPECT_EQ(wrapped->data.size(), expected_size);

  auto unwrapped = unwrap_data_key(*wrapped, recipient.get());
  ASSERT_TRUE(unwrapped) << unwrapped.error().to_string();
  EXPECT_EQ(unwrapped->bytes, key.bytes);

  // Wrapping is randomised: the same key wraps differently each time.
  auto again = wrap_data_key(key, published.get());
  ASSERT_TRUE(again);
  EXPECT_NE(again->data, wrapped->data);
}

TEST_P(WrapRoundTrip, WrongRecipientIsRefusedByItsId) {
  const auto recipient = make_key();
  const auto stranger = make_key();
  auto wrapped = wrap_data_key(*random_data_key(), recipient.get());
  ASSERT_TRUE(wrapped);
  auto unwrapped = unwrap_data_key(*wrapped, stranger.get());
  ASSERT_FALSE(unwrapped);
  EXPECT_EQ(unwrapped.error().code, "PACKAGE_WRONG_RECIPIENT");
}

TEST_P(WrapRoundTrip, WrongRecipientWithACopiedIdStillFails) {
  // Even if the id is forged to match, the cryptography refuses.
  const auto recipient = make_key();
  const auto stranger = make_key();
  auto wrapped = wrap_data_key(*random_data_key(), recipient.get());
  ASSERT_TRUE(wrapped);
  wrapped->recipient_id = recipient_id_of(stranger.get());
  auto unwrapped = unwrap_data_key(*wrapped, stranger.get());
  ASSERT_FALSE(unwrapped);
  EXPECT_EQ(unwrapped.error().code, "PACKAGE_KEY_UNWRAP_FAILED");
}

TEST_P(WrapRoundTrip, AlteredWrapIsRefused) {
  const auto recipient = make_key();
  auto wrapped = wrap_data_key(*random_data_key(), recipient.get());
  ASSERT_TRUE(wrapped);
  // Flip a byte in every region: point/ciphertext start, nonce, wrapped key, tag.
  for (const std::size_t at : {std::size_t{10}, std::size_t{70}, std::size_t{90}, wrapped->data.size() - 1}) {
    WrappedKey altered = *wrapped;
    altered.data[at] ^= 0x01;
    auto unwrapped = unwrap_data_key(altered, recipient.get());
    ASSERT_FALSE(unwrapped) << "byte " << at;
    EXPECT_EQ(unwrapped.error().code, "PACKAGE_KEY_UNWRAP_FAILED") << "byte " << at;
  }
  WrappedKey cut = *wrapped;
  cut.data.resize(cut.data.size() - 1);
  auto unwrapped = unwrap_data_key(cut, recipient.get());
  ASSERT_FALSE(unwrapped);
  EXPECT_EQ(unwrapped.error().code, "PACKAGE_KEY_UNWRAP_FAILED");
}

TEST_P(WrapRoundTrip, AlgorithmThatDoesNotMatchTheKeyIsRefused) {
  const auto recipient = make_key();
  auto wrapped = wrap_data_key(*random_data_key(), recipient.get());
  ASSERT_TRUE(wrapped);
  wrapped->algorithm = GetParam() ? WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm : WrapAlgorithm::rsa_oaep_sha256;
  auto unwrapped = unwrap_data_key(*wrapped, recipient.get());
  ASSERT_FALSE(unwrapped);
  EXPECT_EQ(unwrapped.error().code, "PACKAGE_KEY_UNWRAP_FAILED");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, WrapRoundTrip, ::testing::Bool(),
                         [](const auto& test) { return test.param ? "Rsa" : "EcdhP256"; });

TEST(Recipients, WeakOrUnsupportedKeysAreRefused) {
  const DataKey key = fixed_key();
  const auto small_rsa = rsa_key(1024);
  const auto other_curve = ec_key("P-384");
  const openssl::Key ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  for (EVP_PKEY* recipient : {small_rsa.get(), other_curve.get(), ed25519.get()}) {
    auto wrapped = wrap_data_key(key, recipient);
    ASSERT_FALSE(wrapped);
    EXPECT_EQ(wrapped.error().code, "PACKAGE_KEY_UNSUPPORTED");
  }
  auto no_key = wrap_data_key(key, nullptr);
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, "PACKAGE_KEY_UNSUPPORTED");
}

TEST(Recipients, IdIsTheSha256OfTheSubjectPublicKeyInfo) {
  const auto recipient = ec_key("P-256");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(recipient.get(), &der);
  std::array<std::uint8_t, 32> digest{};
  unsigned int digest_length = 0;
  EVP_Digest(der, static_cast<std::size_t>(length), digest.data(), &digest_length, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string expected;
  char two[3];
  for (const auto byte : digest) {
    std::snprintf(two, sizeof two, "%02x", byte);
    expected += two;
  }
  EXPECT_EQ(recipient_id_of(recipient.get()), expected);
  EXPECT_EQ(recipient_id_of(public_half(recipient.get()).get()), expected);
  EXPECT_EQ(recipient_id_of(nullptr), "");
}

TEST(Recipients, UnwrappedKeyOpensAStreamSealedWithTheOriginal) {
  const auto recipient = rsa_key(2048);
  const DataKey key = *random_data_key();
  const Bytes plaintext = random_bytes(100000, 3);
  const Bytes sealed = *seal_bytes(plaintext, key, fixed_file_id());
  auto wrapped = wrap_data_key(key, recipient.get());
  ASSERT_TRUE(wrapped);
  auto unwrapped = unwrap_data_key(*wrapped, recipient.get());
  ASSERT_TRUE(unwrapped);
  MemoryFile in(sealed);
  auto verified = verify_stream(in.fd(), *unwrapped);
  ASSERT_TRUE(verified) << verified.error().to_string();
  EXPECT_EQ(verified->plaintext_bytes, plaintext.size());
}

}  // namespace
}  // namespace kiosk::sync::package::test
