// ObjectLockEvidenceStore against a real one-node Ceph RGW and a real PostgreSQL, both started once
// for this process (tests/support/ceph_rgw.sh, tests/support/postgres_server.sh) and stopped at the
// end; a watchdog in each script stops them if this process dies first. Every test skips with the
// exact reason when the services could not be started.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "kiosk/core/config_reader.hpp"
#include "sync/gateway/evidence/object_lock_store.hpp"
#include "sync/gateway/evidence/s3_client.hpp"

namespace {

namespace fs = std::filesystem;
using kiosk::gateway::evidence::ObjectLockEvidenceStore;
using kiosk::gateway::evidence::ObjectLockStoreConfig;
using kiosk::gateway::evidence::PackageQuery;
using kiosk::gateway::evidence::S3Client;
using kiosk::gateway::evidence::S3ClientConfig;
using kiosk::gateway::evidence::StoredPackage;

constexpr const char* kAccessKey = "OBJECTLOCKTESTKEY";
constexpr const char* kSecretKey = "object-lock-test-secret-0123456789";
constexpr const char* kRegion = "us-east-1";
constexpr const char* kBucket = "evidence-test";

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

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 0xf]);
  }
  return hex;
}

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

std::string random_hex(std::size_t size) {
  static std::mt19937_64 random(std::random_device{}());
  std::string hex;
  for (std::size_t i = 0; i < size; ++i) hex.push_back("0123456789abcdef"[random() % 16]);
  return hex;
}

// UTC "YYYY-MM-DDTHH:MM:SS.mmmZ", `offset` from now.
std::string utc_text(std::chrono::milliseconds offset) {
  const auto when = std::chrono::system_clock::now() + offset;
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return text;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

struct ScriptRun {
  int status = -1;
  std::string out;
  std::string err;
};

ScriptRun run_script(const std::string& command, const fs::path& output_prefix) {
  const fs::path out = output_prefix.string() + ".out";
  const fs::path err = output_prefix.string() + ".err";
  const int raw = std::system((command + " >" + out.string() + " 2>" + err.string()).c_str());
  ScriptRun run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read_file(out);
  run.err = read_file(err);
  while (!run.out.empty() && run.out.back() == '\n') run.out.pop_back();
  while (!run.err.empty() && run.err.back() == '\n') run.err.pop_back();
  return run;
}

// The Ceph cluster and the PostgreSQL server, started in parallel once for the whole binary.
class Services : public ::testing::Environment {
 public:
  static inline std::string skip_reason = "the services were not started";
  static inline std::string endpoint;
  static inline std::string conninfo;
  static inline fs::path dir;
  static inline double ceph_start_seconds = 0;
  static inline bool keep_dir = std::getenv("KEEP_OBJECT_LOCK_TEST_DIR") != nullptr;

  void SetUp() override {
    char pattern[] = "/tmp/object-lock-store-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      skip_reason = "cannot create a temporary directory";
      return;
    }
    dir = pattern;
    // The PostgreSQL server runs as the postgres user when we are root: it must reach its directory.
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    const std::string owner = std::to_string(::getpid());
    const int rgw_port = free_port();
    const std::string ceph = std::string(CEPH_RGW_SCRIPT) + " start " + (dir / "ceph").string() + " " +
                             std::to_string(free_port()) + " " + std::to_string(rgw_port) + " " + kAccessKey + " " +
                             kSecretKey + " " + owner;
    const std::string postgres = std::string(POSTGRES_SERVER_SCRIPT) + " start " + (dir / "postgres").string() + " " +
                                 std::to_string(free_port()) + " " + owner;
    ScriptRun ceph_run;
    ScriptRun postgres_run;
    const auto started = std::chrono::steady_clock::now();
    std::thread ceph_thread([&] {
      ceph_run = run_script(ceph, dir / "ceph-start");
      ceph_start_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    });
    postgres_run = run_script(postgres, dir / "postgres-start");
    ceph_thread.join();
    std::printf("[ services ] ceph cold start %.1f s (status %d), postgres status %d\n", ceph_start_seconds,
                ceph_run.status, postgres_run.status);
    // A cluster that was installed but did not come up keeps its logs for a look (the directory stays).
    if (ceph_run.status != 0) {
      skip_reason = "one-node Ceph RGW unavailable: " + ceph_run.err;
      keep_dir = ceph_run.status == 1;
      return;
    }
    if (postgres_run.status != 0) {
      skip_reason = "PostgreSQL unavailable: " + postgres_run.err;
      keep_dir = postgres_run.status == 1;
      return;
    }
    endpoint = "http://127.0.0.1:" + std::to_string(rgw_port);
    conninfo = postgres_run.out;
    write_file(dir / "secret", std::string(kSecretKey) + "\n");
    skip_reason.clear();
  }

  void TearDown() override {
    if (dir.empty()) return;
    run_script(std::string(CEPH_RGW_SCRIPT) + " stop " + (dir / "ceph").string(), dir / "ceph-stop");
    run_script(std::string(POSTGRES_SERVER_SCRIPT) + " stop " + (dir / "postgres").string(), dir / "postgres-stop");
    std::error_code ignored;
    if (!keep_dir) fs::remove_all(dir, ignored);
  }
};

const auto* const kServices = ::testing::AddGlobalTestEnvironment(new Services);

ObjectLockStoreConfig store_config(std::string bucket = kBucket) {
  ObjectLockStoreConfig config;
  config.endpoint = Services::endpoint;
  config.region = kRegion;
  config.bucket = std::move(bucket);
  config.access_key = kAccessKey;
  config.secret_key_file = Services::dir / "secret";
  config.postgres_conninfo = Services::conninfo;
  return config;
}

S3ClientConfig s3_config(std::string endpoint) {
  S3ClientConfig config;
  config.endpoint = std::move(endpoint);
  config.region = kRegion;
  config.access_key = kAccessKey;
  config.secret_key = kSecretKey;
  return config;
}

S3Client raw_s3_client() {
  auto client = S3Client::create(s3_config(Services::endpoint));
  EXPECT_TRUE(client.has_value());
  return std::move(*client);
}

class ObjectLockStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Services::skip_reason.empty()) GTEST_SKIP() << Services::skip_reason;
    auto opened = ObjectLockEvidenceStore::open(store_config());
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    work_ = Services::dir / ("work-" + random_hex(8));
    fs::create_directories(work_);
  }

  // A package archive of `size` random bytes, and its index row (retained for `retention`).
  std::pair<fs::path, StoredPackage> make_package(std::string device_id, std::size_t size,
                                                  std::chrono::milliseconds retention = std::chrono::hours(24)) {
    const std::string bytes = random_bytes(size, ++seed_);
    const fs::path file = work_ / ("archive-" + std::to_string(seed_) + ".tar");
    write_file(file, bytes);
    StoredPackage row;
    row.device_id = std::move(device_id);
    row.package_id = random_hex(32);
    row.transaction_id = "tx-" + std::to_string(10000000 + seed_);
    row.archive_sha256 = sha256_hex(bytes);
    row.archive_size = bytes.size();
    row.manifest_sha256 = sha256_hex("manifest" + std::to_string(seed_));
    row.operation = "apply";
    row.transaction_state = "completed";
    row.closed_at = "2026-11-2" + std::to_string(seed_ % 10) + "T10:00:00.000Z";
    row.checkpoint_count = static_cast<std::int64_t>(seed_);
    row.checkpoint_head_hash = sha256_hex("head" + std::to_string(seed_));
    row.retain_until = utc_text(retention);
    return {file, row};
  }

  std::unique_ptr<ObjectLockEvidenceStore> store_;
  fs::path work_;
  std::uint64_t seed_ = static_cast<std::uint64_t>(std::random_device{}()) % 1000 * 10;
};

TEST_F(ObjectLockStoreTest, PutFindQueryAndReadArchiveRoundTrip) {
  // Over 1 MiB, so curl's "Expect: 100-continue" path is exercised too.
  const std::string device = "dev-" + random_hex(6);
  auto [file, row] = make_package(device, 1536 * 1024 + 7);
  auto [small_file, small_row] = make_package(device, 300);

  auto stored = store_->put(file, row);
  ASSERT_TRUE(stored.has_value()) << stored.error().to_string();
  const std::string key = "evidence/" + device + "/" + row.package_id + "/" + row.archive_sha256 + ".csdcpkg.tar";
  EXPECT_TRUE(stored->object_ref.starts_with(std::string(kBucket) + "/" + key + "#")) << stored->object_ref;
  EXPECT_GT(stored->object_ref.size(), std::string(kBucket).size() + key.size() + 2);  // a non-empty version id
  EXPECT_EQ(stored->received_at.size(), 24u);
  ASSERT_TRUE(store_->put(small_file, small_row).has_value());

  auto found = store_->find(device, row.package_id);
  ASSERT_TRUE(found.has_value()) << found.error().to_string();
  EXPECT_EQ(found->object_ref, stored->object_ref);
  EXPECT_EQ(found->archive_sha256, row.archive_sha256);
  EXPECT_EQ(found->archive_size, row.archive_size);
  EXPECT_EQ(found->transaction_id, row.transaction_id);
  EXPECT_EQ(found->closed_at, row.closed_at);
  EXPECT_EQ(found->retain_until, row.retain_until);
  EXPECT_EQ(found->checkpoint_count, row.checkpoint_count);
  EXPECT_FALSE(found->legal_hold);
  EXPECT_EQ(store_->find(device, random_hex(32)).error().code, "EVIDENCE_NOT_FOUND");

  PackageQuery by_device;
  by_device.device_id = device;
  auto rows = store_->query(by_device);
  ASSERT_TRUE(rows.has_value()) << rows.error().to_string();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_LT((*rows)[0].transaction_id, (*rows)[1].transaction_id);  // ordered by (device, transaction, package)

  PackageQuery by_transaction;
  by_transaction.transaction_id = small_row.transaction_id;
  by_transaction.device_id = device;
  rows = store_->query(by_transaction);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].package_id, small_row.package_id);

  PackageQuery by_pairs;
  by_pairs.device_transactions = {{device, row.transaction_id}, {"other-device", small_row.transaction_id}};
  rows = store_->query(by_pairs);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].package_id, row.package_id);

  PackageQuery by_time;
  by_time.device_id = device;
  by_time.closed_from = row.closed_at;
  by_time.closed_to = row.closed_at;  // exclusive: nothing
  rows = store_->query(by_time);
  ASSERT_TRUE(rows.has_value());
  EXPECT_TRUE(rows->empty());

  auto checkpoint = store_->checkpoint_hash_at(device, row.checkpoint_count);
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->value_or(""), row.checkpoint_head_hash);
  EXPECT_FALSE(store_->checkpoint_hash_at(device, 999999).value().has_value());

  const fs::path copy = work_ / "copy.tar";
  auto read = store_->read_archive(*found, copy);
  ASSERT_TRUE(read.has_value()) << read.error().to_string();
  EXPECT_TRUE(read_file(copy) == read_file(file));
}

TEST_F(ObjectLockStoreTest, PuttingTheSamePackageAgainReturnsTheFirstRow) {
  auto [file, row] = make_package("dev-" + random_hex(6), 4096);
  auto first = store_->put(file, row);
  ASSERT_TRUE(first.has_value()) << first.error().to_string();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  StoredPackage again = row;
  again.received_at = utc_text(std::chrono::milliseconds(0));
  auto second = store_->put(file, again);
  ASSERT_TRUE(second.has_value()) << second.error().to_string();
  EXPECT_EQ(second->object_ref, first->object_ref);  // no second object version was written
  EXPECT_EQ(second->received_at, first->received_at);
}

TEST_F(ObjectLockStoreTest, AnotherArchiveForTheSamePackageIsAConflict) {
  auto [file, row] = make_package("dev-" + random_hex(6), 4096);
  ASSERT_TRUE(store_->put(file, row).has_value());
  auto [other_file, other_row] = make_package(row.device_id, 4096);
  other_row.package_id = row.package_id;
  auto conflict = store_->put(other_file, other_row);
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, "EVIDENCE_CONFLICT");
  EXPECT_EQ(store_->find(row.device_id, row.package_id).value().archive_sha256, row.archive_sha256);
}

TEST_F(ObjectLockStoreTest, TheBucketRefusesBytesThatAreNotTheRowsHashAndNothingIsIndexed) {
  auto [file, row] = make_package("dev-" + random_hex(6), 4096);
  write_file(file, random_bytes(4096, 424242));  // changed after the caller hashed it
  auto stored = store_->put(file, row);
  ASSERT_FALSE(stored.has_value());
  EXPECT_EQ(stored.error().code, "EVIDENCE_STORE_FAILED");
  EXPECT_NE(stored.error().message.find("S3_BAD_DIGEST"), std::string::npos) << stored.error().message;
  EXPECT_EQ(store_->find(row.device_id, row.package_id).error().code, "EVIDENCE_NOT_FOUND");
}

TEST_F(ObjectLockStoreTest, RemoveBeforeRetainUntilIsRefusedByUsAndByTheBucket) {
  auto [file, row] = make_package("dev-" + random_hex(6), 2048);
  auto stored = store_->put(file, row);
  ASSERT_TRUE(stored.has_value()) << stored.error().to_string();

  auto removed = store_->remove(row.device_id, row.package_id, utc_text(std::chrono::milliseconds(0)));
  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().code, "EVIDENCE_RETENTION_ACTIVE");

  // Bypass our check: a versioned DELETE straight to RGW is refused by Object Lock itself.
  const auto hash = stored->object_ref.rfind('#');
  const std::string key =
      stored->object_ref.substr(std::string(kBucket).size() + 1, hash - std::string(kBucket).size() - 1);
  const std::string version = stored->object_ref.substr(hash + 1);
  S3Client s3 = raw_s3_client();
  auto deleted = s3.delete_object(kBucket, key, version);
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().code, "S3_ACCESS_DENIED") << deleted.error().message;
  EXPECT_NE(deleted.error().message.find("HTTP 403"), std::string::npos) << deleted.error().message;

  // Still there, still readable.
  EXPECT_TRUE(store_->read_archive(*stored, work_ / "still-there.tar").has_value());
}

TEST_F(ObjectLockStoreTest, LegalHoldBlocksRemoveUntilCleared) {
  // Retained for only two seconds, so the hold is the one thing left in the way.
  auto [file, row] = make_package("dev-" + random_hex(6), 2048, std::chrono::seconds(2));
  auto stored = store_->put(file, row);
  ASSERT_TRUE(stored.has_value()) << stored.error().to_string();
  ASSERT_TRUE(store_->set_legal_hold(row.device_id, row.package_id, true).has_value());
  EXPECT_TRUE(store_->find(row.device_id, row.package_id).value().legal_hold);
  EXPECT_EQ(store_->set_legal_hold(row.device_id, random_hex(32), true).error().code, "EVIDENCE_NOT_FOUND");

  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const std::string now = utc_text(std::chrono::milliseconds(0));
  ASSERT_GT(now, row.retain_until);
  auto removed = store_->remove(row.device_id, row.package_id, now);
  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().code, "EVIDENCE_LEGAL_HOLD");

  // The bucket enforces the hold as well.
  const auto hash = stored->object_ref.rfind('#');
  const std::string key =
      stored->object_ref.substr(std::string(kBucket).size() + 1, hash - std::string(kBucket).size() - 1);
  S3Client s3 = raw_s3_client();
  auto deleted = s3.delete_object(kBucket, key, stored->object_ref.substr(hash + 1));
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().code, "S3_ACCESS_DENIED") << deleted.error().message;

  ASSERT_TRUE(store_->set_legal_hold(row.device_id, row.package_id, false).has_value());
  auto finally_removed = store_->remove(row.device_id, row.package_id, utc_text(std::chrono::milliseconds(0)));
  ASSERT_TRUE(finally_removed.has_value()) << finally_removed.error().to_string();
  EXPECT_EQ(store_->find(row.device_id, row.package_id).error().code, "EVIDENCE_NOT_FOUND");
  EXPECT_EQ(store_->read_archive(*stored, work_ / "gone.tar").error().code, "EVIDENCE_NOT_FOUND");
}

TEST_F(ObjectLockStoreTest, ReadArchiveDetectsBytesThatDoNotMatchTheRow) {
  auto [file, row] = make_package("dev-" + random_hex(6), 8192);
  auto stored = store_->put(file, row);
  ASSERT_TRUE(stored.has_value()) << stored.error().to_string();
  StoredPackage wrong = *stored;
  wrong.archive_sha256 = sha256_hex("not the archive");
  const fs::path copy = work_ / "corrupt-copy.tar";
  auto read = store_->read_archive(wrong, copy);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, "EVIDENCE_CORRUPT");
  EXPECT_FALSE(fs::exists(copy));
  for (const auto& entry : fs::directory_iterator(work_))
    EXPECT_EQ(entry.path().filename().string().find(".part-"), std::string::npos) << entry.path();
}

TEST_F(ObjectLockStoreTest, AWrongSecretKeyIsAnAuthenticationError) {
  write_file(work_ / "wrong-secret", "not-the-secret\n");
  ObjectLockStoreConfig config = store_config();
  config.secret_key_file = work_ / "wrong-secret";
  auto opened = ObjectLockEvidenceStore::open(config);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, "S3_AUTH_FAILED");
  EXPECT_NE(opened.error().message.find("SignatureDoesNotMatch"), std::string::npos) << opened.error().message;
  EXPECT_EQ(opened.error().message.find("not-the-secret"), std::string::npos);
}

TEST_F(ObjectLockStoreTest, ABucketWithoutObjectLockIsRefused) {
  if (std::system("command -v curl >/dev/null") != 0)
    GTEST_SKIP() << "the curl program is needed to make a plain bucket";
  const std::string plain_bucket = "plain-" + random_hex(8);
  // A bucket made without x-amz-bucket-object-lock-enabled, as a careless operator would.
  const std::string command = "curl -s -f -o /dev/null -X PUT --aws-sigv4 aws:amz:" + std::string(kRegion) +
                              ":s3 --user " + kAccessKey + ":" + kSecretKey +
                              " -H x-amz-content-sha256:UNSIGNED-PAYLOAD " + Services::endpoint + "/" + plain_bucket;
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto opened = ObjectLockEvidenceStore::open(store_config(plain_bucket));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, "EVIDENCE_STORE_UNSAFE");
}

TEST(ObjectLockStoreConfigTest, ReadsTheEvidenceTables) {
  auto reader = kiosk::ConfigReader::from_string(R"toml(
[evidence.s3]
endpoint = "https://rgw.head-office.example:443"
region = "default"
bucket = "csdc-evidence"
access_key = "AKEXAMPLE"
secret_key_file = "secrets/s3-secret"
ca_file = "ca.pem"
[evidence.postgres]
conninfo = "host=db.example dbname=evidence"
)toml",
                                                 "test.toml", "/etc/gateway");
  ASSERT_TRUE(reader.has_value());
  auto config = kiosk::gateway::evidence::read_object_lock_store_config(*reader);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->endpoint, "https://rgw.head-office.example:443");
  EXPECT_EQ(config->region, "default");
  EXPECT_EQ(config->bucket, "csdc-evidence");
  EXPECT_EQ(config->secret_key_file, fs::path("/etc/gateway/secrets/s3-secret"));
  EXPECT_EQ(config->ca_file, fs::path("/etc/gateway/ca.pem"));
  EXPECT_EQ(config->postgres_conninfo, "host=db.example dbname=evidence");
  EXPECT_TRUE(reader->check_no_unknown_keys().has_value());
}

TEST(ObjectLockStoreConfigTest, RefusesPlainHttpOffLoopbackAndMissingKeys) {
  auto reader = kiosk::ConfigReader::from_string(R"toml(
[evidence.s3]
endpoint = "http://rgw.head-office.example"
bucket = "csdc-evidence"
access_key = "AKEXAMPLE"
secret_key_file = "secret"
[evidence.postgres]
conninfo = "dbname=evidence"
)toml",
                                                 "test.toml");
  ASSERT_TRUE(reader.has_value());
  auto config = kiosk::gateway::evidence::read_object_lock_store_config(*reader);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, "EVIDENCE_STORE_CONFIG");

  auto missing = kiosk::ConfigReader::from_string("[evidence.s3]\nendpoint = \"http://127.0.0.1:9000\"\n", "test.toml");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(kiosk::gateway::evidence::read_object_lock_store_config(*missing).error().code, "EVIDENCE_STORE_CONFIG");

  auto client = S3Client::create(s3_config("http://10.0.0.5:7480"));
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code, "S3_URL_INVALID");
}

}  // namespace
