// The inspection export (REQ-44) end to end against the real `gateway` program: a package sealed
// from a real journal transaction by the enrolled device's key is uploaded with the `curl` program
// (tus creation + one PATCH; the gateway's intake verifies and stores it), an NCIIS check names the
// transaction, then `kioskctl evidence export` runs as an inspector (by transaction, by investor id,
// by dates) and as a witness, and every call is found in evidence_access.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "kiosk/core/journal/journal.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/store.hpp"
#include "sync/package/package_archive.hpp"
#include "sync/package/package_writer.hpp"

namespace {

namespace fs = std::filesystem;
using kiosk::ctl::testing::GatewayProcess;
using nlohmann::json;

constexpr const char* kDeviceId = "SIM-0101";              // what GatewayProcess enrols
constexpr const char* kInvestorId = "11010519491231002X";  // a person of the embedded NCIIS fixtures
constexpr const char* kInvestorName = "测试一";

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct CommandRun {
  int status = -1;
  std::string out;
};

// Runs a shell command and captures its standard output.
CommandRun run(const std::string& command) {
  CommandRun result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), got);
  const int wait_status = ::pclose(pipe);
  result.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  return result;
}

std::string raw_sha256_base64(std::string_view bytes) {
  const std::string hex = kiosk::gateway::sha256_hex_of(bytes);
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return kiosk::gateway::base64_encode(raw);
}

class EvidenceExport : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway_ = std::make_unique<GatewayProcess>();
    ASSERT_TRUE(gateway_->started()) << "the gateway did not start; see " << gateway_->root() / "gateway.log";
    work_ = gateway_->root() / "work";
    fs::create_directories(work_);
    const json ports = json::parse(read_file(gateway_->root() / "data" / "run" / "ports.json"));
    console_url_ = "https://127.0.0.1:" + std::to_string(ports["console"].get<int>());
    for (const auto& [staff_id, role] : {std::pair{"I0001", "inspector"}, std::pair{"W0001", "witness"}}) {
      const std::string add = "printf 'pw-" + std::string(staff_id) + "\\n' | " + GATEWAY_BINARY +
                              " add-staff --data-dir " + (gateway_->root() / "data").string() + " --staff-id " +
                              staff_id + " --name 'Test " + role + "' --role " + role + " >/dev/null 2>&1";
      ASSERT_EQ(std::system(add.c_str()), 0) << add;
      std::ofstream(work_ / (std::string(staff_id) + ".pw")) << "pw-" << staff_id << "\n";
    }
    seal_and_upload();
  }

  // A real journal transaction of this device, sealed with its enrolled key and uploaded.
  void seal_and_upload() {
    kiosk::ManualClock clock;
    kiosk::journal::JournalOptions options;
    options.database = work_ / "journal.sqlite";
    options.evidence_dir = work_ / "evidence";
    options.clock = &clock;
    auto journal = kiosk::journal::Journal::open(options);
    ASSERT_TRUE(journal) << journal.error().to_string();
    kiosk::journal::TransactionHeader header;
    header.channel = kiosk::Channel::witness;
    header.kiosk_id = kDeviceId;
    header.rule_pack_version = "2026.11-r1";
    header.terms_version_hash = "sha256-terms-v3";
    auto tx = journal->open_transaction(header);
    ASSERT_TRUE(tx) << tx.error().to_string();
    clock.advance(std::chrono::seconds{2});
    const std::string form = "the signed paper form";
    const std::vector<std::uint8_t> form_bytes(form.begin(), form.end());
    const std::vector<kiosk::journal::EvidenceInput> evidence{
        kiosk::journal::EvidenceInput::from_bytes("form_image", form_bytes)};
    const kiosk::journal::StepRecord step{
        kiosk::StepId::consent, "", std::nullopt, clock.now(), clock.now() + std::chrono::seconds{1}, "ok"};
    ASSERT_TRUE(journal->commit_step(*tx, step, evidence));
    clock.advance(std::chrono::seconds{5});
    ASSERT_TRUE(journal->close_transaction(*tx, kiosk::TxState::completed, "ok"));
    auto record = journal->transaction(*tx);
    ASSERT_TRUE(record);
    auto checkpoint = journal->audit_log()->head();
    ASSERT_TRUE(checkpoint);
    auto device_key = kiosk::gateway::load_private_key(gateway_->key_file());
    ASSERT_TRUE(device_key) << device_key.error().to_string();
    kiosk::openssl::Key recipient(EVP_EC_gen("P-256"));
    const std::vector<EVP_PKEY*> recipients{recipient.get()};
    auto sealed = kiosk::sync::package::seal_package(*record, options.evidence_dir, work_ / "outbox", device_key->get(),
                                                     recipients, *checkpoint, clock);
    ASSERT_TRUE(sealed) << sealed.error().to_string();
    package_id_ = sealed->manifest.package_id;
    char name[32];
    std::snprintf(name, sizeof name, "tx-%08lld", static_cast<long long>(*tx));
    transaction_id_ = name;

    auto reader = kiosk::sync::package::PackageArchiveReader::open(sealed->directory);
    ASSERT_TRUE(reader) << reader.error().to_string();
    std::string archive(reader->size(), '\0');
    ASSERT_TRUE(reader->read_at(0, std::span(reinterpret_cast<std::uint8_t*>(archive.data()), archive.size())));
    archive_sha256_ = reader->sha256();
    std::ofstream(work_ / "archive.tar", std::ios::binary) << archive;

    const std::string device_curl = std::string(CURL_PROGRAM) + " -sS --cacert " + gateway_->ca_file().string() +
                                    " --cert " + gateway_->cert_file().string() + " --key " +
                                    gateway_->key_file().string();
    const std::string metadata = "package_id " + kiosk::gateway::base64_encode(package_id_) + ",transaction_id " +
                                 kiosk::gateway::base64_encode(transaction_id_) + ",archive_sha256 " +
                                 kiosk::gateway::base64_encode(archive_sha256_);
    const CommandRun created =
        run(device_curl + " -o /dev/null -D - -X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: " +
            std::to_string(archive.size()) + "' -H 'Upload-Metadata: " + metadata + "' " + gateway_->device_url() +
            "/v1/device/uploads");
    const auto at = created.out.find("ocation: ");
    ASSERT_NE(at, std::string::npos) << created.out;
    std::string location = created.out.substr(at + 9, created.out.find('\r', at) - at - 9);
    const CommandRun patched = run(device_curl + " -o /dev/null -w '%{http_code}' -X PATCH -H 'Tus-Resumable: 1.0.0' " +
                                   "-H 'Content-Type: application/offset+octet-stream' -H 'Upload-Offset: 0' " +
                                   "-H 'Upload-Checksum: sha256 " + raw_sha256_base64(archive) + "' --data-binary @" +
                                   (work_ / "archive.tar").string() + " " + gateway_->device_url() + location);
    ASSERT_EQ(patched.out, "204") << "PATCH failed; see " << gateway_->root() / "gateway.log";
    // The kiosk names the transaction in its NCIIS check: the inspector's investor search finds it.
    const CommandRun checked =
        run(device_curl + " -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' " + "--data '" +
            json{{"transaction_id", transaction_id_}, {"name", kInvestorName}, {"id_number", kInvestorId}}.dump() +
            "' " + gateway_->device_url() + "/v1/device/nciis-check");
    ASSERT_EQ(checked.out, "200");
  }

  CommandRun export_as(const std::string& staff_id, const std::string& criteria, const fs::path& out) {
    return run(std::string(KIOSKCTL_BINARY) + " evidence export --gateway " + console_url_ + " --ca " +
               gateway_->ca_file().string() + " --staff-id " + staff_id + " --password-file " +
               (work_ / (staff_id + ".pw")).string() + " " + criteria + " --out " + out.string() + " --json 2>" +
               (work_ / "stderr.txt").string());
  }

  std::vector<kiosk::gateway::EvidenceAccessRecord> access_rows() {
    auto store = kiosk::gateway::Store::open(gateway_->root() / "data");
    EXPECT_TRUE(store);
    if (!store) return {};
    auto rows = store->evidence_access_records();
    EXPECT_TRUE(rows);
    return rows ? *rows : std::vector<kiosk::gateway::EvidenceAccessRecord>{};
  }

  std::unique_ptr<GatewayProcess> gateway_;
  fs::path work_;
  std::string console_url_;
  std::string package_id_;
  std::string transaction_id_;
  std::string archive_sha256_;
};

TEST_F(EvidenceExport, AnInspectorExportsAVerifiedPackageAndAWitnessIsRefused) {
  const fs::path out = work_ / "export-by-transaction";
  const CommandRun exported = export_as("I0001", "--transaction " + transaction_id_ + " --device " + kDeviceId, out);
  ASSERT_EQ(exported.status, 0) << exported.out << read_file(work_ / "stderr.txt");
  const json report = json::parse(read_file(out / "export.json"));
  EXPECT_EQ(json::parse(exported.out), report);
  EXPECT_EQ(report["staff_id"], "I0001");
  EXPECT_EQ(report["role"], "inspector");
  ASSERT_EQ(report["packages"].size(), 1u);
  const json& item = report["packages"][0];
  EXPECT_EQ(item["package_id"], package_id_);
  EXPECT_EQ(item["archive_sha256"], archive_sha256_);
  EXPECT_EQ(item["verification"]["verdict"], "valid");
  const fs::path package_dir = out / kDeviceId / transaction_id_ / (transaction_id_ + ".csdcpkg");
  EXPECT_TRUE(fs::exists(package_dir / "manifest.json"));
  EXPECT_EQ(read_file(out / kDeviceId / transaction_id_ / "device.crt"), read_file(gateway_->cert_file()));
  EXPECT_NE(read_file(out / "README.txt").find("kioskctl evidence verify"), std::string::npos);
  // The offline check the README describes.
  const CommandRun verified =
      run(std::string(KIOSKCTL_BINARY) + " evidence verify " + package_dir.string() + " --device-cert " +
          (out / kDeviceId / transaction_id_ / "device.crt").string() + " --json");
  EXPECT_EQ(verified.status, 0) << verified.out;

  // The same export into the now non-empty folder is refused before anything is asked.
  const CommandRun again = export_as("I0001", "--transaction " + transaction_id_, out);
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(read_file(work_ / "stderr.txt").find("EXPORT_OUTPUT_NOT_EMPTY"), std::string::npos);

  const CommandRun witness = export_as("W0001", "--transaction " + transaction_id_, work_ / "export-witness");
  EXPECT_EQ(witness.status, 1);
  EXPECT_NE(read_file(work_ / "stderr.txt").find("EXPORT_FORBIDDEN"), std::string::npos);
  EXPECT_FALSE(fs::exists(work_ / "export-witness" / "export.json"));

  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 4u);  // inspector: search, archive, certificate; witness: search
  EXPECT_EQ(rows[0].action, "search");
  EXPECT_EQ(rows[0].staff_id, "I0001");
  EXPECT_EQ(rows[0].result_code, "OK");
  EXPECT_EQ(rows[0].count, 1);
  EXPECT_EQ(rows[1].action, "archive");
  EXPECT_EQ(rows[1].result_code, "OK");
  EXPECT_EQ(rows[2].action, "certificate");
  EXPECT_EQ(rows[2].result_code, "OK");
  EXPECT_EQ(rows[3].staff_id, "W0001");
  EXPECT_EQ(rows[3].role, "witness");
  EXPECT_EQ(rows[3].result_code, "EXPORT_FORBIDDEN");
  // The archive's private copy is gone once sent.
  EXPECT_TRUE(fs::is_empty(gateway_->root() / "data" / "tmp" / "export"));
}

// The archive route as any HTTP client sees it: the bytes streamed from the server's file body are
// the uploaded archive, with its content type and hash headers.
TEST_F(EvidenceExport, TheArchiveRouteStreamsTheUploadedBytes) {
  const std::string console_curl = std::string(CURL_PROGRAM) + " -sS --cacert " + gateway_->ca_file().string();
  const CommandRun signed_in =
      run(console_curl + " -X POST -H 'Content-Type: application/json' --data '" +
          json{{"staff_id", "I0001"}, {"password", "pw-I0001"}}.dump() + "' " + console_url_ + "/v1/console/sign-in");
  const json session = json::parse(signed_in.out, nullptr, false);
  ASSERT_TRUE(session.is_object() && session.contains("token")) << signed_in.out;
  const fs::path body = work_ / "downloaded.tar";
  const CommandRun fetched = run(console_curl + " -D - -o " + body.string() + " -H 'Authorization: Bearer " +
                                 session["token"].get<std::string>() + "' " + console_url_ + "/v1/console/evidence/" +
                                 kDeviceId + "/" + package_id_ + "/archive");
  EXPECT_NE(fetched.out.find("200"), std::string::npos) << fetched.out;
  EXPECT_NE(fetched.out.find("application/x-tar"), std::string::npos) << fetched.out;
  EXPECT_NE(fetched.out.find(archive_sha256_), std::string::npos) << fetched.out;
  EXPECT_EQ(read_file(body), read_file(work_ / "archive.tar"));
}

TEST_F(EvidenceExport, AnInvestorAndADateRangeFindThePackageWithoutLeakingTheIdNumber) {
  const fs::path by_investor = work_ / "export-by-investor";
  const CommandRun investor = export_as("I0001", std::string("--investor-id ") + kInvestorId, by_investor);
  ASSERT_EQ(investor.status, 0) << investor.out << read_file(work_ / "stderr.txt");
  const json report = json::parse(read_file(by_investor / "export.json"));
  ASSERT_EQ(report["packages"].size(), 1u);
  EXPECT_EQ(report["packages"][0]["package_id"], package_id_);
  EXPECT_EQ(read_file(by_investor / "export.json").find(kInvestorId), std::string::npos);

  // ManualClock starts at 2023-11-14T22:13:20Z: the transaction closed that day (UTC).
  const CommandRun dates = export_as("I0001", "--from 2023-11-14 --to 2023-11-14", work_ / "export-by-date");
  ASSERT_EQ(dates.status, 0) << dates.out << read_file(work_ / "stderr.txt");
  EXPECT_EQ(json::parse(read_file(work_ / "export-by-date" / "export.json"))["packages"].size(), 1u);
  const CommandRun other_day = export_as("I0001", "--from 2023-11-15 --to 2023-11-16", work_ / "export-other-day");
  ASSERT_EQ(other_day.status, 0);
  EXPECT_TRUE(json::parse(read_file(work_ / "export-other-day" / "export.json"))["packages"].empty());

  const auto rows = access_rows();
  ASSERT_FALSE(rows.empty());
  EXPECT_NE(rows.front().criteria.find("investor_id_hmac"), std::string::npos);
  EXPECT_EQ(rows.front().criteria.find(kInvestorId), std::string::npos);
  EXPECT_EQ(read_file(gateway_->root() / "gateway.log").find(kInvestorId), std::string::npos);
  EXPECT_EQ(read_file(gateway_->root() / "data" / "index.sqlite").find(kInvestorId), std::string::npos);
}

}  // namespace

namespace {

TEST(EvidenceExportUsage, WrongUsageExitsWith2AndHelpNamesTheCriteria) {
  const std::string kioskctl = KIOSKCTL_BINARY;
  const std::string common = " evidence export --gateway https://127.0.0.1:1 --ca ca.crt --staff-id I0001 --out x";
  EXPECT_EQ(run(kioskctl + common + " 2>/dev/null").status, 2);  // no criterion
  EXPECT_EQ(run(kioskctl + common + " --transaction tx-00000001 --investor-id 11010519491231002X 2>/dev/null").status,
            2);
  EXPECT_EQ(run(kioskctl + common + " --from 2026-11-02 --to 2026-11-01 2>/dev/null").status, 2);
  EXPECT_EQ(run(kioskctl + common + " --device SIM-0001 2>/dev/null").status, 2);
  EXPECT_EQ(run(kioskctl + " evidence export --transaction tx-00000001 2>/dev/null").status, 2);
  const CommandRun help = run(kioskctl + " evidence export --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--investor-id"), std::string::npos);
  EXPECT_NE(run(kioskctl + " evidence --help").out.find("evidence export"), std::string::npos);
}

}  // namespace
