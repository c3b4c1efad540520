// `kioskctl evidence verify` on packages sealed from a real journal transaction: valid with the
// device certificate alone and with a recipient key, every failure with its package code in JSON,
// and wrong usage.
#include "kiosk/ctl/evidence_command.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/package/package_test_support.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;
using sync::package::testing::flip_byte;
using sync::package::testing::p256_key;
using sync::package::testing::read_file;
using sync::package::testing::write_file;

struct CommandOutput {
  int status = -1;
  std::string out;
  std::string err;
};

std::string drain(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, read);
  std::fclose(file);
  return text;
}

CommandOutput run(const std::vector<std::string>& args) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CommandOutput result;
  result.status = run_evidence_command(args, out, err);
  result.out = drain(out);
  result.err = drain(err);
  return result;
}

nlohmann::json json_of(const CommandOutput& output) {
  auto parsed = nlohmann::json::parse(output.out, nullptr, false);
  EXPECT_TRUE(parsed.is_object()) << "stdout: " << output.out << "\nstderr: " << output.err;
  return parsed;
}

std::set<std::string> names_in(const fs::path& directory) {
  std::set<std::string> names;
  if (!fs::exists(directory)) return names;
  for (const auto& entry : fs::directory_iterator(directory)) names.insert(entry.path().filename().string());
  return names;
}

// A self-signed certificate for `key`, as the kiosk's device certificate would carry it.
std::string certificate_pem(EVP_PKEY* key) {
  const openssl::Certificate certificate(X509_new());
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("KIOSK-0001"), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate.get()));
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 3600);
  X509_set_pubkey(certificate.get(), key);
  EXPECT_GT(X509_sign(certificate.get(), key, EVP_sha256()), 0);
  const openssl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), certificate.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string private_key_pem(EVP_PKEY* key) {
  const openssl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

struct EvidenceCommandTest : sync::package::testing::PackageFixture {
  fs::path package;
  fs::path device_cert;
  fs::path rsa_key_file;
  fs::path ec_key_file;
  fs::path temp_root;

  void SetUp() override {
    PackageFixture::SetUp();
    if (HasFatalFailure()) return;
    package = sealed_package();
    ASSERT_FALSE(package.empty());
    device_cert = dir.path() / "device.crt";
    write_file(device_cert, certificate_pem(device_key.get()));
    rsa_key_file = dir.path() / "rsa-recipient.pem";
    write_file(rsa_key_file, private_key_pem(rsa_recipient.get()));
    ec_key_file = dir.path() / "ec-recipient.pem";
    write_file(ec_key_file, private_key_pem(ec_recipient.get()));
    // The command's own temporary folder goes here, so the test can see it is removed.
    temp_root = dir.path() / "tmp";
    fs::create_directories(temp_root);
    ::setenv("TMPDIR", temp_root.c_str(), 1);
  }

  void TearDown() override { ::unsetenv("TMPDIR"); }

  std::vector<std::string> verify_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"verify", package.string(), "--device-cert", device_cert.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  void expect_invalid_with(const CommandOutput& output, const std::string& code) const {
    EXPECT_EQ(output.status, 1) << output.out << output.err;
    const auto report = json_of(output);
    EXPECT_EQ(report.value("verdict", ""), "invalid");
    EXPECT_EQ(report.value("code", ""), code) << report.dump();
    EXPECT_FALSE(report.value("message", "").empty());
  }
};

TEST_F(EvidenceCommandTest, ValidWithTheDeviceCertificateAlone) {
  const auto output = run(verify_args({"--json"}));
  ASSERT_EQ(output.status, 0) << output.out << output.err;
  const auto report = json_of(output);
  const auto manifest = manifest_of(package);
  EXPECT_EQ(report["verdict"], "valid");
  EXPECT_EQ(report["package_id"], manifest.package_id);
  EXPECT_EQ(report["transaction_id"], record.id);
  EXPECT_EQ(report["kiosk_id"], "KIOSK-0001");
  EXPECT_EQ(report["operation"], "apply");
  EXPECT_EQ(report["state"], "completed");
  EXPECT_EQ(report["files"], 3);
  const std::uint64_t plaintext_bytes = chip_photo.size() + id_text.size() + form_image.size();
  EXPECT_EQ(report["bytes"], plaintext_bytes);
  EXPECT_EQ(report["signature"], "valid");
  EXPECT_EQ(report["ciphertext_hashes"], "valid");
  EXPECT_EQ(report["decrypted"], false);
  EXPECT_EQ(report.size(), 11U) << report.dump();
  EXPECT_TRUE(names_in(temp_root).empty()) << "nothing decrypted without --key";
}

TEST_F(EvidenceCommandTest, TextReportNamesTheVerdictAndNoPersonalData) {
  const auto output = run(verify_args());
  ASSERT_EQ(output.status, 0) << output.err;
  EXPECT_NE(output.out.find(": valid"), std::string::npos) << output.out;
  EXPECT_NE(output.out.find("apply, completed"), std::string::npos) << output.out;
  EXPECT_NE(output.out.find("decrypted          no"), std::string::npos) << output.out;

  const auto opened = run(verify_args({"--key", ec_key_file.string()}));
  ASSERT_EQ(opened.status, 0) << opened.err;
  for (const auto& text : {output.out, opened.out}) {
    EXPECT_EQ(text.find(sync::package::testing::kInvestorName), std::string::npos);
    EXPECT_EQ(text.find(sync::package::testing::kInvestorIdNumber), std::string::npos);
  }
}

TEST_F(EvidenceCommandTest, ValidWithEachRecipientKeyAndTheDecryptedFilesAreRemoved) {
  for (const auto& key_file : {rsa_key_file, ec_key_file}) {
    const auto output = run(verify_args({"--key", key_file.string(), "--json"}));
    ASSERT_EQ(output.status, 0) << key_file.filename() << ": " << output.out << output.err;
    const auto report = json_of(output);
    EXPECT_EQ(report["verdict"], "valid");
    EXPECT_EQ(report["decrypted"], true);
    EXPECT_TRUE(names_in(temp_root).empty()) << "the temporary folder with personal data is removed";
  }
}

TEST_F(EvidenceCommandTest, DecryptToKeepsTheSameBytes) {
  const fs::path kept = dir.path() / "kept";
  const auto output = run(verify_args({"--key", rsa_key_file.string(), "--decrypt-to", kept.string(), "--json"}));
  ASSERT_EQ(output.status, 0) << output.out << output.err;
  EXPECT_EQ(json_of(output)["decrypted"], true);
  EXPECT_EQ(names_in(kept), (std::set<std::string>{"s002-e01-id_text", "s002-e02-chip_photo", "s003-e01-form_image"}));
  EXPECT_EQ(read_file(kept / "s002-e01-id_text"), id_text);
  EXPECT_EQ(read_file(kept / "s002-e02-chip_photo"),
            std::string(reinterpret_cast<const char*>(chip_photo.data()), chip_photo.size()));
  EXPECT_EQ(read_file(kept / "s003-e01-form_image"), form_image);

  // An existing empty folder is fine too.
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  EXPECT_EQ(run(verify_args({"--key", ec_key_file.string(), "--decrypt-to", empty.string()})).status, 0);
  EXPECT_EQ(names_in(empty).size(), 3U);
}

TEST_F(EvidenceCommandTest, NonEmptyDecryptTargetIsRefusedBeforeAnythingIsDecrypted) {
  const fs::path kept = dir.path() / "kept";
  fs::create_directories(kept);
  write_file(kept / "notes.txt", "an engineer's file");
  const auto output = run(verify_args({"--key", rsa_key_file.string(), "--decrypt-to", kept.string(), "--json"}));
  EXPECT_EQ(output.status, 1);
  const auto report = json_of(output);
  EXPECT_EQ(report["verdict"], "not_checked") << "the package itself was not found bad";
  EXPECT_EQ(report["code"], "EVIDENCE_OUTPUT_NOT_EMPTY");
  EXPECT_EQ(names_in(kept), std::set<std::string>{"notes.txt"});
}

TEST_F(EvidenceCommandTest, FlippedStreamByteIsACiphertextHashMismatch) {
  flip_byte(package / "s002-e02-chip_photo.sealed", 30 + 100);
  expect_invalid_with(run(verify_args({"--json"})), "PACKAGE_CIPHERTEXT_HASH_MISMATCH");

  const fs::path kept = dir.path() / "kept";
  const auto opened = run(verify_args({"--key", ec_key_file.string(), "--decrypt-to", kept.string(), "--json"}));
  expect_invalid_with(opened, "PACKAGE_CIPHERTEXT_HASH_MISMATCH");
  EXPECT_FALSE(fs::exists(kept)) << "a failed check leaves no output folder behind";
}

TEST_F(EvidenceCommandTest, FlippedManifestByteIsASignatureError) {
  flip_byte(package / "manifest.json", 10);
  expect_invalid_with(run(verify_args({"--json"})), "PACKAGE_SIGNATURE_INVALID");
}

// Behind a valid signature (a faulty sealer), only the key path catches a damaged chunk.
TEST_F(EvidenceCommandTest, SignedButDamagedStreamFailsOnlyWithTheKey) {
  const fs::path stream = package / "s003-e01-form_image.sealed";
  flip_byte(stream, 30 + 2);
  const auto digest = journal::digest_file(stream).value();
  auto manifest = manifest_of(package);
  for (auto& step : manifest.steps) {
    for (auto& item : step.evidence) {
      if (item.stream_file == stream.filename()) item.ciphertext_sha256 = digest.sha256_hex;
    }
  }
  resign_manifest(package, sync::package::serialize_manifest(manifest).value());

  EXPECT_EQ(run(verify_args({"--json"})).status, 0) << "without a key the ciphertext hashes are all that is checked";
  expect_invalid_with(run(verify_args({"--key", rsa_key_file.string(), "--json"})), "PACKAGE_CHUNK_TAMPERED");
  EXPECT_TRUE(names_in(temp_root).empty());
}

TEST_F(EvidenceCommandTest, AnotherDevicesCertificateIsASignatureError) {
  const auto other_device = p256_key();
  const fs::path other_cert = dir.path() / "other-device.crt";
  write_file(other_cert, certificate_pem(other_device.get()));
  const auto output = run({"verify", package.string(), "--device-cert", other_cert.string(), "--json"});
  expect_invalid_with(output, "PACKAGE_SIGNATURE_INVALID");

  const auto text = run({"verify", package.string(), "--device-cert", other_cert.string()});
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.err.find("PACKAGE_SIGNATURE_INVALID"), std::string::npos) << text.err;
}

TEST_F(EvidenceCommandTest, AKeyThatIsNoRecipientIsWrongRecipient) {
  const fs::path stranger = dir.path() / "stranger.pem";
  const auto stranger_key = p256_key();
  write_file(stranger, private_key_pem(stranger_key.get()));
  expect_invalid_with(run(verify_args({"--key", stranger.string(), "--json"})), "PACKAGE_WRONG_RECIPIENT");
}

TEST_F(EvidenceCommandTest, UnreadableInputsAreNotAVerdictOnThePackage) {
  const fs::path garbage = dir.path() / "garbage.pem";
  write_file(garbage, "not a certificate");
  for (const auto& [args, code] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"verify", package.string(), "--device-cert", garbage.string(), "--json"},
            "EVIDENCE_DEVICE_CERT_UNREADABLE"},
           {{"verify", package.string(), "--device-cert", (dir.path() / "absent.crt").string(), "--json"},
            "EVIDENCE_DEVICE_CERT_UNREADABLE"},
           {verify_args({"--key", garbage.string(), "--json"}), "EVIDENCE_KEY_UNREADABLE"},
       }) {
    const auto output = run(args);
    EXPECT_EQ(output.status, 1) << code;
    const auto report = json_of(output);
    EXPECT_EQ(report["verdict"], "not_checked") << code;
    EXPECT_EQ(report["code"], code);
  }
}

TEST_F(EvidenceCommandTest, MissingPackageIsFileMissing) {
  const auto output =
      run({"verify", (dir.path() / "tx-00000099.csdcpkg").string(), "--device-cert", device_cert.string(), "--json"});
  expect_invalid_with(output, "PACKAGE_FILE_MISSING");
}

TEST_F(EvidenceCommandTest, WrongUsageExitsTwo) {
  const std::vector<std::vector<std::string>> cases{
      {},
      {"inspect", package.string()},
      {"verify"},
      {"verify", package.string()},
      {"verify", "--device-cert", device_cert.string()},
      {"verify", package.string(), "--device-cert"},
      {"verify", package.string(), package.string(), "--device-cert", device_cert.string()},
      verify_args({"--decrypt-to", (dir.path() / "out").string()}),
      verify_args({"--frobnicate"}),
  };
  for (const auto& args : cases) {
    const auto output = run(args);
    EXPECT_EQ(output.status, 2) << ::testing::PrintToString(args);
    EXPECT_TRUE(output.out.empty()) << ::testing::PrintToString(args);
    EXPECT_NE(output.err.find("kioskctl evidence"), std::string::npos);
  }
  const auto help = run({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("kioskctl evidence verify DIR --device-cert F"), std::string::npos);
}

}  // namespace
}  // namespace kiosk::ctl
