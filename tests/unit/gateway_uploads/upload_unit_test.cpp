// The tus upload routes (sync/gateway/uploads) through ApiHandler, as the gateway wires them, onto a
// real UploadStore in a temporary DATA directory.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sync/gateway/api.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/uploads/upload_routes.hpp"
#include "sync/gateway/uploads/upload_store.hpp"

namespace kiosk::gateway::uploads {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDevice = "SIM-0001";
constexpr std::string_view kOtherDevice = "SIM-0002";

std::string raw_sha256(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest.data()), size);
}

std::string checksum_header(std::string_view bytes) { return "sha256 " + base64_encode(raw_sha256(bytes)); }

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string header_of(const ApiResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

std::string patterned_bytes(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + seed) & 0xFF);
  return bytes;
}

class RecordingSink final : public CompletedUploadSink {
 public:
  Result<void> accept(const CompletedUpload& upload) override {
    if (refuse) return fail("SINK_DOWN", "the test sink refuses");
    accepted.push_back(upload);
    return {};
  }
  bool refuse = false;
  std::vector<CompletedUpload> accepted;
};

class UploadRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gateway-uploads-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    limits_.max_bytes = 1024 * 1024;
    limits_.max_patch_bytes = 64 * 1024;
    limits_.max_open_per_device = 3;
    reopen();
  }
  void TearDown() override {
    close();
    fs::remove_all(dir_);
  }

  void close() {
    handler_.reset();
    routes_.reset();
    store_.reset();
  }
  void reopen() {
    close();
    auto opened = UploadStore::open(dir_, limits_, sink_);
    ASSERT_TRUE(opened) << opened.error().to_string();
    store_ = std::move(*opened);
    routes_ = std::make_unique<UploadRoutes>(*store_);
    handler_ = std::make_unique<ApiHandler>(
        [](std::string_view) -> Result<std::optional<StaffRecord>> { return std::optional<StaffRecord>(); }, "test",
        kDefaultMaxBodyBytes, 1, NciisCheck{}, [this](const ApiRequest& request) { return routes_->handle(request); });
  }

  static ApiRequest request(std::string method, std::string target, std::string_view device = kDevice) {
    ApiRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.listener = Listener::device;
    r.device_id = std::string(device);
    r.headers.set("Tus-Resumable", "1.0.0");
    return r;
  }

  static std::string metadata(std::string_view package_id, std::string_view hash_hex,
                              std::string_view transaction_id = "TX-0001") {
    return "package_id " + base64_encode(package_id) + ",transaction_id " + base64_encode(transaction_id) +
           ",archive_sha256 " + base64_encode(hash_hex);
  }

  ApiResponse create(std::string_view package_id, const std::string& content, std::string_view device = kDevice) {
    ApiRequest r = request("POST", "/v1/device/uploads", device);
    r.headers.set("Upload-Length", std::to_string(content.size()));
    r.headers.set("Upload-Metadata", metadata(package_id, sha256_hex_of(content)));
    return handler_->handle(r);
  }

  ApiResponse patch(const std::string& location, std::uint64_t offset, std::string_view body,
                    std::string_view device = kDevice) {
    ApiRequest r = request("PATCH", location, device);
    r.headers.set("Content-Type", "application/offset+octet-stream");
    r.headers.set("Upload-Offset", std::to_string(offset));
    r.headers.set("Upload-Checksum", checksum_header(body));
    r.body = std::string(body);
    return handler_->handle(r);
  }

  ApiResponse head(const std::string& location, std::string_view device = kDevice) {
    return handler_->handle(request("HEAD", location, device));
  }

  static std::string id_of(const std::string& location) { return location.substr(location.rfind('/') + 1); }

  fs::path dir_;
  UploadLimits limits_;
  RecordingSink sink_;
  std::unique_ptr<UploadStore> store_;
  std::unique_ptr<UploadRoutes> routes_;
  std::unique_ptr<ApiHandler> handler_;
};

TEST(HeaderMapTest, NamesAreCaseInsensitiveTheFirstValueWinsAndTheCountIsBounded) {
  HeaderMap headers;
  headers.set("Upload-Offset", "10");
  headers.set("upload-offset", "20");
  EXPECT_EQ(headers.get("UPLOAD-OFFSET").value_or(""), "10");
  EXPECT_FALSE(headers.get("Upload-Length"));
  for (int i = 0; i < 200; ++i) headers.set("X-" + std::to_string(i), "v");
  EXPECT_EQ(headers.size(), HeaderMap::kMaxHeaders);
}

TEST(UploadParsingTest, MetadataIsStrict) {
  const std::string hash(64, 'a');
  auto good = parse_upload_metadata("package_id " + base64_encode("PKG-1") + ", transaction_id " +
                                    base64_encode("TX-1") + ",archive_sha256 " + base64_encode(hash));
  ASSERT_TRUE(good) << good.error().to_string();
  EXPECT_EQ(good->package_id, "PKG-1");
  EXPECT_EQ(good->transaction_id, "TX-1");
  EXPECT_EQ(good->archive_sha256, hash);

  const std::string p = "package_id " + base64_encode("PKG-1");
  const std::string t = "transaction_id " + base64_encode("TX-1");
  const std::string h = "archive_sha256 " + base64_encode(hash);
  EXPECT_EQ(parse_upload_metadata(p + "," + t).error().code, "FIELD_MISSING");
  EXPECT_EQ(parse_upload_metadata(p + "," + t + "," + h + ",filename " + base64_encode("x")).error().code,
            "FIELD_UNKNOWN");
  EXPECT_EQ(parse_upload_metadata(p + "," + p + "," + t + "," + h).error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_upload_metadata("package_id UEtHLTE," + t + "," + h).error().code, "FIELD_INVALID");  // no padding
  EXPECT_EQ(parse_upload_metadata(p + "," + t + ",archive_sha256 " + base64_encode(std::string(64, 'A'))).error().code,
            "FIELD_INVALID");  // upper-case hex
  EXPECT_EQ(parse_upload_metadata("package_id " + base64_encode("a/b") + "," + t + "," + h).error().code,
            "FIELD_INVALID");
  EXPECT_EQ(parse_upload_metadata(p + "," + t + ",archive_sha256").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_upload_metadata(std::string(2000, 'a')).error().code, "FIELD_INVALID");
}

TEST(UploadParsingTest, Base64AndDecimalsAreStrict) {
  EXPECT_EQ(decode_base64_strict("QUJD").value_or("?"), "ABC");
  EXPECT_EQ(decode_base64_strict("QUI=").value_or("?"), "AB");
  EXPECT_FALSE(decode_base64_strict("QUJ="));  // non-zero bits under the padding
  EXPECT_FALSE(decode_base64_strict("QU=I"));
  EXPECT_FALSE(decode_base64_strict("QUJ"));
  EXPECT_FALSE(decode_base64_strict("QU-D"));
  EXPECT_EQ(parse_decimal("0").value_or(99), 0u);
  EXPECT_EQ(parse_decimal("1234").value_or(0), 1234u);
  EXPECT_FALSE(parse_decimal("012"));
  EXPECT_FALSE(parse_decimal("+1"));
  EXPECT_FALSE(parse_decimal("-1"));
  EXPECT_FALSE(parse_decimal("12345678901234567890"));
  EXPECT_FALSE(parse_decimal(""));
}

TEST_F(UploadRoutesTest, OptionsAdvertisesTheProtocol) {
  ApiRequest r = request("OPTIONS", "/v1/device/uploads");
  r.headers = HeaderMap();  // OPTIONS needs no Tus-Resumable
  const ApiResponse response = handler_->handle(r);
  EXPECT_EQ(response.status, 204u);
  EXPECT_TRUE(response.no_body);
  EXPECT_EQ(header_of(response, "Tus-Resumable"), "1.0.0");
  EXPECT_EQ(header_of(response, "Tus-Version"), "1.0.0");
  EXPECT_EQ(header_of(response, "Tus-Extension"), "creation,checksum,termination");
  EXPECT_EQ(header_of(response, "Tus-Checksum-Algorithm"), "sha256");
  EXPECT_EQ(header_of(response, "Tus-Max-Size"), std::to_string(limits_.max_bytes));
}

TEST_F(UploadRoutesTest, WithoutTusResumableItIs412) {
  ApiRequest post = request("POST", "/v1/device/uploads");
  post.headers = HeaderMap();
  post.headers.set("Upload-Length", "10");
  const ApiResponse refused = handler_->handle(post);
  EXPECT_EQ(refused.status, 412u);
  EXPECT_NE(refused.body.find("TUS_VERSION_UNSUPPORTED"), std::string::npos);
  EXPECT_EQ(header_of(refused, "Tus-Version"), "1.0.0");

  ApiRequest old_version = request("HEAD", "/v1/device/uploads/0123456789abcdef0123456789abcdef");
  old_version.headers = HeaderMap();
  old_version.headers.set("Tus-Resumable", "0.2.2");
  const ApiResponse head_refused = handler_->handle(old_version);
  EXPECT_EQ(head_refused.status, 412u);
  EXPECT_TRUE(head_refused.no_body);
  EXPECT_TRUE(head_refused.body.empty());
}

TEST_F(UploadRoutesTest, CreationIsIdempotentAndConflictsAreRefused) {
  const std::string content = patterned_bytes(1000, 1);
  const ApiResponse created = create("PKG-1", content);
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string location = header_of(created, "Location");
  ASSERT_TRUE(location.starts_with("/v1/device/uploads/"));
  EXPECT_TRUE(is_valid_upload_id(id_of(location)));
  EXPECT_EQ(header_of(created, "Tus-Resumable"), "1.0.0");
  EXPECT_TRUE(fs::exists(dir_ / "uploads" / "partial" / id_of(location)));

  const ApiResponse again = create("PKG-1", content);
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(header_of(again, "Location"), location);

  const ApiResponse other_hash = create("PKG-1", patterned_bytes(1000, 2));
  EXPECT_EQ(other_hash.status, 409u);
  EXPECT_NE(other_hash.body.find("UPLOAD_CONFLICT"), std::string::npos);

  // The same package id from another device is that device's own upload.
  const ApiResponse other_device = create("PKG-1", content, kOtherDevice);
  EXPECT_EQ(other_device.status, 201u);
  EXPECT_NE(header_of(other_device, "Location"), location);
}

TEST_F(UploadRoutesTest, CreationValidatesLengthAndMetadata) {
  ApiRequest r = request("POST", "/v1/device/uploads");
  r.headers.set("Upload-Metadata", metadata("PKG-1", std::string(64, 'a')));
  EXPECT_EQ(handler_->handle(r).status, 400u);  // no Upload-Length

  for (const auto& [length, status] : std::vector<std::pair<std::string, unsigned>>{
           {"0", 413u}, {std::to_string(limits_.max_bytes + 1), 413u}, {"ten", 400u}, {"-5", 400u}}) {
    ApiRequest bad = request("POST", "/v1/device/uploads");
    bad.headers.set("Upload-Length", length);
    bad.headers.set("Upload-Metadata", metadata("PKG-1", std::string(64, 'a')));
    EXPECT_EQ(handler_->handle(bad).status, status) << length;
  }
  ApiRequest no_metadata = request("POST", "/v1/device/uploads");
  no_metadata.headers.set("Upload-Length", "10");
  const ApiResponse missing = handler_->handle(no_metadata);
  EXPECT_EQ(missing.status, 400u);
  EXPECT_NE(missing.body.find("FIELD_MISSING"), std::string::npos);

  ApiRequest bad_hash = request("POST", "/v1/device/uploads");
  bad_hash.headers.set("Upload-Length", "10");
  bad_hash.headers.set("Upload-Metadata", metadata("PKG-1", "abc"));
  EXPECT_EQ(handler_->handle(bad_hash).status, 400u);
  EXPECT_TRUE(fs::is_empty(dir_ / "uploads" / "partial"));
}

TEST_F(UploadRoutesTest, ThreePatchesCompleteTheUploadAndHandItOver) {
  const std::string content = patterned_bytes(150000, 3);
  const std::string location = header_of(create("PKG-1", content), "Location");
  const std::string id = id_of(location);
  std::uint64_t offset = 0;
  for (std::size_t size : {60000u, 60000u, 30000u}) {
    const ApiResponse answered = patch(location, offset, std::string_view(content).substr(offset, size));
    ASSERT_EQ(answered.status, 204u) << answered.body;
    EXPECT_TRUE(answered.no_body);
    offset += size;
    EXPECT_EQ(header_of(answered, "Upload-Offset"), std::to_string(offset));
    if (offset < content.size()) {
      const ApiResponse state = head(location);
      EXPECT_EQ(state.status, 200u);
      EXPECT_TRUE(state.no_body);
      EXPECT_EQ(header_of(state, "Upload-Offset"), std::to_string(offset));
      EXPECT_EQ(header_of(state, "Upload-Length"), std::to_string(content.size()));
      EXPECT_EQ(header_of(state, "Cache-Control"), "no-store");
      EXPECT_EQ(fs::file_size(dir_ / "uploads" / "partial" / id), offset);
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "uploads" / "partial" / id));
  EXPECT_EQ(read_file(dir_ / "uploads" / "complete" / id), content);
  ASSERT_EQ(sink_.accepted.size(), 1u);
  EXPECT_EQ(sink_.accepted[0].id, id);
  EXPECT_EQ(sink_.accepted[0].device_id, kDevice);
  EXPECT_EQ(sink_.accepted[0].package_id, "PKG-1");
  EXPECT_EQ(sink_.accepted[0].transaction_id, "TX-0001");
  EXPECT_EQ(sink_.accepted[0].archive_sha256, sha256_hex_of(content));

  const ApiResponse state = head(location);
  EXPECT_EQ(header_of(state, "Upload-Offset"), std::to_string(content.size()));
  // Done: more bytes, deletion and re-creation do not touch it.
  EXPECT_EQ(patch(location, content.size(), "").status, 409u);
  const ApiResponse deleted = handler_->handle(request("DELETE", location));
  EXPECT_EQ(deleted.status, 409u);
  EXPECT_NE(deleted.body.find("UPLOAD_COMPLETE"), std::string::npos);
  const ApiResponse recreated = create("PKG-1", content);
  EXPECT_EQ(recreated.status, 200u);
  EXPECT_EQ(header_of(recreated, "Location"), location);
  EXPECT_EQ(sink_.accepted.size(), 1u);
}

TEST_F(UploadRoutesTest, PatchChecksOffsetContentTypeChecksumAndLength) {
  const std::string content = patterned_bytes(100000, 4);
  const std::string location = header_of(create("PKG-1", content), "Location");
  const std::string id = id_of(location);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 40000)).status, 204u);

  const ApiResponse stale = patch(location, 0, std::string_view(content).substr(0, 40000));
  EXPECT_EQ(stale.status, 409u);
  EXPECT_EQ(header_of(stale, "Upload-Offset"), "40000");

  ApiRequest wrong_type = request("PATCH", location);
  wrong_type.headers.set("Content-Type", "application/octet-stream");
  wrong_type.headers.set("Upload-Offset", "40000");
  wrong_type.headers.set("Upload-Checksum", checksum_header("x"));
  wrong_type.body = "x";
  EXPECT_EQ(handler_->handle(wrong_type).status, 415u);

  ApiRequest bad_checksum = request("PATCH", location);
  bad_checksum.headers.set("Content-Type", "application/offset+octet-stream");
  bad_checksum.headers.set("Upload-Offset", "40000");
  bad_checksum.headers.set("Upload-Checksum", checksum_header("something else"));
  bad_checksum.body = content.substr(40000, 1000);
  const ApiResponse mismatch = handler_->handle(bad_checksum);
  EXPECT_EQ(mismatch.status, 460u);
  EXPECT_NE(mismatch.body.find("CHECKSUM_MISMATCH"), std::string::npos);
  EXPECT_EQ(header_of(head(location), "Upload-Offset"), "40000");
  EXPECT_EQ(fs::file_size(dir_ / "uploads" / "partial" / id), 40000u);

  bad_checksum.headers = HeaderMap();
  bad_checksum.headers.set("Tus-Resumable", "1.0.0");
  bad_checksum.headers.set("Content-Type", "application/offset+octet-stream");
  bad_checksum.headers.set("Upload-Offset", "40000");
  EXPECT_EQ(handler_->handle(bad_checksum).status, 400u);  // no Upload-Checksum at all
  bad_checksum.headers.set("Upload-Checksum", "sha1 " + base64_encode(std::string(20, 'x')));
  const ApiResponse sha1 = handler_->handle(bad_checksum);
  EXPECT_EQ(sha1.status, 400u);
  EXPECT_NE(sha1.body.find("CHECKSUM_ALGORITHM_UNSUPPORTED"), std::string::npos);

  const std::string too_far = content.substr(40000) + "extra";
  const ApiResponse past = patch(location, 40000, too_far);
  EXPECT_EQ(past.status, 413u);
  const ApiResponse too_big = patch(location, 40000, std::string(limits_.max_patch_bytes + 1, 'x'));
  EXPECT_EQ(too_big.status, 413u);
  EXPECT_EQ(header_of(head(location), "Upload-Offset"), "40000");
  // And the route tells the server its body limit.
  const RouteBodyLimit limit = routes_->patch_body_limit();
  EXPECT_EQ(limit.method, "PATCH");
  EXPECT_EQ(limit.max_bytes, limits_.max_patch_bytes);
  EXPECT_EQ(limit.too_large.status, 413u);
}

TEST_F(UploadRoutesTest, AnotherDevicesUploadIsNotFound) {
  const std::string content = patterned_bytes(1000, 5);
  const std::string location = header_of(create("PKG-1", content), "Location");
  const ApiResponse foreign_head = head(location, kOtherDevice);
  EXPECT_EQ(foreign_head.status, 404u);
  EXPECT_EQ(header_of(foreign_head, "Upload-Offset"), "<absent>");
  EXPECT_EQ(patch(location, 0, content, kOtherDevice).status, 404u);
  EXPECT_EQ(handler_->handle(request("DELETE", location, kOtherDevice)).status, 404u);
  EXPECT_EQ(head("/v1/device/uploads/0123456789abcdef0123456789abcdef").status, 404u);
  EXPECT_EQ(head("/v1/device/uploads/not-an-id").status, 404u);
  // The upload survived the other device's attempts.
  EXPECT_EQ(head(location).status, 200u);
  // The console listener has no upload routes.
  ApiRequest console = request("HEAD", location);
  console.listener = Listener::console;
  const ApiResponse on_console = handler_->handle(console);
  EXPECT_EQ(on_console.status, 404u);
  EXPECT_NE(on_console.body.find("NOT_FOUND"), std::string::npos);
}

TEST_F(UploadRoutesTest, DeleteRemovesAnUnfinishedUpload) {
  const std::string content = patterned_bytes(5000, 6);
  const std::string location = header_of(create("PKG-1", content), "Location");
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 100)).status, 204u);
  const ApiResponse deleted = handler_->handle(request("DELETE", location));
  EXPECT_EQ(deleted.status, 204u);
  EXPECT_TRUE(deleted.no_body);
  EXPECT_FALSE(fs::exists(dir_ / "uploads" / "partial" / id_of(location)));
  EXPECT_EQ(head(location).status, 404u);
  EXPECT_EQ(handler_->handle(request("DELETE", location)).status, 404u);
  // The package may be uploaded again afresh.
  EXPECT_EQ(create("PKG-1", content).status, 201u);
}

TEST_F(UploadRoutesTest, AWrongWholeFileHashFailsTheUpload) {
  const std::string announced = patterned_bytes(2000, 7);
  std::string sent = announced;
  sent[1500] ^= 0x01;
  const std::string location = header_of(create("PKG-1", announced), "Location");
  ASSERT_EQ(patch(location, 0, std::string_view(sent).substr(0, 1000)).status, 204u);
  const ApiResponse last = patch(location, 1000, std::string_view(sent).substr(1000));
  EXPECT_EQ(last.status, 460u);
  EXPECT_NE(last.body.find("UPLOAD_HASH_MISMATCH"), std::string::npos);
  EXPECT_TRUE(sink_.accepted.empty());
  EXPECT_FALSE(fs::exists(dir_ / "uploads" / "complete" / id_of(location)));
  EXPECT_EQ(head(location).status, 410u);
  EXPECT_EQ(patch(location, 2000, "").status, 410u);
  // A failed upload does not block the package: a new creation starts a new upload.
  const ApiResponse fresh = create("PKG-1", announced);
  EXPECT_EQ(fresh.status, 201u);
  EXPECT_NE(header_of(fresh, "Location"), location);
}

TEST_F(UploadRoutesTest, ADeviceMayHaveOnlySoManyOpenUploads) {
  const std::string content = patterned_bytes(100, 8);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(create("PKG-" + std::to_string(i), content).status, 201u);
  const ApiResponse refused = create("PKG-3", content);
  EXPECT_EQ(refused.status, 429u);
  EXPECT_NE(refused.body.find("UPLOAD_LIMIT"), std::string::npos);
  EXPECT_EQ(create("PKG-3", content, kOtherDevice).status, 201u);
  // Re-asking for an existing one is still fine, and finishing one frees a slot.
  const std::string location = header_of(create("PKG-0", content), "Location");
  ASSERT_EQ(patch(location, 0, content).status, 204u);
  EXPECT_EQ(create("PKG-3", content).status, 201u);
}

TEST_F(UploadRoutesTest, RestartTruncatesBytesBeyondTheRecordedOffsetAndTheUploadResumes) {
  const std::string content = patterned_bytes(30000, 9);
  const std::string location = header_of(create("PKG-1", content), "Location");
  const fs::path partial = dir_ / "uploads" / "partial" / id_of(location);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 10000)).status, 204u);
  close();
  // A crash after writing more bytes but before recording them (and an orphan from a crashed creation).
  {
    std::ofstream out(partial, std::ios::binary | std::ios::app);
    out << content.substr(10000, 5000);
  }
  std::ofstream(dir_ / "uploads" / "partial" / "00000000000000000000000000000000") << "orphan";
  ASSERT_EQ(fs::file_size(partial), 15000u);
  reopen();
  EXPECT_EQ(fs::file_size(partial), 10000u);
  EXPECT_FALSE(fs::exists(dir_ / "uploads" / "partial" / "00000000000000000000000000000000"));
  EXPECT_EQ(header_of(head(location), "Upload-Offset"), "10000");
  ASSERT_EQ(patch(location, 10000, std::string_view(content).substr(10000)).status, 204u);
  EXPECT_EQ(read_file(dir_ / "uploads" / "complete" / id_of(location)), content);
}

TEST_F(UploadRoutesTest, ARefusedHandoverIsRetriedAtTheNextStart) {
  const std::string content = patterned_bytes(3000, 10);
  const std::string location = header_of(create("PKG-1", content), "Location");
  sink_.refuse = true;
  const ApiResponse answered = patch(location, 0, content);
  EXPECT_EQ(answered.status, 503u);
  EXPECT_NE(answered.body.find("UPLOAD_HANDOVER_FAILED"), std::string::npos);
  EXPECT_EQ(read_file(dir_ / "uploads" / "complete" / id_of(location)), content);  // kept durably
  EXPECT_TRUE(sink_.accepted.empty());
  sink_.refuse = false;
  reopen();
  ASSERT_EQ(sink_.accepted.size(), 1u);
  EXPECT_EQ(sink_.accepted[0].id, id_of(location));
  reopen();
  EXPECT_EQ(sink_.accepted.size(), 1u);  // only once
}

TEST(UploadConfigTest, UploadKeysAreReadAndChecked) {
  auto defaults = parse_gateway_config("", "test.toml", ".");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->uploads_max_bytes, 8ULL * 1024 * 1024 * 1024);
  EXPECT_EQ(defaults->uploads_max_patch_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(defaults->uploads_max_open_per_device, 16u);
  auto set = parse_gateway_config("[uploads]\nmax_bytes = 1000\nmax_patch_bytes = 65536\nmax_open_per_device = 2\n",
                                  "test.toml", ".");
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(set->uploads_max_bytes, 1000u);
  EXPECT_EQ(set->uploads_max_patch_bytes, 65536u);
  EXPECT_EQ(set->uploads_max_open_per_device, 2u);
  EXPECT_FALSE(parse_gateway_config("[uploads]\nmax_patch_bytes = 10\n", "test.toml", "."));
  EXPECT_FALSE(parse_gateway_config("[uploads]\nmax_open = 2\n", "test.toml", "."));
  auto example = load_gateway_config(GATEWAY_EXAMPLE_CONFIG);
  ASSERT_TRUE(example) << example.error().to_string();
  EXPECT_EQ(example->uploads_max_patch_bytes, 8u * 1024 * 1024);
}

}  // namespace
}  // namespace kiosk::gateway::uploads
