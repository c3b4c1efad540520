// The inspection export routes (REQ-44) through ApiHandler, wired as the gateway wires them, on a
// real index Store (DATA/index.sqlite in a temporary folder) and an in-memory EvidenceStore double.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk/core/log.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/evidence/export_routes.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/store.hpp"

namespace kiosk::gateway::evidence {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kInvestorId = "11010519491231002X";  // fictional, valid check character
constexpr std::string_view kHmacKey = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kPackageA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr std::string_view kPackageB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Keeps rows and archive bytes in memory; records the last query so tests can see what the routes
// asked the store for.
class InMemoryEvidenceStore final : public EvidenceStore {
 public:
  std::map<std::pair<std::string, std::string>, std::pair<StoredPackage, std::string>> packages;
  std::vector<PackageQuery> queries;
  bool corrupt = false;

  void add(StoredPackage row, std::string bytes) {
    row.archive_size = bytes.size();
    row.archive_sha256 = sha256_hex_of(bytes);
    packages[{row.device_id, row.package_id}] = {row, std::move(bytes)};
  }

  [[nodiscard]] std::string_view kind() const override { return "in-memory"; }
  Result<StoredPackage> put(const fs::path&, const StoredPackage&) override {
    return fail("EVIDENCE_STORE_FAILED", "not used by the export routes");
  }
  Result<StoredPackage> find(std::string_view device_id, std::string_view package_id) override {
    const auto found = packages.find({std::string(device_id), std::string(package_id)});
    if (found == packages.end()) return fail("EVIDENCE_NOT_FOUND", "no such package");
    return found->second.first;
  }
  Result<std::vector<StoredPackage>> query(const PackageQuery& query) override {
    queries.push_back(query);
    std::vector<StoredPackage> rows;
    for (const auto& [key, value] : packages) {
      const StoredPackage& row = value.first;
      if (query.device_id && row.device_id != *query.device_id) continue;
      if (query.transaction_id && row.transaction_id != *query.transaction_id) continue;
      if (query.closed_from && row.closed_at < *query.closed_from) continue;
      if (query.closed_to && row.closed_at >= *query.closed_to) continue;
      if (!query.device_transactions.empty() &&
          std::find(query.device_transactions.begin(), query.device_transactions.end(),
                    std::pair{row.device_id, row.transaction_id}) == query.device_transactions.end()) {
        continue;
      }
      rows.push_back(row);
    }
    return rows;
  }
  Result<void> read_archive(const StoredPackage& row, const fs::path& destination) override {
    const auto found = packages.find({row.device_id, row.package_id});
    if (found == packages.end()) return fail("EVIDENCE_NOT_FOUND", "no such package");
    if (corrupt) return fail("EVIDENCE_CORRUPT", "hash differs");
    std::ofstream(destination, std::ios::binary) << found->second.second;
    return {};
  }
  Result<void> set_legal_hold(std::string_view, std::string_view, bool) override { return {}; }
  Result<void> remove(std::string_view, std::string_view, std::string_view) override { return {}; }
  Result<std::optional<std::string>> checkpoint_hash_at(std::string_view, std::int64_t) override {
    return std::optional<std::string>();
  }
};

ApiRequest request_of(std::string method, std::string target, Listener listener, std::string authorization,
                      std::string body) {
  ApiRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.listener = listener;
  if (listener == Listener::device) request.device_id = "SIM-0001";
  request.authorization = std::move(authorization);
  request.body = std::move(body);
  return request;
}

StoredPackage row_of(std::string device, std::string_view package_id, std::string transaction, std::string closed_at) {
  StoredPackage row;
  row.device_id = std::move(device);
  row.package_id = std::string(package_id);
  row.transaction_id = std::move(transaction);
  row.manifest_sha256 = std::string(64, 'c');
  row.operation = "apply";
  row.transaction_state = "completed";
  row.closed_at = std::move(closed_at);
  row.received_at = "2026-11-24T10:00:01.000Z";
  row.retain_until = "2046-11-24T10:00:01.000Z";
  return row;
}

class ExportRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("export-routes-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_TRUE(log::open_file(root_ / "gateway.log"));
    auto opened = Store::open(root_ / "data");
    ASSERT_TRUE(opened) << opened.error().to_string();
    store_ = std::make_unique<Store>(std::move(*opened));
    ASSERT_TRUE(store_->add_staff("I0001", "Inspector One", "inspector", "inspect-pw"));
    ASSERT_TRUE(store_->add_staff("W0001", "Witness One", "witness", "witness-pw"));

    evidence_.add(row_of("SIM-0001", kPackageA, "tx-00000042", "2026-11-24T09:59:00.000Z"), "archive bytes A");
    evidence_.add(row_of("SIM-0002", kPackageB, "tx-00000007", "2026-11-25T00:00:00.000Z"), "archive bytes B");

    handler_ = std::make_unique<ApiHandler>([this](std::string_view staff_id) { return store_->find_staff(staff_id); },
                                            "test", kDefaultMaxBodyBytes, 1);
    routes_ = std::make_unique<ExportRoutes>(
        evidence_, *store_, [this](std::string_view authorization) { return handler_->console_session(authorization); },
        [](std::string_view device_id, std::string_view) -> Result<std::optional<std::string>> {
          if (device_id == "SIM-0001") return std::optional<std::string>("-----BEGIN CERTIFICATE-----\nAA\n");
          return std::optional<std::string>();
        },
        ExportRoutesOptions{root_ / "data" / "tmp" / "export", std::string(kHmacKey), kDefaultMaxBodyBytes});
    handler_->add_routes([this](const ApiRequest& request) { return routes_->handle(request); });
  }

  void TearDown() override { fs::remove_all(root_); }

  std::string sign_in(const std::string& staff_id, const std::string& password) {
    const ApiResponse answer =
        handler_->handle(request_of("POST", "/v1/console/sign-in", Listener::console, "",
                                    json{{"staff_id", staff_id}, {"password", password}}.dump()));
    EXPECT_EQ(answer.status, 200u) << answer.body;
    return json::parse(answer.body).value("token", "");
  }

  ApiResponse call(const std::string& method, const std::string& target, const std::string& token,
                   const std::string& body = {}) {
    return handler_->handle(
        request_of(method, target, Listener::console, token.empty() ? "" : "Bearer " + token, body));
  }

  std::vector<EvidenceAccessRecord> access_rows() {
    auto rows = store_->evidence_access_records();
    EXPECT_TRUE(rows);
    return rows ? *rows : std::vector<EvidenceAccessRecord>{};
  }

  static std::string code_of(const ApiResponse& answer) { return json::parse(answer.body).value("code", ""); }

  fs::path root_;
  std::unique_ptr<Store> store_;
  InMemoryEvidenceStore evidence_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<ExportRoutes> routes_;
};

TEST(ExportDates, DayStartsAreUtcTextOfTheIndexForm) {
  EXPECT_EQ(utc_day_start("2026-11-24").value(), "2026-11-24T00:00:00.000Z");
  EXPECT_EQ(utc_day_start("2026-11-24", 1).value(), "2026-11-25T00:00:00.000Z");
  EXPECT_EQ(utc_day_start("2026-12-31", 1).value(), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_day_start("2024-02-29").value(), "2024-02-29T00:00:00.000Z");
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "2026/11/24", "20261124", "",
                          "2026-11-24T00:00:00Z", "+026-11-24", "abcd-ef-gh", "2026-11-32"}) {
    const auto parsed = utc_day_start(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, "DATE_INVALID") << bad;
  }
}

TEST(ExportSearchRequest, AcceptsEachCriterionAndRefusesBadBodies) {
  const auto ok = parse_search_request(R"({"transaction_id":"tx-00000042","device_id":"SIM-0001"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->transaction_id.value(), "tx-00000042");
  EXPECT_FALSE(ok->investor_id);

  EXPECT_EQ(parse_search_request("{}").error().code, "CRITERIA_MISSING");
  EXPECT_EQ(parse_search_request("[1]").error().code, "BAD_JSON");
  EXPECT_EQ(parse_search_request("not json").error().code, "BAD_JSON");
  EXPECT_EQ(parse_search_request(R"({"name":"x"})").error().code, "FIELD_UNKNOWN");
  EXPECT_EQ(parse_search_request(R"({"device_id":7})").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_search_request(R"({"device_id":"../etc"})").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_search_request(R"({"from":"2026-02-30"})").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_search_request(R"({"from":"2026-11-25","to":"2026-11-24"})").error().code, "CRITERIA_INVALID");
  EXPECT_EQ(parse_search_request(std::string(70000, ' ')).error().code, "BODY_TOO_LARGE");
  // A wrong check character: refused without echoing the number.
  const auto bad_id = parse_search_request(R"({"investor_id":"110105194912310021"})");
  ASSERT_FALSE(bad_id);
  EXPECT_EQ(bad_id.error().code, "FIELD_INVALID");
  EXPECT_EQ(bad_id.error().message.find("110105"), std::string::npos);
}

TEST(ExportSearchRequest, RecordedCriteriaHoldTheHashNotTheNumber) {
  const auto criteria = parse_search_request(R"({"investor_id":"11010519491231002X","from":"2026-11-01"})");
  ASSERT_TRUE(criteria);
  const std::string recorded = recorded_criteria(*criteria, "feedface");
  EXPECT_EQ(recorded, R"({"from":"2026-11-01","investor_id_hmac":"feedface"})");
}

TEST_F(ExportRoutesTest, WithoutASessionTheAnswerIs401AndTheCallIsRecorded) {
  const ApiResponse answer = call("POST", "/v1/console/evidence/search", "", R"({"device_id":"SIM-0001"})");
  EXPECT_EQ(answer.status, 401u);
  EXPECT_EQ(code_of(answer), "NOT_SIGNED_IN");
  const auto bogus = call("GET", "/v1/console/evidence/SIM-0001/" + std::string(kPackageA) + "/archive", "ffff");
  EXPECT_EQ(bogus.status, 401u);
  EXPECT_TRUE(bogus.body_file.empty());
  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action, "search");
  EXPECT_EQ(rows[0].staff_id, "");
  EXPECT_EQ(rows[0].result_code, "NOT_SIGNED_IN");
  EXPECT_EQ(rows[1].action, "archive");
  EXPECT_EQ(rows[1].criteria, R"({"device_id":"SIM-0001","package_id":")" + std::string(kPackageA) + "\"}");
}

TEST_F(ExportRoutesTest, AWitnessIsRefusedEveryRouteWith403) {
  const std::string token = sign_in("W0001", "witness-pw");
  const auto search = call("POST", "/v1/console/evidence/search", token, R"({"device_id":"SIM-0001"})");
  EXPECT_EQ(search.status, 403u);
  EXPECT_EQ(code_of(search), "EXPORT_FORBIDDEN");
  EXPECT_EQ(call("GET", "/v1/console/evidence/SIM-0001/" + std::string(kPackageA) + "/archive", token).status, 403u);
  EXPECT_EQ(call("GET", "/v1/console/evidence/SIM-0001/certificate", token).status, 403u);
  EXPECT_TRUE(evidence_.queries.empty());
  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.staff_id, "W0001");
    EXPECT_EQ(row.role, "witness");
    EXPECT_EQ(row.result_code, "EXPORT_FORBIDDEN");
    EXPECT_EQ(row.count, 0);
  }
  EXPECT_EQ(rows[2].action, "certificate");
}

TEST_F(ExportRoutesTest, AnInspectorSearchesByTransactionAndDates) {
  const std::string token = sign_in("I0001", "inspect-pw");
  const auto by_transaction =
      call("POST", "/v1/console/evidence/search", token, R"({"transaction_id":"tx-00000042","device_id":"SIM-0001"})");
  ASSERT_EQ(by_transaction.status, 200u) << by_transaction.body;
  const json packages = json::parse(by_transaction.body)["packages"];
  ASSERT_EQ(packages.size(), 1u);
  EXPECT_EQ(packages[0]["package_id"], std::string(kPackageA));
  EXPECT_EQ(packages[0]["archive_sha256"], sha256_hex_of("archive bytes A"));
  EXPECT_EQ(packages[0]["archive_size"], 15);
  EXPECT_EQ(packages[0]["legal_hold"], false);
  for (const char* field : {"device_id", "transaction_id", "manifest_sha256", "operation", "transaction_state",
                            "closed_at", "received_at", "retain_until"}) {
    EXPECT_TRUE(packages[0].contains(field)) << field;
  }

  // "to" is inclusive: the store is asked for closed_at before the start of the next day.
  const auto by_dates =
      call("POST", "/v1/console/evidence/search", token, R"({"from":"2026-11-24","to":"2026-11-24"})");
  ASSERT_EQ(by_dates.status, 200u);
  EXPECT_EQ(json::parse(by_dates.body)["packages"].size(), 1u);
  const PackageQuery& asked = evidence_.queries.back();
  EXPECT_EQ(asked.closed_from.value(), "2026-11-24T00:00:00.000Z");
  EXPECT_EQ(asked.closed_to.value(), "2026-11-25T00:00:00.000Z");

  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].staff_id, "I0001");
  EXPECT_EQ(rows[0].role, "inspector");
  EXPECT_EQ(rows[0].result_code, "OK");
  EXPECT_EQ(rows[0].count, 1);
  EXPECT_EQ(rows[1].criteria, R"({"from":"2026-11-24","to":"2026-11-24"})");

  const auto invalid = call("POST", "/v1/console/evidence/search", token, "{}");
  EXPECT_EQ(invalid.status, 400u);
  EXPECT_EQ(access_rows().back().result_code, "CRITERIA_MISSING");
}

TEST_F(ExportRoutesTest, AnInvestorSearchGoesThroughTheNciisRecordsAndNeverKeepsTheNumber) {
  const std::string hmac = id_number_hmac_hex(kHmacKey, kInvestorId);
  ASSERT_TRUE(store_->record_nciis_query(
      NciisQueryRecord{"r1", "SIM-0002", "tx-00000007", "2026-11-24T23:00:00Z", "MATCH", "", hmac, ""}));
  ASSERT_TRUE(
      store_->record_nciis_query(NciisQueryRecord{"r2", "SIM-0001", "tx-00000099", "2026-11-24T23:00:00Z", "MATCH", "",
                                                  id_number_hmac_hex(kHmacKey, "110101199003074477"), ""}));
  const std::string token = sign_in("I0001", "inspect-pw");
  const auto answer = call("POST", "/v1/console/evidence/search", token, json{{"investor_id", kInvestorId}}.dump());
  ASSERT_EQ(answer.status, 200u) << answer.body;
  const json packages = json::parse(answer.body)["packages"];
  ASSERT_EQ(packages.size(), 1u);
  EXPECT_EQ(packages[0]["package_id"], std::string(kPackageB));
  const PackageQuery& asked = evidence_.queries.back();
  ASSERT_EQ(asked.device_transactions.size(), 1u);
  EXPECT_EQ(asked.device_transactions[0], (std::pair<std::string, std::string>{"SIM-0002", "tx-00000007"}));

  // Nobody checked: an empty answer without asking the store for everything.
  const std::size_t queries_before = evidence_.queries.size();
  const auto nobody =
      call("POST", "/v1/console/evidence/search", token, json{{"investor_id", "11010119900307803X"}}.dump());
  ASSERT_EQ(nobody.status, 200u) << nobody.body;
  EXPECT_TRUE(json::parse(nobody.body)["packages"].empty());
  EXPECT_EQ(evidence_.queries.size(), queries_before);

  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].criteria, (json{{"investor_id_hmac", hmac}}.dump()));
  EXPECT_EQ(rows[0].count, 1);
  for (const auto& row : rows) EXPECT_EQ(row.criteria.find(kInvestorId.substr(0, 6)), std::string::npos);
  // Neither the log nor the index holds the number.
  EXPECT_EQ(read_file(root_ / "gateway.log").find(std::string(kInvestorId)), std::string::npos);
  EXPECT_NE(read_file(root_ / "gateway.log").find("\"evidence_access\""), std::string::npos);
  EXPECT_EQ(read_file(root_ / "data" / "index.sqlite").find(std::string(kInvestorId)), std::string::npos);
}

TEST_F(ExportRoutesTest, TheArchiveIsSentFromAPrivateTemporaryCopy) {
  const std::string token = sign_in("I0001", "inspect-pw");
  const auto answer = call("GET", "/v1/console/evidence/SIM-0001/" + std::string(kPackageA) + "/archive", token);
  ASSERT_EQ(answer.status, 200u) << answer.body;
  ASSERT_FALSE(answer.body_file.empty());
  EXPECT_TRUE(answer.remove_body_file_after_send);
  EXPECT_EQ(answer.body_content_type, "application/x-tar");
  EXPECT_EQ(read_file(answer.body_file), "archive bytes A");
  EXPECT_EQ(answer.body_file.parent_path(), root_ / "data" / "tmp" / "export");

  const auto missing = call("GET", "/v1/console/evidence/SIM-0001/" + std::string(kPackageB) + "/archive", token);
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(code_of(missing), "EVIDENCE_NOT_FOUND");
  evidence_.corrupt = true;
  const auto corrupt = call("GET", "/v1/console/evidence/SIM-0001/" + std::string(kPackageA) + "/archive", token);
  EXPECT_EQ(corrupt.status, 500u);
  EXPECT_EQ(code_of(corrupt), "EVIDENCE_CORRUPT");
  EXPECT_TRUE(corrupt.body_file.empty());
  EXPECT_EQ(call("POST", "/v1/console/evidence/SIM-0001/" + std::string(kPackageA) + "/archive", token).status, 405u);
  EXPECT_EQ(call("GET", "/v1/console/evidence/SIM-0001/bad%2F..%2Fid/archive", token).status, 400u);

  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].result_code, "OK");
  EXPECT_EQ(rows[0].count, 1);
  EXPECT_EQ(rows[1].result_code, "EVIDENCE_NOT_FOUND");
  EXPECT_EQ(rows[2].result_code, "EVIDENCE_CORRUPT");
  EXPECT_EQ(rows[3].result_code, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(rows[4].result_code, "FIELD_INVALID");
}

TEST_F(ExportRoutesTest, TheDeviceCertificateIsAnsweredOrNotFound) {
  const std::string token = sign_in("I0001", "inspect-pw");
  const auto answer =
      call("GET", "/v1/console/evidence/SIM-0001/certificate?package_id=" + std::string(kPackageA), token);
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_EQ(json::parse(answer.body)["certificate_pem"], "-----BEGIN CERTIFICATE-----\nAA\n");
  EXPECT_EQ(call("GET", "/v1/console/evidence/SIM-0002/certificate", token).status, 404u);
  EXPECT_EQ(access_rows().front().criteria,
            R"({"device_id":"SIM-0001","package_id":")" + std::string(kPackageA) + "\"}");
}

TEST_F(ExportRoutesTest, OtherPathsAndTheDeviceListenerAreNotExportRoutes) {
  const std::string token = sign_in("I0001", "inspect-pw");
  EXPECT_FALSE(routes_->handle(
      request_of("POST", "/v1/console/evidence/search", Listener::device, "", R"({"device_id":"SIM-0001"})")));
  EXPECT_FALSE(routes_->handle(request_of("GET", "/v1/console/session", Listener::console, "", "")));
  const auto unknown = call("GET", "/v1/console/evidence/a/b/c/d", token);
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(call("GET", "/v1/console/evidence/search", token).status, 405u);
  const auto rows = access_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action, "unknown");
}

TEST(ExportStore, InspectorIsAStaffRole) {
  EXPECT_TRUE(is_valid_role("inspector"));
  EXPECT_FALSE(is_valid_role("auditor"));
}

// An index made before the inspector role has a CHECK without it: opening rebuilds the table once,
// keeping its accounts.
TEST(ExportStore, AnOlderStaffTableIsRebuiltToAllowInspectors) {
  const fs::path data = fs::temp_directory_path() / ("export-store-" + std::to_string(::getpid()));
  fs::remove_all(data);
  fs::create_directories(data);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data / "index.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "CREATE TABLE staff (staff_id TEXT PRIMARY KEY NOT NULL, display_name TEXT NOT NULL,"
                   " role TEXT NOT NULL CHECK (role IN ('witness','operator','reviewer')),"
                   " password_salt TEXT NOT NULL, password_hash TEXT NOT NULL,"
                   " password_iterations INTEGER NOT NULL, created_at TEXT NOT NULL);"
                   "INSERT INTO staff VALUES ('W0001','Old Witness','witness','00','00',1,'2026-01-01T00:00:00Z');",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  {
    auto store = Store::open(data);
    ASSERT_TRUE(store) << store.error().to_string();
    auto kept = store->find_staff("W0001");
    ASSERT_TRUE(kept && kept->has_value());
    EXPECT_EQ((*kept)->role, "witness");
    EXPECT_TRUE(store->add_staff("I0001", "Inspector", "inspector", "pw"));
  }
  auto reopened = Store::open(data);  // a second open leaves the rebuilt table alone
  ASSERT_TRUE(reopened);
  auto inspector = reopened->find_staff("I0001");
  ASSERT_TRUE(inspector && inspector->has_value());
  EXPECT_EQ((*inspector)->role, "inspector");
  fs::remove_all(data);
}

}  // namespace
}  // namespace kiosk::gateway::evidence
