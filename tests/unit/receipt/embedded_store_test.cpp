#include "sync/gateway/evidence/embedded_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "sync/gateway/nciis.hpp"

namespace {

namespace fs = std::filesystem;
using namespace kiosk::gateway::evidence;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class EmbeddedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "evidence-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto opened = EmbeddedEvidenceStore::open(root_ / "data");
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    // Objects are 0400 in 0700 directories: removable by their owner.
    fs::remove_all(root_, ignored);
  }

  // An archive file with `content` and a row describing it.
  StoredPackage make(const std::string& name, const std::string& content, const std::string& device = "KIOSK-0001",
                     const std::string& tx = "tx-00000042") {
    const fs::path file = root_ / name;
    write_file(file, content);
    StoredPackage row;
    row.device_id = device;
    row.package_id = kiosk::gateway::sha256_hex_of(name).substr(0, 32);
    row.transaction_id = tx;
    row.archive_sha256 = kiosk::gateway::sha256_hex_of(content);
    row.archive_size = content.size();
    row.manifest_sha256 = std::string(64, 'c');
    row.operation = "apply";
    row.transaction_state = "completed";
    row.closed_at = "2026-11-24T10:07:30.250Z";
    row.checkpoint_count = 17;
    row.checkpoint_head_hash = std::string(64, 'd');
    row.received_at = "2026-11-24T10:08:00.000Z";
    row.retain_until = "2046-11-24T10:08:00.000Z";
    files_[row.package_id] = file;
    return row;
  }

  fs::path file_of(const StoredPackage& row) { return files_[row.package_id]; }

  fs::path root_;
  std::unique_ptr<EmbeddedEvidenceStore> store_;
  std::map<std::string, fs::path> files_;
};

TEST_F(EmbeddedStoreTest, PutStoresContentAddressedReadOnlyObjectAndRow) {
  const StoredPackage row = make("a.tar", "archive bytes of package a");
  auto stored = store_->put(file_of(row), row);
  ASSERT_TRUE(stored.has_value()) << stored.error().to_string();
  EXPECT_EQ(store_->kind(), "embedded");
  EXPECT_EQ(stored->object_ref, "objects/" + row.archive_sha256.substr(0, 2) + "/" + row.archive_sha256);
  const fs::path object = root_ / "data" / "evidence" / stored->object_ref;
  EXPECT_EQ(object, store_->object_path(row.archive_sha256));
  EXPECT_EQ(read_file(object), "archive bytes of package a");
  struct stat info {};
  ASSERT_EQ(::stat(object.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0400u);

  auto found = store_->find("KIOSK-0001", row.package_id);
  ASSERT_TRUE(found.has_value()) << found.error().to_string();
  EXPECT_EQ(found->archive_sha256, row.archive_sha256);
  EXPECT_EQ(found->retain_until, row.retain_until);
  EXPECT_EQ(found->checkpoint_count, 17);
  EXPECT_FALSE(found->legal_hold);
  EXPECT_EQ(store_->find("KIOSK-0002", row.package_id).error().code, "EVIDENCE_NOT_FOUND");
}

TEST_F(EmbeddedStoreTest, PutIsIdempotentAndRefusesAnotherHashForTheSamePackage) {
  const StoredPackage row = make("a.tar", "archive bytes");
  ASSERT_TRUE(store_->put(file_of(row), row).has_value());
  StoredPackage again = row;
  again.received_at = "2026-12-01T00:00:00.000Z";  // a later replay
  again.retain_until = "2046-12-01T00:00:00.000Z";
  auto replay = store_->put(file_of(row), again);
  ASSERT_TRUE(replay.has_value()) << replay.error().to_string();
  EXPECT_EQ(replay->received_at, row.received_at);  // the original row, nothing rewritten
  EXPECT_EQ(replay->retain_until, row.retain_until);

  StoredPackage other = make("b.tar", "other bytes");
  other.package_id = row.package_id;
  auto conflict = store_->put(file_of(other), other);
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, "EVIDENCE_CONFLICT");
}

TEST_F(EmbeddedStoreTest, PutRefusesAnArchiveThatDoesNotMatchItsRow) {
  StoredPackage row = make("a.tar", "archive bytes");
  row.archive_sha256 = std::string(64, 'e');
  auto stored = store_->put(file_of(row), row);
  ASSERT_FALSE(stored.has_value());
  EXPECT_EQ(stored.error().code, "EVIDENCE_STORE_FAILED");
  EXPECT_EQ(store_->find(row.device_id, row.package_id).error().code, "EVIDENCE_NOT_FOUND");
  EXPECT_FALSE(fs::exists(store_->object_path(row.archive_sha256)));
  StoredPackage traversal = make("c.tar", "x");
  traversal.archive_sha256 = "../../../../etc/passwd";
  EXPECT_FALSE(store_->put(file_of(traversal), traversal).has_value());
}

TEST_F(EmbeddedStoreTest, QueryFiltersAndOrders) {
  const StoredPackage a = make("a.tar", "A", "KIOSK-0001", "tx-00000002");
  StoredPackage b = make("b.tar", "B", "KIOSK-0001", "tx-00000001");
  b.closed_at = "2026-10-01T00:00:00.000Z";
  const StoredPackage c = make("c.tar", "C", "KIOSK-0002", "tx-00000001");
  for (const StoredPackage* row : {&a, static_cast<const StoredPackage*>(&b), &c})
    ASSERT_TRUE(store_->put(file_of(*row), *row).has_value());

  auto all = store_->query({});
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].package_id, b.package_id);  // KIOSK-0001 tx-00000001 first
  EXPECT_EQ((*all)[1].package_id, a.package_id);
  EXPECT_EQ((*all)[2].package_id, c.package_id);

  PackageQuery by_device;
  by_device.device_id = "KIOSK-0002";
  EXPECT_EQ(store_->query(by_device)->size(), 1u);
  PackageQuery by_transaction;
  by_transaction.transaction_id = "tx-00000001";
  EXPECT_EQ(store_->query(by_transaction)->size(), 2u);
  PackageQuery by_time;
  by_time.closed_from = "2026-11-01T00:00:00.000Z";
  by_time.closed_to = "2026-12-01T00:00:00.000Z";
  EXPECT_EQ(store_->query(by_time)->size(), 2u);
  PackageQuery pairs;
  pairs.device_transactions = {{"KIOSK-0002", "tx-00000001"}, {"KIOSK-0001", "tx-00000002"}};
  auto paired = store_->query(pairs);
  ASSERT_EQ(paired->size(), 2u);
  EXPECT_EQ((*paired)[0].package_id, a.package_id);
  PackageQuery limited;
  limited.limit = 1;
  EXPECT_EQ(store_->query(limited)->size(), 1u);
}

TEST_F(EmbeddedStoreTest, ReadArchiveCopiesAndDetectsCorruption) {
  const StoredPackage row = make("a.tar", "the archive's bytes");
  auto stored = store_->put(file_of(row), row);
  ASSERT_TRUE(stored.has_value());
  const fs::path copy = root_ / "copy.tar";
  ASSERT_TRUE(store_->read_archive(*stored, copy).has_value());
  EXPECT_EQ(read_file(copy), "the archive's bytes");

  // Bit rot in the stored object (the owner can still chmod it).
  const fs::path object = store_->object_path(row.archive_sha256);
  fs::permissions(object, fs::perms::owner_read | fs::perms::owner_write);
  write_file(object, "the archive's bytez");
  const fs::path second = root_ / "second.tar";
  auto corrupt = store_->read_archive(*stored, second);
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_EQ(corrupt.error().code, "EVIDENCE_CORRUPT");
  EXPECT_FALSE(fs::exists(second));
  // A row pointing outside the object tree is not followed.
  StoredPackage outside = *stored;
  outside.object_ref = "../../a.tar";
  EXPECT_FALSE(store_->read_archive(outside, root_ / "third.tar").has_value());
}

TEST_F(EmbeddedStoreTest, RemoveIsRefusedBeforeRetentionAndUnderHold) {
  const StoredPackage row = make("a.tar", "bytes");
  ASSERT_TRUE(store_->put(file_of(row), row).has_value());
  const fs::path object = store_->object_path(row.archive_sha256);

  auto early = store_->remove(row.device_id, row.package_id, "2046-11-24T10:07:59.999Z");
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code, "EVIDENCE_RETENTION_ACTIVE");
  EXPECT_TRUE(fs::exists(object));

  ASSERT_TRUE(store_->set_legal_hold(row.device_id, row.package_id, true).has_value());
  EXPECT_TRUE(store_->find(row.device_id, row.package_id)->legal_hold);
  auto held = store_->remove(row.device_id, row.package_id, "2050-01-01T00:00:00.000Z");
  ASSERT_FALSE(held.has_value());
  EXPECT_EQ(held.error().code, "EVIDENCE_LEGAL_HOLD");
  auto purgeable = store_->due_for_purge("2050-01-01T00:00:00.000Z", 10);
  ASSERT_TRUE(purgeable.has_value());
  EXPECT_TRUE(purgeable->empty());

  ASSERT_TRUE(store_->set_legal_hold(row.device_id, row.package_id, false).has_value());
  purgeable = store_->due_for_purge("2050-01-01T00:00:00.000Z", 10);
  ASSERT_EQ(purgeable->size(), 1u);
  EXPECT_TRUE(store_->due_for_purge("2046-11-24T10:07:59.999Z", 10)->empty());

  ASSERT_TRUE(store_->remove(row.device_id, row.package_id, "2046-11-24T10:08:00.000Z").has_value());
  EXPECT_FALSE(fs::exists(object));
  EXPECT_EQ(store_->find(row.device_id, row.package_id).error().code, "EVIDENCE_NOT_FOUND");
  EXPECT_EQ(store_->remove(row.device_id, row.package_id, "2050-01-01T00:00:00.000Z").error().code,
            "EVIDENCE_NOT_FOUND");
  EXPECT_EQ(store_->set_legal_hold("KIOSK-0001", "nope", true).error().code, "EVIDENCE_NOT_FOUND");
  EXPECT_FALSE(store_->remove(row.device_id, row.package_id, "yesterday").has_value());
}

TEST_F(EmbeddedStoreTest, CheckpointHashAtReturnsTheStoredHeadForThatCount) {
  const StoredPackage row = make("a.tar", "bytes");
  ASSERT_TRUE(store_->put(file_of(row), row).has_value());
  auto same = store_->checkpoint_hash_at("KIOSK-0001", 17);
  ASSERT_TRUE(same.has_value());
  ASSERT_TRUE(same->has_value());
  EXPECT_EQ(**same, std::string(64, 'd'));
  EXPECT_FALSE(store_->checkpoint_hash_at("KIOSK-0001", 18)->has_value());
  EXPECT_FALSE(store_->checkpoint_hash_at("KIOSK-0002", 17)->has_value());
}

TEST_F(EmbeddedStoreTest, ReopenKeepsRowsAndObjects) {
  const StoredPackage row = make("a.tar", "durable bytes");
  ASSERT_TRUE(store_->put(file_of(row), row).has_value());
  store_.reset();
  auto reopened = EmbeddedEvidenceStore::open(root_ / "data");
  ASSERT_TRUE(reopened.has_value());
  auto found = (*reopened)->find(row.device_id, row.package_id);
  ASSERT_TRUE(found.has_value());
  ASSERT_TRUE((*reopened)->read_archive(*found, root_ / "out.tar").has_value());
  EXPECT_EQ(read_file(root_ / "out.tar"), "durable bytes");
}

}  // namespace
