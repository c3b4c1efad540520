// Shared by the package container tests: device and recipient keys, a real journal transaction
// with evidence, and byte-level file edits for the tamper cases.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "sync/package/package_reader.hpp"
#include "sync/package/package_writer.hpp"
#include "tests/unit/journal/journal_test_support.hpp"

namespace kiosk::sync::package::testing {

namespace fs = std::filesystem;
using journal::testing::read_file;
using journal::testing::ScratchDir;

inline openssl::Key p256_key() { return openssl::Key(EVP_EC_gen("P-256")); }

// The personal data a real evidence file holds; it must never appear in clear in a package.
inline constexpr std::string_view kInvestorName = "ZHANG San";
inline constexpr std::string_view kInvestorIdNumber = "110101199003071234";

inline std::vector<std::uint8_t> random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::vector<std::uint8_t> bytes(size);
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(engine());
  return bytes;
}

inline void write_file(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void flip_byte(const fs::path& file, std::uint64_t offset) {
  std::string bytes = read_file(file);
  ASSERT_LT(offset, bytes.size()) << file.filename();
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x01);
  write_file(file, bytes);
}

// A device, two head-office recipients of different types, and a journal with one finished
// transaction of three steps: one without an actor or evidence file, one with two files (the
// second spans four stream chunks), one by a staff member with one file.
struct PackageFixture : ::testing::Test {
  ScratchDir dir;
  ManualClock clock;
  openssl::Key device_key = p256_key();
  openssl::Key rsa_recipient = openssl::Key(EVP_RSA_gen(2048));
  openssl::Key ec_recipient = p256_key();
  std::vector<std::uint8_t> chip_photo = random_bytes(3 * 65536 + 123, 7);
  std::string id_text = "name=" + std::string(kInvestorName) + ";id=" + std::string(kInvestorIdNumber);
  std::string form_image = "form bytes signed by " + std::string(kInvestorName);
  std::optional<journal::Journal> journal;
  journal::TransactionRecord record;
  audit::Checkpoint checkpoint;

  fs::path evidence_dir() const { return dir.path() / "evidence"; }
  fs::path out_dir() const { return dir.path() / "outbox"; }

  void SetUp() override {
    journal::JournalOptions options;
    options.database = dir.path() / "journal.sqlite";
    options.evidence_dir = evidence_dir();
    options.clock = &clock;
    auto opened = journal::Journal::open(options);
    ASSERT_TRUE(opened) << opened.error().to_string();
    journal.emplace(std::move(*opened));

    auto tx = journal->open_transaction(journal::testing::sample_header());
    ASSERT_TRUE(tx) << tx.error().to_string();
    clock.advance(std::chrono::milliseconds{1500});
    const journal::StepRecord consent{
        StepId::consent, "", std::nullopt, clock.now(), clock.now() + std::chrono::milliseconds{250}, "ok"};
    ASSERT_TRUE(journal->commit_step(*tx, consent, {}));

    const fs::path photo_source = dir.path() / "chip_photo.bin";
    write_file(photo_source, std::string_view(reinterpret_cast<const char*>(chip_photo.data()), chip_photo.size()));
    const auto id_bytes = journal::testing::bytes_of(id_text);
    const std::vector<journal::EvidenceInput> idv_evidence{
        journal::EvidenceInput::from_bytes("id_text", id_bytes),
        journal::EvidenceInput::from_file("chip_photo", photo_source)};
    const journal::StepRecord idv{StepId::idv, "", std::nullopt, clock.now(), clock.now() + std::chrono::seconds{2},
                                  "ok"};
    auto idv_step = journal->commit_step(*tx, idv, idv_evidence);
    ASSERT_TRUE(idv_step) << idv_step.error().to_string();

    clock.advance(std::chrono::seconds{30});
    const auto form_bytes = journal::testing::bytes_of(form_image);
    const std::vector<journal::EvidenceInput> form_evidence{
        journal::EvidenceInput::from_bytes("form_image", form_bytes)};
    auto witnessed =
        journal->commit_step(*tx, journal::testing::sample_step(StepId::witness_signing, clock), form_evidence);
    ASSERT_TRUE(witnessed) << witnessed.error().to_string();
    clock.advance(std::chrono::seconds{5});
    ASSERT_TRUE(journal->close_transaction(*tx, TxState::completed, "ok"));

    auto stored = journal->transaction(*tx);
    ASSERT_TRUE(stored) << stored.error().to_string();
    record = *stored;
    auto head = journal->audit_log()->head();
    ASSERT_TRUE(head) << head.error().to_string();
    checkpoint = *head;
    clock.advance(std::chrono::seconds{1});
  }

  Result<SealedPackage> seal() const {
    const std::vector<EVP_PKEY*> recipients{rsa_recipient.get(), ec_recipient.get()};
    return seal_package(record, evidence_dir(), out_dir(), device_key.get(), recipients, checkpoint, clock);
  }

  // Seals and fails the test if sealing fails.
  fs::path sealed_package() const {
    auto sealed = seal();
    if (!sealed) ADD_FAILURE() << sealed.error().to_string();
    return sealed ? sealed->directory : fs::path{};
  }

  // Replaces manifest.json by `bytes` and signs them with the device key: what a device with a bug
  // (or a stolen device key) could produce, so that the checks behind the signature are reached.
  void resign_manifest(const fs::path& package, std::string_view bytes) const {
    write_file(package / kManifestFileName, bytes);
    auto signature = sign_manifest(bytes, device_key.get());
    ASSERT_TRUE(signature) << signature.error().to_string();
    write_file(package / kSignatureFileName,
               std::string_view(reinterpret_cast<const char*>(signature->data()), signature->size()));
  }

  // The manifest as sealed, for edits.
  Manifest manifest_of(const fs::path& package) const {
    auto parsed = parse_manifest(read_file(package / kManifestFileName));
    if (!parsed) ADD_FAILURE() << parsed.error().to_string();
    return parsed.value_or(Manifest{});
  }
};

}  // namespace kiosk::sync::package::testing
