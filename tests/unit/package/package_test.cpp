// Sealing a real journal transaction into a package, verifying and opening it with each recipient
// type, and every tamper case: each region of the package gives its own error and releases nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "package_test_support.hpp"

namespace kiosk::sync::package::testing {
namespace {

std::set<std::string> names_in(const fs::path& directory) {
  std::set<std::string> names;
  if (!fs::exists(directory)) return names;
  for (const auto& entry : fs::directory_iterator(directory)) names.insert(entry.path().filename().string());
  return names;
}

// Evidence files that open_package released into `out`.
std::set<std::string> released_in(const fs::path& out) {
  std::set<std::string> names;
  for (const auto& name : names_in(out)) {
    if (!name.starts_with(".")) names.insert(name);
  }
  return names;
}

const ManifestEvidence& evidence_of_kind(const Manifest& manifest, std::string_view kind) {
  for (const auto& step : manifest.steps) {
    for (const auto& item : step.evidence) {
      if (item.kind == kind) return item;
    }
  }
  static const ManifestEvidence none{};
  ADD_FAILURE() << "no evidence of kind " << kind;
  return none;
}

TEST_F(PackageFixture, SealsAJournalTransactionThatVerifiesAndOpensForEachRecipientType) {
  auto sealed = seal();
  ASSERT_TRUE(sealed) << sealed.error().to_string();
  EXPECT_EQ(sealed->directory, out_dir() / "tx-00000001.csdcpkg");
  EXPECT_EQ(names_in(out_dir()), std::set<std::string>{"tx-00000001.csdcpkg"});  // no .tmp left behind
  EXPECT_EQ(names_in(sealed->directory),
            (std::set<std::string>{"keys.json", "manifest.json", "manifest.sig", "s002-e01-id_text.sealed",
                                   "s002-e02-chip_photo.sealed", "s003-e01-form_image.sealed"}));

  auto verified = verify_package(sealed->directory, device_key.get());
  ASSERT_TRUE(verified) << verified.error().to_string();
  const Manifest& manifest = verified->manifest;
  EXPECT_EQ(manifest.kiosk_id, "KIOSK-0001");
  EXPECT_EQ(manifest.transaction.id, record.id);
  EXPECT_EQ(manifest.transaction.state, TxState::completed);
  EXPECT_EQ(manifest.transaction.rule_pack_version, "2026.11-r1");
  EXPECT_EQ(manifest.audit_checkpoint.count, checkpoint.count);
  EXPECT_EQ(manifest.audit_checkpoint.head_hash, checkpoint.head_hash);
  EXPECT_GT(manifest.audit_checkpoint.count, 0);
  ASSERT_EQ(manifest.steps.size(), 3U);
  EXPECT_FALSE(manifest.steps[0].actor_role.has_value());
  EXPECT_EQ(manifest.steps[2].actor_staff_id, "S1001");
  EXPECT_EQ(manifest.steps[2].actor_role, StaffRole::witness);
  EXPECT_EQ(manifest.recipients.size(), 2U);
  EXPECT_EQ(manifest.steps[1].started_at, "2023-11-14T22:13:21.500Z");
  // Each file's plaintext hash is the one the journal committed with its step.
  for (const auto& step : record.steps) {
    for (const auto& stored : step.evidence) {
      const auto& item = evidence_of_kind(manifest, stored.kind);
      EXPECT_EQ(item.plaintext_sha256, stored.sha256_hex);
      EXPECT_EQ(item.plaintext_size, stored.size);
      EXPECT_GT(item.ciphertext_size, item.plaintext_size);
    }
  }

  const std::vector<std::pair<std::string, EVP_PKEY*>> recipients{{"rsa", rsa_recipient.get()},
                                                                  {"ec", ec_recipient.get()}};
  for (const auto& [type, key] : recipients) {
    const fs::path out = dir.path() / ("opened-" + type);
    auto opened = open_package(sealed->directory, device_key.get(), key, out);
    ASSERT_TRUE(opened) << type << ": " << opened.error().to_string();
    EXPECT_EQ(released_in(out),
              (std::set<std::string>{"s002-e01-id_text", "s002-e02-chip_photo", "s003-e01-form_image"}));
    EXPECT_EQ(names_in(out).size(), 3U) << "the staging folder is removed";
    EXPECT_EQ(read_file(out / "s002-e01-id_text"), id_text);
    EXPECT_EQ(read_file(out / "s002-e02-chip_photo"),
              std::string(reinterpret_cast<const char*>(chip_photo.data()), chip_photo.size()));
    EXPECT_EQ(read_file(out / "s003-e01-form_image"), form_image);
    EXPECT_EQ(opened->files.size(), 3U);
  }
}

TEST_F(PackageFixture, NothingPersonalIsReadableInThePackage) {
  const fs::path package = sealed_package();
  for (const auto& name : names_in(package)) {
    const std::string bytes = read_file(package / name);
    EXPECT_EQ(bytes.find(kInvestorName), std::string::npos) << name;
    EXPECT_EQ(bytes.find(kInvestorIdNumber), std::string::npos) << name;
    EXPECT_EQ(bytes.find(kInvestorIdNumber.substr(0, 10)), std::string::npos) << name;
  }
}

TEST_F(PackageFixture, ManifestIsTheCanonicalEncodingOfWhatWasParsed) {
  const fs::path package = sealed_package();
  const std::string bytes = read_file(package / kManifestFileName);
  auto parsed = parse_manifest(bytes);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  auto again = serialize_manifest(*parsed);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, bytes);
  EXPECT_EQ(bytes.find_first_of(" \n\t\r"), std::string::npos);
  EXPECT_TRUE(bytes.starts_with(R"({"audit_checkpoint":{"count":)")) << bytes.substr(0, 60);
}

// ---- the signature and the manifest --------------------------------------------------------------

TEST_F(PackageFixture, FlippedManifestByteIsASignatureError) {
  const fs::path package = sealed_package();
  flip_byte(package / kManifestFileName, 200);
  auto verified = verify_package(package, device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_SIGNATURE_INVALID");
}

TEST_F(PackageFixture, FlippedSignatureByteIsASignatureError) {
  const fs::path package = sealed_package();
  const auto size = fs::file_size(package / kSignatureFileName);
  for (const std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{5}, size - 1}) {
    const std::string original = read_file(package / kSignatureFileName);
    flip_byte(package / kSignatureFileName, offset);
    auto verified = verify_package(package, device_key.get());
    ASSERT_FALSE(verified) << offset;
    EXPECT_EQ(verified.error().code, "PACKAGE_SIGNATURE_INVALID") << offset;
    write_file(package / kSignatureFileName, original);
  }
  EXPECT_TRUE(verify_package(package, device_key.get()));
}

TEST_F(PackageFixture, AnotherDevicesKeyIsASignatureError) {
  const fs::path package = sealed_package();
  const auto other_device = p256_key();
  auto verified = verify_package(package, other_device.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_SIGNATURE_INVALID");
  auto opened = open_package(package, other_device.get(), ec_recipient.get(), dir.path() / "out");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "PACKAGE_SIGNATURE_INVALID");
  EXPECT_TRUE(released_in(dir.path() / "out").empty());
}

TEST_F(PackageFixture, RespacedManifestFailsEvenWhenSigned) {
  const fs::path package = sealed_package();
  std::string bytes = read_file(package / kManifestFileName);
  bytes.insert(bytes.find(','), " ");  // the same content with one space more

  write_file(package / kManifestFileName, bytes);
  auto unsigned_change = verify_package(package, device_key.get());
  ASSERT_FALSE(unsigned_change);
  EXPECT_EQ(unsigned_change.error().code, "PACKAGE_SIGNATURE_INVALID");

  resign_manifest(package, bytes);
  auto verified = verify_package(package, device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_MANIFEST_INVALID");
  EXPECT_NE(verified.error().message.find("canonical"), std::string::npos) << verified.error().message;
}

TEST_F(PackageFixture, SignedManifestWithABadFieldNamesTheField) {
  const fs::path package = sealed_package();
  std::string bytes = read_file(package / kManifestFileName);
  const std::string hash_key = R"("ciphertext_sha256":")";
  const auto at = bytes.find(hash_key) + hash_key.size();
  bytes[at] = 'G';  // no longer lowercase hex
  resign_manifest(package, bytes);
  auto verified = verify_package(package, device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_MANIFEST_INVALID");
  EXPECT_NE(verified.error().message.find("steps[1].evidence[0].ciphertext_sha256"), std::string::npos)
      << verified.error().message;
}

// ---- keys.json -----------------------------------------------------------------------------------

TEST_F(PackageFixture, FlippedWrappedKeyFailsToUnwrapForThatRecipientOnly) {
  const fs::path package = sealed_package();
  const std::string original = read_file(package / kKeysFileName);
  const std::vector<EVP_PKEY*> recipients{rsa_recipient.get(), ec_recipient.get()};
  for (std::size_t target = 0; target < recipients.size(); ++target) {
    auto keys = parse_keys(original);
    ASSERT_TRUE(keys) << keys.error().to_string();
    const std::string target_id = recipient_id_of(recipients[target]);
    for (auto& key : *keys) {
      if (key.recipient_id == target_id) key.data[key.data.size() / 2] ^= 0x01;
    }
    auto edited = serialize_keys(*keys);
    ASSERT_TRUE(edited);
    write_file(package / kKeysFileName, *edited);

    // keys.json is outside the signature (re-wrapping must stay possible), so verify passes ...
    EXPECT_TRUE(verify_package(package, device_key.get()));
    // ... and the damaged key is caught when it is used.
    const fs::path out = dir.path() / ("out-" + std::to_string(target));
    auto opened = open_package(package, device_key.get(), recipients[target], out);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, "PACKAGE_KEY_UNWRAP_FAILED");
    EXPECT_TRUE(released_in(out).empty());
    const fs::path other_out = dir.path() / ("other-" + std::to_string(target));
    EXPECT_TRUE(open_package(package, device_key.get(), recipients[1 - target], other_out));
    write_file(package / kKeysFileName, original);
  }
}

TEST_F(PackageFixture, KeysJsonWithoutAManifestRecipientIsRefused) {
  const fs::path package = sealed_package();
  auto keys = parse_keys(read_file(package / kKeysFileName));
  ASSERT_TRUE(keys);
  keys->pop_back();
  write_file(package / kKeysFileName, serialize_keys(*keys).value());
  auto verified = verify_package(package, device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_KEYS_INVALID");
}

TEST_F(PackageFixture, NonCanonicalKeysJsonIsRefused) {
  const fs::path package = sealed_package();
  write_file(package / kKeysFileName, read_file(package / kKeysFileName) + "\n");
  auto verified = verify_package(package, device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_KEYS_INVALID");
}

TEST_F(PackageFixture, AKeyThatIsNoRecipientIsTold) {
  const fs::path package = sealed_package();
  const auto stranger = p256_key();
  auto opened = open_package(package, device_key.get(), stranger.get(), dir.path() / "out");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "PACKAGE_WRONG_RECIPIENT");
}

// ---- the sealed streams --------------------------------------------------------------------------

// Offsets in a stream (FORMAT.md "Encrypted stream"): a 30-byte header, then chunks of up to 64 KiB
// of ciphertext each followed by its 16-byte tag.
constexpr std::uint64_t kHeader = 30;
constexpr std::uint64_t kFirstTag = kHeader + 65536;

struct StreamRegion {
  const char* name;
  std::uint64_t offset;  // from the start, or from the end when from_end
  bool from_end;
};

constexpr StreamRegion kRegions[] = {
    {"magic", 0, false},
    {"file id", 20, false},
    {"first chunk", kHeader + 100, false},
    {"first tag", kFirstTag + 3, false},
    {"middle chunk", kFirstTag + 16 + 70000, false},
    {"final chunk", 40, true},
    {"final tag", 1, true},
};

std::uint64_t offset_in(const fs::path& file, const StreamRegion& region) {
  return region.from_end ? fs::file_size(file) - region.offset : region.offset;
}

TEST_F(PackageFixture, FlippedStreamByteInEachRegionIsACiphertextHashMismatch) {
  const fs::path package = sealed_package();
  const fs::path stream = package / "s002-e02-chip_photo.sealed";
  const std::string original = read_file(stream);
  for (const auto& region : kRegions) {
    flip_byte(stream, offset_in(stream, region));
    auto verified = verify_package(package, device_key.get());
    ASSERT_FALSE(verified) << region.name;
    EXPECT_EQ(verified.error().code, "PACKAGE_CIPHERTEXT_HASH_MISMATCH") << region.name;
    const fs::path out = dir.path() / "out";
    auto opened = open_package(package, device_key.get(), rsa_recipient.get(), out);
    ASSERT_FALSE(opened) << region.name;
    EXPECT_EQ(opened.error().code, "PACKAGE_CIPHERTEXT_HASH_MISMATCH") << region.name;
    EXPECT_TRUE(released_in(out).empty()) << region.name;
    write_file(stream, original);
  }
}

TEST_F(PackageFixture, TruncatedStreamIsACiphertextHashMismatch) {
  const fs::path package = sealed_package();
  const fs::path stream = package / "s003-e01-form_image.sealed";
  fs::resize_file(stream, fs::file_size(stream) - 1);
  auto verified = verify_package(package, device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_CIPHERTEXT_HASH_MISMATCH");
}

// Behind a valid signature (a faulty sealer), a damaged stream is still caught by its own tags,
// with the stream's error, and open_package releases none of the package's files.
TEST_F(PackageFixture, SignedButDamagedStreamGivesTheStreamErrorAndReleasesNothing) {
  const fs::path package = sealed_package();
  const fs::path stream = package / "s002-e02-chip_photo.sealed";
  const std::string original_stream = read_file(stream);
  const std::string original_manifest = read_file(package / kManifestFileName);
  const std::string original_signature = read_file(package / kSignatureFileName);
  const std::vector<std::pair<StreamRegion, std::string>> cases{
      {{"magic", 0, false}, "PACKAGE_HEADER_INVALID"},
      {{"file id", 20, false}, "PACKAGE_CHUNK_TAMPERED"},
      {{"first chunk", kHeader + 100, false}, "PACKAGE_CHUNK_TAMPERED"},
      {{"first tag", kFirstTag + 3, false}, "PACKAGE_CHUNK_TAMPERED"},
      {{"final tag", 1, true}, "PACKAGE_CHUNK_TAMPERED"},
  };
  for (const auto& [region, code] : cases) {
    flip_byte(stream, offset_in(stream, region));
    const auto digest = journal::digest_file(stream).value();
    Manifest manifest = manifest_of(package);
    for (auto& step : manifest.steps) {
      for (auto& item : step.evidence) {
        if (item.stream_file == stream.filename()) item.ciphertext_sha256 = digest.sha256_hex;
      }
    }
    resign_manifest(package, serialize_manifest(manifest).value());
    ASSERT_TRUE(verify_package(package, device_key.get())) << region.name;

    const fs::path out = dir.path() / "out";
    auto opened = open_package(package, device_key.get(), ec_recipient.get(), out);
    ASSERT_FALSE(opened) << region.name;
    EXPECT_EQ(opened.error().code, code) << region.name << ": " << opened.error().message;
    // The id_text stream before it decrypted fine, yet nothing is released.
    EXPECT_TRUE(names_in(out).empty()) << region.name;

    write_file(stream, original_stream);
    write_file(package / kManifestFileName, original_manifest);
    write_file(package / kSignatureFileName, original_signature);
  }
  EXPECT_TRUE(open_package(package, device_key.get(), ec_recipient.get(), dir.path() / "out"));
}

TEST_F(PackageFixture, SignedWrongPlaintextHashIsAPlaintextHashMismatch) {
  const fs::path package = sealed_package();
  Manifest manifest = manifest_of(package);
  manifest.steps[2].evidence[0].plaintext_sha256 = std::string(64, 'a');
  resign_manifest(package, serialize_manifest(manifest).value());
  auto opened = open_package(package, device_key.get(), rsa_recipient.get(), dir.path() / "out");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "PACKAGE_PLAINTEXT_HASH_MISMATCH");
  EXPECT_TRUE(names_in(dir.path() / "out").empty());
}

// ---- layout --------------------------------------------------------------------------------------

TEST_F(PackageFixture, EveryMissingFileIsNamed) {
  const fs::path package = sealed_package();
  for (const auto& name : names_in(package)) {
    const std::string original = read_file(package / name);
    fs::remove(package / name);
    auto verified = verify_package(package, device_key.get());
    ASSERT_FALSE(verified) << name;
    EXPECT_EQ(verified.error().code, "PACKAGE_FILE_MISSING") << name;
    EXPECT_NE(verified.error().message.find(name), std::string::npos) << verified.error().message;
    write_file(package / name, original);
  }
  EXPECT_TRUE(verify_package(package, device_key.get()));
}

TEST_F(PackageFixture, UnexpectedFilesAreRefused) {
  const fs::path package = sealed_package();
  write_file(package / "notes.txt", "hello");
  auto with_file = verify_package(package, device_key.get());
  ASSERT_FALSE(with_file);
  EXPECT_EQ(with_file.error().code, "PACKAGE_UNEXPECTED_FILE");
  fs::remove(package / "notes.txt");

  fs::create_directory(package / "extra");
  auto with_directory = verify_package(package, device_key.get());
  ASSERT_FALSE(with_directory);
  EXPECT_EQ(with_directory.error().code, "PACKAGE_UNEXPECTED_FILE");
  fs::remove(package / "extra");

  // A listed stream replaced by a symbolic link to a copy of itself is not a regular file.
  const fs::path stream = package / "s003-e01-form_image.sealed";
  fs::copy_file(stream, dir.path() / "copy.sealed");
  fs::remove(stream);
  fs::create_symlink(dir.path() / "copy.sealed", stream);
  auto with_link = verify_package(package, device_key.get());
  ASSERT_FALSE(with_link);
  EXPECT_EQ(with_link.error().code, "PACKAGE_UNEXPECTED_FILE");
}

TEST_F(PackageFixture, NotADirectoryIsAMissingPackage) {
  auto verified = verify_package(dir.path() / "nothing.csdcpkg", device_key.get());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "PACKAGE_FILE_MISSING");
}

// ---- sealing rules -------------------------------------------------------------------------------

TEST_F(PackageFixture, SealingNeverOverwritesAPackage) {
  const fs::path package = sealed_package();
  const std::string manifest = read_file(package / kManifestFileName);
  auto again = seal();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "PACKAGE_EXISTS");
  EXPECT_EQ(read_file(package / kManifestFileName), manifest);
  EXPECT_EQ(names_in(out_dir()).size(), 1U);
}

TEST_F(PackageFixture, LeftoverOfACrashedSealIsReplaced) {
  fs::create_directories(out_dir() / "tx-00000001.csdcpkg.tmp");
  write_file(out_dir() / "tx-00000001.csdcpkg.tmp" / "manifest.json", "half");
  const fs::path package = sealed_package();
  EXPECT_TRUE(verify_package(package, device_key.get()));
  EXPECT_EQ(names_in(out_dir()), std::set<std::string>{"tx-00000001.csdcpkg"});
}

TEST_F(PackageFixture, OpenTransactionIsNotSealed) {
  record.state = TxState::open;
  record.closed_at.reset();
  auto sealed = seal();
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().code, "PACKAGE_TRANSACTION_OPEN");
}

TEST_F(PackageFixture, EvidenceChangedSinceTheJournalCommittedIsNotSealed) {
  const auto& stored = record.steps[2].evidence[0];
  write_file(evidence_dir() / stored.relative_path, "a different form");
  auto sealed = seal();
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().code, "PACKAGE_EVIDENCE_DAMAGED");
  EXPECT_TRUE(names_in(out_dir()).empty()) << "neither the package nor its temp folder remains";

  fs::remove(evidence_dir() / stored.relative_path);
  auto missing = seal();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "PACKAGE_EVIDENCE_DAMAGED");
}

TEST_F(PackageFixture, UnsuitableKeysAreRefused) {
  const std::vector<EVP_PKEY*> recipients{ec_recipient.get()};
  auto rsa_device = seal_package(record, evidence_dir(), out_dir(), rsa_recipient.get(), recipients, checkpoint, clock);
  ASSERT_FALSE(rsa_device);
  EXPECT_EQ(rsa_device.error().code, "PACKAGE_DEVICE_KEY_UNSUITABLE");

  auto nobody = seal_package(record, evidence_dir(), out_dir(), device_key.get(), {}, checkpoint, clock);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, "PACKAGE_NO_RECIPIENT");

  const std::vector<EVP_PKEY*> twice{ec_recipient.get(), ec_recipient.get()};
  auto duplicate = seal_package(record, evidence_dir(), out_dir(), device_key.get(), twice, checkpoint, clock);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, "PACKAGE_RECIPIENT_DUPLICATE");
  EXPECT_TRUE(names_in(out_dir()).empty());
}

TEST_F(PackageFixture, OpeningNeverOverwritesOutput) {
  const fs::path package = sealed_package();
  const fs::path out = dir.path() / "out";
  ASSERT_TRUE(open_package(package, device_key.get(), rsa_recipient.get(), out));
  write_file(out / "s002-e01-id_text", "kept");
  auto again = open_package(package, device_key.get(), ec_recipient.get(), out);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "PACKAGE_OUTPUT_EXISTS");
  EXPECT_EQ(read_file(out / "s002-e01-id_text"), "kept");
}

}  // namespace
}  // namespace kiosk::sync::package::testing
