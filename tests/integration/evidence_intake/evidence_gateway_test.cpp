// The evidence intake against the real `gateway` program on loopback: packages sealed with an
// enrolled device's key, uploaded with the `curl` program over mutual TLS per
// sync/gateway/uploads/PROTOCOL.md, then GET /v1/device/receipts/<package_id> and verify_receipt
// against the dev CA the kiosk pins.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "evidence_test_support.hpp"
#include "nlohmann/json.hpp"
#include "sync/gateway/evidence/evidence_intake.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/package/receipt.hpp"
#include "tests/support/gateway_process.hpp"

namespace {

namespace fs = std::filesystem;
namespace pkg = kiosk::sync::package;
using namespace kiosk::gateway::evidence::testing;
using kiosk::gateway::base64_encode;
using kiosk::gateway::sha256_hex_of;

std::string read_text(const fs::path& file) { return pkg::testing::read_file(file); }

std::string raw_sha256(std::string_view bytes) {
  const std::string hex = sha256_hex_of(bytes);
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return raw;
}

struct Answer {
  int status = 0;
  std::string location;
  std::string body;
};

class EvidenceAgainstGateway : public pkg::testing::PackageFixture {
 protected:
  void SetUp() override {
    PackageFixture::SetUp();
    if (HasFatalFailure()) return;
    root_ = dir.path() / "gw";
    fs::create_directories(root_);
    // Head office's recipient key, so the intake also checks the wrapped data key and the tags.
    auto recipient_pem = kiosk::gateway::private_key_pem(ec_recipient.get());
    ASSERT_TRUE(recipient_pem.has_value());
    pkg::testing::write_file(root_ / "recipient.key", *recipient_pem);
    gateway_ = std::make_unique<kiosk::testing::GatewayProcess>(kiosk::testing::GatewayProcessOptions{
        .gateway_binary = GATEWAY_BINARY,
        .root = root_,
        .devices = {"KIOSK-0001", "KIOSK-0002"},
        .extra_toml = "[evidence]\nstore = \"embedded\"\nretention_years = 20\nrecipient_key_file = \"" +
                      (root_ / "recipient.key").string() + "\"\n"});
    ASSERT_EQ(gateway_->problem(), "");
    port_ = gateway_->device_port();
    // The package is signed with the enrolled device's own key, as the kiosk does.
    auto key = kiosk::gateway::load_private_key(root_ / "KIOSK-0001" / "device.key");
    ASSERT_TRUE(key.has_value()) << key.error().to_string();
    device_key = std::move(*key);
    auto ca = kiosk::gateway::load_certificate(root_ / "KIOSK-0001" / "ca.crt");
    ASSERT_TRUE(ca.has_value());
    ca_ = std::move(*ca);
  }

  void TearDown() override { gateway_.reset(); }

  // curl with `device`'s identity; `extra` are further, already shell-safe, arguments.
  Answer curl(const std::string& device, const std::string& extra, const std::string& path) {
    const fs::path headers = root_ / "headers.txt";
    const fs::path body = root_ / "body.txt";
    fs::remove(headers);
    fs::remove(body);
    const fs::path id = root_ / device;
    const std::string command = std::string(CURL_PROGRAM) + " -sS --cacert " + (id / "ca.crt").string() + " --cert " +
                                (id / "device.crt").string() + " --key " + (id / "device.key").string() + " -D " +
                                headers.string() + " -o " + body.string() + " " + extra +
                                " 'https://127.0.0.1:" + std::to_string(port_) + path + "' 2>/dev/null";
    (void)std::system(command.c_str());
    Answer answer;
    std::istringstream lines(read_text(headers));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.starts_with("HTTP/")) answer.status = std::stoi(line.substr(line.find(' ') + 1, 3));
      if (line.starts_with("Location:") || line.starts_with("location:")) answer.location = line.substr(10);
    }
    answer.body = read_text(body);
    return answer;
  }

  // Creates the upload and sends the whole archive in one PATCH; returns the PATCH answer.
  Answer upload(const std::string& device, const pkg::SealedPackage& sealed, const std::string& archive) {
    const std::string metadata =
        "package_id " + base64_encode(sealed.manifest.package_id) + ",transaction_id " +
        base64_encode(kiosk::gateway::evidence::transaction_id_text(sealed.manifest.transaction.id)) +
        ",archive_sha256 " + base64_encode(sha256_hex_of(archive));
    const Answer created =
        curl(device,
             "-X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: " + std::to_string(archive.size()) +
                 "' -H 'Upload-Metadata: " + metadata + "'",
             "/v1/device/uploads");
    if (created.status != 201 && created.status != 200) {
      ADD_FAILURE() << "create: " << created.status << " " << created.body;
      return created;
    }
    const fs::path chunk = root_ / "chunk.bin";
    pkg::testing::write_file(chunk, archive);
    return curl(device,
                "-X PATCH -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' "
                "-H 'Upload-Offset: 0' -H 'Upload-Checksum: sha256 " +
                    base64_encode(raw_sha256(archive)) + "' --data-binary @" + chunk.string(),
                created.location);
  }

  Answer receipt(const std::string& device, const std::string& package_id) {
    return curl(device, "", "/v1/device/receipts/" + package_id);
  }

  pkg::SealedPackage seal_new() {
    const fs::path out = dir.path() / ("sealed-" + std::to_string(++sealed_count_));
    const std::vector<EVP_PKEY*> recipients{rsa_recipient.get(), ec_recipient.get()};
    auto sealed = pkg::seal_package(record, evidence_dir(), out, device_key.get(), recipients, checkpoint, clock);
    EXPECT_TRUE(sealed.has_value()) << sealed.error().to_string();
    return sealed.value_or(pkg::SealedPackage{});
  }

  std::size_t stored_objects() {
    std::size_t count = 0;
    const fs::path objects = root_ / "data" / "evidence" / "objects";
    for (const auto& entry : fs::recursive_directory_iterator(objects)) count += entry.is_regular_file() ? 1 : 0;
    return count;
  }

  fs::path root_;
  std::unique_ptr<kiosk::testing::GatewayProcess> gateway_;
  int port_ = 0;
  kiosk::gateway::CertPtr ca_;
  int sealed_count_ = 0;
};

TEST_F(EvidenceAgainstGateway, UploadedPackageGetsAReceiptThatVerifiesAgainstTheDevCa) {
  const auto sealed = seal_new();
  const std::string archive = archive_of(sealed.directory);
  EXPECT_EQ(receipt("KIOSK-0001", sealed.manifest.package_id).status, 404);  // nothing yet
  const Answer patched = upload("KIOSK-0001", sealed, archive);
  ASSERT_EQ(patched.status, 204) << patched.body;

  const Answer got = receipt("KIOSK-0001", sealed.manifest.package_id);
  ASSERT_EQ(got.status, 200) << got.body;
  auto verified = pkg::verify_receipt(got.body, ca_.get());
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->device_id, "KIOSK-0001");
  EXPECT_EQ(verified->package_id, sealed.manifest.package_id);
  EXPECT_EQ(verified->archive_sha256, sha256_hex_of(archive));
  EXPECT_EQ(verified->archive_size, archive.size());
  EXPECT_EQ(verified->store, "embedded");
  EXPECT_GT(verified->retain_until.substr(0, 4), "2045");

  // Another device asking for it: not found, exactly like a package that does not exist.
  const Answer foreign = receipt("KIOSK-0002", sealed.manifest.package_id);
  EXPECT_EQ(foreign.status, 404);
  EXPECT_NE(foreign.body.find("RECEIPT_NOT_FOUND"), std::string::npos);
  EXPECT_EQ(receipt("KIOSK-0001", "0123456789abcdef0123456789abcdef").status, 404);
  // The log names codes and ids, never evidence content.
  const std::string log = read_text(root_ / "gateway.log");
  EXPECT_NE(log.find("evidence_receipted"), std::string::npos);
  EXPECT_EQ(log.find(std::string(pkg::testing::kInvestorName)), std::string::npos);
  EXPECT_EQ(log.find(std::string(pkg::testing::kInvestorIdNumber)), std::string::npos);
}

TEST_F(EvidenceAgainstGateway, SamePackageUploadedTwiceIsStoredOnceWithTheSameReceipt) {
  const auto sealed = seal_new();
  const std::string archive = archive_of(sealed.directory);
  ASSERT_EQ(upload("KIOSK-0001", sealed, archive).status, 204);
  const Answer first = receipt("KIOSK-0001", sealed.manifest.package_id);
  ASSERT_EQ(first.status, 200);
  // The replay: the upload store answers the creation with the finished upload, nothing is re-sent.
  const Answer replay = upload("KIOSK-0001", sealed, archive);
  EXPECT_EQ(replay.status, 409) << replay.body;
  EXPECT_NE(replay.body.find("UPLOAD_COMPLETE"), std::string::npos) << replay.body;
  const Answer second = receipt("KIOSK-0001", sealed.manifest.package_id);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(stored_objects(), 1u);
}

TEST_F(EvidenceAgainstGateway, LegalHoldBlocksThePurgeWhichDeletesOnlyPastRetention) {
  const auto sealed = seal_new();
  ASSERT_EQ(upload("KIOSK-0001", sealed, archive_of(sealed.directory)).status, 204);
  ASSERT_EQ(receipt("KIOSK-0001", sealed.manifest.package_id).status, 200);
  const std::string data = (root_ / "data").string();
  const auto run = [&](const std::string& arguments) {
    const std::string command =
        std::string(GATEWAY_BINARY) + " " + arguments + " >> " + (root_ / "commands.log").string() + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const std::string package = " --device KIOSK-0001 --package " + sealed.manifest.package_id;
  // Within the 20 years: nothing to purge.
  EXPECT_EQ(run("evidence-purge --data-dir " + data + " --now 2040-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(stored_objects(), 1u);
  // Past retention but on hold: kept.
  ASSERT_EQ(run("legal-hold --data-dir " + data + package + " --on"), 0);
  EXPECT_EQ(run("evidence-purge --data-dir " + data + " --now 2100-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(stored_objects(), 1u);
  // Hold lifted: deleted, and logged.
  ASSERT_EQ(run("legal-hold --data-dir " + data + package + " --off"), 0);
  EXPECT_EQ(run("evidence-purge --data-dir " + data + " --now 2100-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(stored_objects(), 0u);
  const std::string log = read_text(root_ / "commands.log");
  EXPECT_NE(log.find("evidence_deleted"), std::string::npos) << log;
  EXPECT_NE(log.find("deleted 1 package(s)"), std::string::npos) << log;
  // Usage errors.
  EXPECT_EQ(run("legal-hold --data-dir " + data + package), 2);
  EXPECT_EQ(run("evidence-purge --data-dir " + data + " --now yesterday"), 2);
  EXPECT_EQ(run("legal-hold --data-dir " + data + " --device KIOSK-0001 --package nope --on"), 1);
}

TEST_F(EvidenceAgainstGateway, FlippedByteInEachRegionIsRejectedWithASpecificReason) {
  const std::vector<std::pair<Region, std::string>> cases = {
      {Region::manifest, "PACKAGE_SIGNATURE_INVALID"},
      {Region::signature, "PACKAGE_SIGNATURE_INVALID"},
      {Region::wrapped_key, "PACKAGE_KEY_UNWRAP_FAILED"},
      {Region::stream_chunk, "PACKAGE_CIPHERTEXT_HASH_MISMATCH"},
      {Region::stream_tag, "PACKAGE_CIPHERTEXT_HASH_MISMATCH"},
  };
  for (const auto& [region, reason] : cases) {
    const auto sealed = seal_new();
    flip_region(sealed.directory, region, ec_recipient.get());
    const Answer patched = upload("KIOSK-0001", sealed, archive_of(sealed.directory));
    ASSERT_EQ(patched.status, 204) << region_name(region) << ": " << patched.body;  // the upload itself is done
    const Answer got = receipt("KIOSK-0001", sealed.manifest.package_id);
    EXPECT_EQ(got.status, 422) << region_name(region) << ": " << got.body;
    const auto body = nlohmann::json::parse(got.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << got.body;
    EXPECT_EQ(body.value("code", ""), "PACKAGE_REJECTED") << region_name(region);
    EXPECT_EQ(body.value("reason", ""), reason) << region_name(region) << ": " << got.body;
  }
  EXPECT_EQ(stored_objects(), 0u);
  EXPECT_NE(read_text(root_ / "gateway.log").find("evidence_rejected"), std::string::npos);
}

TEST_F(EvidenceAgainstGateway, PackageOfDeviceAUploadedByDeviceBIsRejected) {
  const auto sealed = seal_new();  // signed by KIOSK-0001
  const Answer patched = upload("KIOSK-0002", sealed, archive_of(sealed.directory));
  ASSERT_EQ(patched.status, 204) << patched.body;
  const Answer got = receipt("KIOSK-0002", sealed.manifest.package_id);
  EXPECT_EQ(got.status, 422) << got.body;
  EXPECT_NE(got.body.find("\"reason\":\"PACKAGE_SIGNER_MISMATCH\""), std::string::npos) << got.body;
  EXPECT_EQ(stored_objects(), 0u);
}

}  // namespace
