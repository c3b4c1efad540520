// The upload store keeps the uploading device's verified certificate with each upload and hands it
// to the sink (the intake verifies the manifest signature with it); an uploads table made before the
// column existed is migrated in place.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "sync/gateway/nciis.hpp"
#include "sync/gateway/uploads/upload_store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace kiosk::gateway::uploads;

class RecordingSink final : public CompletedUploadSink {
 public:
  kiosk::Result<void> accept(const CompletedUpload& upload) override {
    last = upload;
    return {};
  }
  std::optional<CompletedUpload> last;
};

class UploadCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "upload-cert-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    data_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(data_, ignored);
  }
  fs::path data_;
};

constexpr std::string_view kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

TEST_F(UploadCertificateTest, CertificateTravelsFromCreationToTheSink) {
  RecordingSink sink;
  auto store = UploadStore::open(data_, UploadLimits{}, sink);
  ASSERT_TRUE(store.has_value()) << store.error().to_string();
  const std::string bytes = "archive";
  auto created =
      (*store)->create("KIOSK-0001", "PKG-1", "tx-00000001", kiosk::gateway::sha256_hex_of(bytes), bytes.size(), kPem);
  ASSERT_TRUE(created.has_value()) << created.error().to_string();
  EXPECT_EQ(created->record.device_certificate_pem, kPem);
  auto found = (*store)->find("KIOSK-0001", created->record.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->device_certificate_pem, kPem);
  ASSERT_TRUE((*store)->append("KIOSK-0001", created->record.id, 0, bytes).has_value());
  ASSERT_TRUE(sink.last.has_value());
  EXPECT_EQ(sink.last->device_certificate_pem, kPem);
  EXPECT_EQ(sink.last->package_id, "PKG-1");
}

TEST_F(UploadCertificateTest, TableWithoutTheColumnIsMigrated) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_ / "index.sqlite").c_str(), &db), SQLITE_OK);
  // The uploads table as the first version of the upload store made it, with one open upload.
  const char* old_schema =
      "CREATE TABLE uploads (id TEXT PRIMARY KEY NOT NULL, device_id TEXT NOT NULL, package_id TEXT NOT NULL,"
      " transaction_id TEXT NOT NULL, archive_sha256 TEXT NOT NULL, length INTEGER NOT NULL,"
      " upload_offset INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN ('open','complete','failed')),"
      " error_code TEXT NOT NULL DEFAULT '', handed_over INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
      " completed_at INTEGER NOT NULL DEFAULT 0, UNIQUE (device_id, package_id));"
      "INSERT INTO uploads (id, device_id, package_id, transaction_id, archive_sha256, length, upload_offset, state,"
      " created_at) VALUES ('0123456789abcdef0123456789abcdef', 'KIOSK-0001', 'PKG-OLD', 'tx-00000001',"
      " '"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "', 10, 0, 'open', 1);";
  ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  fs::create_directories(data_ / "uploads" / "partial");
  std::ofstream(data_ / "uploads" / "partial" / "0123456789abcdef0123456789abcdef");

  RecordingSink sink;
  auto store = UploadStore::open(data_, UploadLimits{}, sink);
  ASSERT_TRUE(store.has_value()) << store.error().to_string();
  auto old = (*store)->find("KIOSK-0001", "0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(old.has_value()) << old.error().to_string();
  EXPECT_EQ(old->device_certificate_pem, "");  // not known for a row made before the column
  auto created = (*store)->create("KIOSK-0001", "PKG-NEW", "tx-00000002", std::string(64, 'b'), 5, kPem);
  ASSERT_TRUE(created.has_value()) << created.error().to_string();
  EXPECT_EQ((*store)->find("KIOSK-0001", created->record.id)->device_certificate_pem, kPem);
  // Opening again does not try to add the column twice.
  store->reset();
  auto reopened = UploadStore::open(data_, UploadLimits{}, sink);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().to_string();
}

}  // namespace
