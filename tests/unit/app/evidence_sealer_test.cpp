// The kiosk's evidence sealer: an ended transaction becomes a verified package in the outbox, a
// transaction that ended before a crash is sealed at the next start, and nothing is sealed twice.
#include "kiosk/app/evidence_sealer.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>

#include "sync/package/package_reader.hpp"
#include "tests/unit/journal/journal_test_support.hpp"

namespace kiosk::app {
namespace {

using journal::testing::bytes_of;
using journal::testing::JournalFixture;

openssl::Key make_p256() { return openssl::Key(EVP_EC_gen("P-256")); }

void write_pem(const std::filesystem::path& file, EVP_PKEY* key, bool private_key) {
  std::FILE* out = std::fopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  if (private_key) {
    PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_PUBKEY(out, key);
  }
  std::fclose(out);
}

class EvidenceSealerTest : public JournalFixture {
 protected:
  void SetUp() override {
    write_pem(dir.path() / "device.key", device.get(), true);
    write_pem(dir.path() / "recipient.pem", recipient.get(), false);
  }

  EvidenceSealerConfig config() const {
    return EvidenceSealerConfig{
        .state_dir = dir.path() / "state",
        .evidence_dir = dir.path() / "evidence",
        .device_key = {.key = (dir.path() / "device.key").string(), .pkcs11_module = {}, .pin_file = {}},
        .recipient_files = {dir.path() / "recipient.pem"}};
  }

  // One transaction with a step and an evidence file, closed (or left open).
  journal::TxId add_transaction(journal::Journal& journal, bool close) {
    auto tx = journal.open_transaction(journal::testing::sample_header());
    EXPECT_TRUE(tx) << tx.error().to_string();
    const auto photo = bytes_of("a photo of the signed form");
    const journal::EvidenceInput evidence[] = {journal::EvidenceInput::from_bytes("form_image", photo)};
    EXPECT_TRUE(journal.commit_step(*tx, journal::testing::sample_step(StepId::consent, clock), evidence));
    if (close) {
      EXPECT_TRUE(journal.close_transaction(*tx, TxState::completed, "COMPLETED"));
    }
    return *tx;
  }

  openssl::Key device = make_p256();
  openssl::Key recipient = make_p256();
};

TEST_F(EvidenceSealerTest, ATransactionEndedBeforeACrashIsSealedAtStartAndOnlyOnce) {
  auto journal = open_journal();
  add_transaction(journal, true);
  add_transaction(journal, false);  // still open: not sealed
  {
    auto sealer = EvidenceSealer::start(config(), clock);
    ASSERT_TRUE(sealer) << sealer.error().to_string();
    auto submitted = (*sealer)->submit_unsealed(journal);
    ASSERT_TRUE(submitted) << submitted.error().to_string();
    EXPECT_EQ(*submitted, 1u);
    (*sealer)->drain();
  }
  const auto package = dir.path() / "state" / "outbox" / "tx-00000001.csdcpkg";
  ASSERT_TRUE(std::filesystem::is_directory(package));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "state" / "outbox" / "tx-00000002.csdcpkg"));
  auto verified = sync::package::verify_package(package, device.get());
  EXPECT_TRUE(verified) << verified.error().to_string();

  // Restarted: the package is queued already, so nothing is sealed again.
  auto again = EvidenceSealer::start(config(), clock);
  ASSERT_TRUE(again) << again.error().to_string();
  auto resubmitted = (*again)->submit_unsealed(journal);
  ASSERT_TRUE(resubmitted) << resubmitted.error().to_string();
  EXPECT_EQ(*resubmitted, 0u);
}

TEST_F(EvidenceSealerTest, WithoutARecipientOrWithAnUnreadableKeyItRefusesToStart) {
  auto no_recipient = config();
  no_recipient.recipient_files.clear();
  auto refused = EvidenceSealer::start(no_recipient, clock);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "EVIDENCE_NO_RECIPIENT");
  auto bad_key = config();
  bad_key.device_key.key = (dir.path() / "recipient.pem").string();  // a public key where the private one belongs
  auto unreadable = EvidenceSealer::start(bad_key, clock);
  ASSERT_FALSE(unreadable);
  EXPECT_EQ(unreadable.error().code, "DEVICE_KEY_UNREADABLE");
  auto bad_recipient = config();
  bad_recipient.recipient_files = {dir.path() / "device.key.missing"};
  auto no_recipient_key = EvidenceSealer::start(bad_recipient, clock);
  ASSERT_FALSE(no_recipient_key);
  EXPECT_EQ(no_recipient_key.error().code, "EVIDENCE_KEY_UNREADABLE");
}

}  // namespace
}  // namespace kiosk::app
