// Unit tests of the gateway's NCIIS relay: the simulator's rules and fixtures, the ID-number check,
// the [nciis] configuration, the POST /v1/device/nciis-check route through ApiHandler, and the
// durable record in nciis_queries (which must never hold the number in clear).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kiosk/core/log.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/store.hpp"

namespace fs = std::filesystem;
using namespace kiosk::gateway;
using nlohmann::json;

namespace {

constexpr const char* kDemoNumber = "11010519491231002X";
constexpr const char* kDemoName = "测试一";
constexpr const char* kSecondNumber = "110105190001010028";
constexpr const char* kErrorNumber = "110105190001010036";
constexpr const char* kUnknownNumber = "440524188001010014";  // valid check character, in no fixture
constexpr const char* kPhotoBytes = "\xFF\xD8\xFF\xE0 fake jpeg \x00\x01 bytes";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "gateway-nciis-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string& photo() {
  static const std::string bytes(kPhotoBytes, sizeof("\xFF\xD8\xFF\xE0 fake jpeg \x00\x01 bytes") - 1);
  return bytes;
}

// Fixtures with a photo for the demo person, written beside the file they are named from.
fs::path write_fixtures(const fs::path& dir) {
  fs::create_directories(dir / "photos");
  std::ofstream(dir / "photos" / "one.jpg", std::ios::binary) << photo();
  std::ofstream(dir / "fixtures.toml") << "[[person]]\nid_number = \"" << kDemoNumber << "\"\nname = \"" << kDemoName
                                       << "\"\nphoto_file = \"photos/one.jpg\"\n\n"
                                       << "[[person]]\nid_number = \"" << kSecondNumber << "\"\nname = \"测试二\"\n\n"
                                       << "[[person]]\nid_number = \"" << kErrorNumber
                                       << "\"\nname = \"测试三\"\noutcome = \"service-error\"\n";
  return dir / "fixtures.toml";
}

bool is_lower_hex(const std::string& text, std::size_t length) {
  return text.size() == length && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

kiosk::Error fixture_error(const std::string& text, const fs::path& base_dir = "/nowhere") {
  auto loaded = SimulatedNciis::from_text(text, "fixtures.toml", base_dir);
  EXPECT_FALSE(loaded) << "accepted:\n" << text;
  return loaded ? kiosk::Error{} : loaded.error();
}

}  // namespace

TEST(NciisIdNumber, AcceptsOnlyEighteenCharactersWithTheRightCheckCharacter) {
  EXPECT_TRUE(is_valid_citizen_id_number(kDemoNumber));
  EXPECT_TRUE(is_valid_citizen_id_number(kUnknownNumber));
  EXPECT_FALSE(is_valid_citizen_id_number("110105194912310021"));  // wrong check character
  EXPECT_FALSE(is_valid_citizen_id_number("11010519491231002x"));  // lowercase x
  EXPECT_FALSE(is_valid_citizen_id_number("11010519491231002"));   // 17
  EXPECT_FALSE(is_valid_citizen_id_number("11010519491231002XX"));
  EXPECT_FALSE(is_valid_citizen_id_number("1101051949123100AX"));
  EXPECT_FALSE(is_valid_citizen_id_number(""));
}

TEST(NciisName, AcceptsUtf8UpTo64BytesWithoutControlCharacters) {
  EXPECT_TRUE(is_valid_nciis_name(kDemoName));
  EXPECT_TRUE(is_valid_nciis_name("Wang Li"));
  EXPECT_TRUE(is_valid_nciis_name(std::string(64, 'a')));
  EXPECT_FALSE(is_valid_nciis_name(std::string(65, 'a')));
  EXPECT_FALSE(is_valid_nciis_name(""));
  EXPECT_FALSE(is_valid_nciis_name("a\nb"));
  EXPECT_FALSE(is_valid_nciis_name("\xE6\xB5"));          // truncated sequence
  EXPECT_FALSE(is_valid_nciis_name("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_nciis_name("\xED\xA0\x80"));      // UTF-16 surrogate
  EXPECT_FALSE(is_valid_nciis_name("\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

TEST(SimulatedNciis, AnswersEachResultByTheRules) {
  TempDir dir;
  auto simulator = SimulatedNciis::from_file(write_fixtures(dir.path()));
  ASSERT_TRUE(simulator) << simulator.error().to_string();
  EXPECT_EQ((*simulator)->person_count(), 3u);

  auto match = (*simulator)->check({kDemoName, kDemoNumber});
  ASSERT_TRUE(match);
  EXPECT_EQ(match->result, NciisResult::match);
  ASSERT_TRUE(match->photo.has_value());
  EXPECT_EQ(*match->photo, photo());
  EXPECT_TRUE(match->error_code.empty());

  auto match_without_photo = (*simulator)->check({"测试二", kSecondNumber});
  ASSERT_TRUE(match_without_photo);
  EXPECT_EQ(match_without_photo->result, NciisResult::match);
  EXPECT_FALSE(match_without_photo->photo.has_value());

  auto mismatch = (*simulator)->check({"测试二", kDemoNumber});
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->result, NciisResult::mismatch);
  EXPECT_FALSE(mismatch->photo.has_value());

  auto not_found = (*simulator)->check({kDemoName, kUnknownNumber});
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->result, NciisResult::not_found);
  EXPECT_FALSE(not_found->photo.has_value());

  // service-error answers ERROR whatever the name: the service did not answer at all.
  auto error = (*simulator)->check({"测试三", kErrorNumber});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->result, NciisResult::error);
  EXPECT_EQ(error->error_code, "NCIIS_SERVICE_ERROR");
  EXPECT_FALSE(error->photo.has_value());

  std::set<std::string> ids;
  for (const auto* reply : {&*match, &*match_without_photo, &*mismatch, &*not_found, &*error}) {
    EXPECT_TRUE(is_lower_hex(reply->request_id, 32)) << reply->request_id;
    EXPECT_EQ(reply->request_id.find("1101"), std::string::npos);
    EXPECT_EQ(reply->checked_at.size(), 20u) << reply->checked_at;
    EXPECT_EQ(reply->checked_at.back(), 'Z');
    ids.insert(reply->request_id);
  }
  EXPECT_EQ(ids.size(), 5u) << "request ids must be fresh for every query";
}

TEST(SimulatedNciis, EmbeddedDefaultKnowsTheIdCardSimulatorsPerson) {
  EXPECT_EQ(embedded_nciis_fixtures(), read_file(NCIIS_FIXTURES_SOURCE)) << "the build embeds a stale copy";
  EXPECT_NE(embedded_nciis_fixtures().find(kDemoNumber), std::string_view::npos);
  auto simulator = SimulatedNciis::embedded_default();
  ASSERT_TRUE(simulator) << simulator.error().to_string();
  auto reply = (*simulator)->check({kDemoName, kDemoNumber});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->result, NciisResult::match);
  auto outage = (*simulator)->check({"测试三", kErrorNumber});
  ASSERT_TRUE(outage);
  EXPECT_EQ(outage->result, NciisResult::error);
}

TEST(SimulatedNciis, FixtureErrorsNameFileLineAndKey) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string good = std::string("[[person]]\nid_number = \"") + kDemoNumber + "\"\nname = \"A\"\n";
  const std::vector<Case> cases = {
      {"[[person]]\nid_number = \"110105194912310021\"\nname = \"A\"\n", "fixtures.toml:2: key 'person[1].id_number'"},
      {"[[person]]\nid_number = \"" + std::string(kDemoNumber) + "\"\n", "key 'person[1].name': missing"},
      {"[[person]]\nid_number = \"" + std::string(kDemoNumber) + "\"\nname = 5\n",
       "fixtures.toml:3: key 'person[1].name': must be a string"},
      {good + "nmae = \"B\"\n", "fixtures.toml:4: key 'person[1].nmae': unknown key"},
      {good + "outcome = \"down\"\n", "fixtures.toml:4: key 'person[1].outcome'"},
      {good + "name2 = 1\n", "key 'person[1].name2'"},
      {good + "[[person]]\nid_number = \"" + std::string(kDemoNumber) + "\"\nname = \"B\"\n",
       "fixtures.toml:5: key 'person[2].id_number': the same number"},
      {good + "photo_file = \"missing.jpg\"\n", "fixtures.toml:4: key 'person[1].photo_file': cannot open"},
      {"[[person]]\nid_number = \"" + std::string(kDemoNumber) + "\"\nname = \"" + std::string(65, 'a') + "\"\n",
       "fixtures.toml:3: key 'person[1].name'"},
      {"title = \"x\"\n" + good, "fixtures.toml:1: key 'title': unknown key"},
      {"", "no [[person]] tables"},
      {"[[person]\n", "fixtures.toml:1:"},
  };
  for (const auto& c : cases) {
    const auto error = fixture_error(c.text);
    EXPECT_EQ(error.code, "NCIIS_FIXTURES_INVALID") << c.text;
    EXPECT_NE(error.message.find(c.expected), std::string::npos) << error.message << "\nexpected: " << c.expected;
  }
  // The embedded copy has no directory to take photos from.
  auto embedded_photo = SimulatedNciis::from_text(good + "photo_file = \"a.jpg\"\n", "embedded", {});
  ASSERT_FALSE(embedded_photo);
  EXPECT_NE(embedded_photo.error().message.find("embedded fixtures cannot name photo files"), std::string::npos);
}

TEST(SimulatedNciis, RefusesPhotosOverTheLimit) {
  TempDir dir;
  std::ofstream(dir.path() / "big.jpg", std::ios::binary) << std::string(SimulatedNciis::kMaxPhotoBytes + 1, 'x');
  const auto error = fixture_error(
      std::string("[[person]]\nid_number = \"") + kDemoNumber + "\"\nname = \"A\"\nphoto_file = \"big.jpg\"\n",
      dir.path());
  EXPECT_NE(error.message.find("larger than"), std::string::npos) << error.message;
}

TEST(NciisConfig, SimulatorIsTheDefaultAndOtherBackEndsAreRefused) {
  auto defaults = parse_gateway_config("", "gateway.toml", "/base");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->nciis_backend, "simulator");
  EXPECT_TRUE(defaults->nciis_fixtures.empty());

  auto with_fixtures =
      parse_gateway_config("[nciis]\nbackend = \"simulator\"\nfixtures = \"nciis.toml\"\n", "gateway.toml", "/base");
  ASSERT_TRUE(with_fixtures) << with_fixtures.error().to_string();
  EXPECT_EQ(with_fixtures->nciis_fixtures, fs::path("/base/nciis.toml"));

  auto online = parse_gateway_config("[nciis]\nbackend = \"online\"\n", "gateway.toml", "/base");
  ASSERT_FALSE(online);
  EXPECT_EQ(online.error().code, "NCIIS_BACKEND_UNSUPPORTED");
  EXPECT_NE(online.error().message.find("needs the broker's service contract"), std::string::npos);
  EXPECT_NE(online.error().message.find("nciis.backend"), std::string::npos);

  GatewayConfig programmatic;
  programmatic.nciis_backend = "mps";
  auto adapter = make_nciis_adapter(programmatic);
  ASSERT_FALSE(adapter);
  EXPECT_EQ(adapter.error().code, "NCIIS_BACKEND_UNSUPPORTED");

  GatewayConfig missing_file;
  missing_file.nciis_fixtures = "/nonexistent/nciis.toml";
  auto missing = make_nciis_adapter(missing_file);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "NCIIS_FIXTURES_INVALID");

  auto embedded = make_nciis_adapter(GatewayConfig{});
  ASSERT_TRUE(embedded) << embedded.error().to_string();

  // The documented example is a valid configuration and keeps the defaults.
  auto example = load_gateway_config(GATEWAY_EXAMPLE_CONFIG);
  ASSERT_TRUE(example) << example.error().to_string();
  EXPECT_EQ(example->nciis_backend, "simulator");
  EXPECT_TRUE(example->nciis_fixtures.empty());
}

TEST(NciisHmacKey, IsMadeOnceWithMode0600AndReusedAfterwards) {
  TempDir dir;
  auto first = load_or_create_nciis_hmac_key(dir.path());
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->size(), 32u);
  struct stat info {};
  ASSERT_EQ(::stat((dir.path() / "nciis-hmac.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto second = load_or_create_nciis_hmac_key(dir.path());
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
  EXPECT_NE(id_number_hmac_hex(*first, kDemoNumber), id_number_hmac_hex("another key", kDemoNumber));

  std::ofstream(dir.path() / "nciis-hmac.key", std::ios::trunc) << "short";
  auto damaged = load_or_create_nciis_hmac_key(dir.path());
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, "NCIIS_KEY_UNREADABLE");
}

TEST(NciisBase64, EncodesEveryTailLength) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode(std::string("\xFF\xFE\x00", 3)), "//4A");
}

// The route through ApiHandler with a real Store and the simulator, as the gateway wires them.
class NciisRoute : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir_.path() / "data");
    ASSERT_TRUE(opened) << opened.error().to_string();
    store_.emplace(std::move(*opened));
    auto simulator = SimulatedNciis::from_file(write_fixtures(dir_.path() / "fixtures"));
    ASSERT_TRUE(simulator) << simulator.error().to_string();
    auto key = load_or_create_nciis_hmac_key(dir_.path() / "data");
    ASSERT_TRUE(key);
    key_ = *key;
    service_.emplace(std::move(*simulator), *store_, key_);
    handler_.emplace([](std::string_view) -> kiosk::Result<std::optional<StaffRecord>> { return std::nullopt; },
                     "9.9.9", kDefaultMaxBodyBytes, 1000,
                     [this](const NciisQuery& query, std::string_view device, std::string_view transaction) {
                       return service_->check_and_record(query, device, transaction);
                     });
  }

  static ApiRequest device_post(std::string body) {
    ApiRequest request;
    request.method = "POST";
    request.target = "/v1/device/nciis-check";
    request.listener = Listener::device;
    request.device_id = "SIM-0042";
    request.body = std::move(body);
    return request;
  }
  static std::string body_for(const std::string& name, const std::string& number,
                              const std::string& transaction = "TX-2026-0001") {
    return json{{"transaction_id", transaction}, {"name", name}, {"id_number", number}}.dump();
  }

  // Every row of nciis_queries, each column as text.
  std::vector<std::map<std::string, std::string>> rows() const {
    std::vector<std::map<std::string, std::string>> result;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_.path() / "data" / "index.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT * FROM nciis_queries ORDER BY rowid", -1, &statement, nullptr), SQLITE_OK);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      std::map<std::string, std::string> row;
      for (int column = 0; column < sqlite3_column_count(statement); ++column) {
        const auto* text = sqlite3_column_text(statement, column);
        row[sqlite3_column_name(statement, column)] = text == nullptr ? "" : reinterpret_cast<const char*>(text);
      }
      result.push_back(std::move(row));
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return result;
  }

  TempDir dir_;
  std::optional<Store> store_;
  std::string key_;
  std::optional<NciisService> service_;
  std::optional<ApiHandler> handler_;
};

TEST_F(NciisRoute, MatchAnswersWithThePhotoAndItsHash) {
  const auto response = handler_->handle(device_post(body_for(kDemoName, kDemoNumber)));
  ASSERT_EQ(response.status, 200u) << response.body;
  const auto body = json::parse(response.body);
  EXPECT_EQ(body["result"], "MATCH");
  EXPECT_TRUE(is_lower_hex(body["request_id"], 32));
  EXPECT_EQ(body["checked_at"].get<std::string>().size(), 20u);
  EXPECT_EQ(body["photo_sha256"], sha256_hex_of(photo()));
  EXPECT_EQ(body["photo_base64"], base64_encode(photo()));
  EXPECT_FALSE(body.contains("error_code"));
}

TEST_F(NciisRoute, EachOtherResultHasEmptyPhotoFieldsAndErrorCarriesItsCode) {
  struct Case {
    std::string name, number, result;
  };
  for (const auto& c : {Case{"测试二", kDemoNumber, "MISMATCH"}, Case{kDemoName, kUnknownNumber, "NOT_FOUND"},
                        Case{"测试三", kErrorNumber, "ERROR"}}) {
    const auto response = handler_->handle(device_post(body_for(c.name, c.number)));
    ASSERT_EQ(response.status, 200u) << response.body;
    const auto body = json::parse(response.body);
    EXPECT_EQ(body["result"], c.result);
    EXPECT_EQ(body["photo_sha256"], "");
    EXPECT_EQ(body["photo_base64"], "");
    EXPECT_EQ(body.contains("error_code"), c.result == "ERROR") << response.body;
    if (c.result == "ERROR") {
      EXPECT_EQ(body["error_code"], "NCIIS_SERVICE_ERROR");
    }
  }
}

TEST_F(NciisRoute, EveryQueryIsRecordedWithAKeyedHashAndNeverTheNumberOrName) {
  const fs::path log_file = dir_.path() / "gateway.log";
  ASSERT_TRUE(kiosk::log::open_file(log_file));
  const auto match = json::parse(handler_->handle(device_post(body_for(kDemoName, kDemoNumber, "TX-1"))).body);
  const auto missing = json::parse(handler_->handle(device_post(body_for(kDemoName, kUnknownNumber, "TX-2"))).body);

  const auto recorded = rows();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].at("request_id"), match["request_id"]);
  EXPECT_EQ(recorded[0].at("device_id"), "SIM-0042");
  EXPECT_EQ(recorded[0].at("transaction_id"), "TX-1");
  EXPECT_EQ(recorded[0].at("checked_at"), match["checked_at"]);
  EXPECT_EQ(recorded[0].at("result"), "MATCH");
  EXPECT_EQ(recorded[0].at("photo_sha256"), sha256_hex_of(photo()));
  EXPECT_EQ(recorded[0].at("id_number_hmac"), id_number_hmac_hex(key_, kDemoNumber));
  EXPECT_EQ(recorded[1].at("request_id"), missing["request_id"]);
  EXPECT_EQ(recorded[1].at("result"), "NOT_FOUND");
  EXPECT_EQ(recorded[1].at("photo_sha256"), "");
  EXPECT_EQ(recorded[1].at("id_number_hmac"), id_number_hmac_hex(key_, kUnknownNumber));

  // Neither the number (nor its masked middle-less form) nor the name is anywhere in the table,
  // the database files or the log.
  std::string everything;
  for (const auto& row : recorded) {
    for (const auto& [column, value] : row) everything += value + "\n";
  }
  for (const auto& file : fs::directory_iterator(dir_.path() / "data")) everything += read_file(file.path());
  const std::string log = read_file(log_file);
  for (const std::string& secret :
       {std::string(kDemoNumber), std::string(kUnknownNumber), std::string(kDemoName), std::string("19491231")}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << secret;
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(log.find(R"("event":"nciis_check")"), std::string::npos) << log;
  EXPECT_NE(log.find(match["request_id"].get<std::string>()), std::string::npos) << log;
  EXPECT_NE(log.find(R"("result":"MATCH")"), std::string::npos) << log;
}

TEST_F(NciisRoute, BadFieldsAre400NamingTheFieldWithoutEchoingTheValue) {
  struct Case {
    std::string body, code, field;
  };
  const std::string bad_number = "110105194912310021";
  const std::string long_name(65, 'Q');
  const std::vector<Case> cases = {
      {body_for(kDemoName, bad_number), "FIELD_INVALID", "id_number"},
      {body_for(kDemoName, "11010519491231002x"), "FIELD_INVALID", "id_number"},
      {body_for(kDemoName, "1101051949123100"), "FIELD_INVALID", "id_number"},
      {body_for(long_name, kDemoNumber), "FIELD_INVALID", "name"},
      {body_for("", kDemoNumber), "FIELD_INVALID", "name"},
      {body_for("Zhang\x01San", kDemoNumber), "FIELD_INVALID", "name"},
      {R"({"transaction_id":"TX-1","name":"\u0000","id_number":"11010519491231002X"})", "FIELD_INVALID", "name"},
      {body_for(kDemoName, kDemoNumber, "TX 1/../secret"), "FIELD_INVALID", "transaction_id"},
      {body_for(kDemoName, kDemoNumber, std::string(65, 'T')), "FIELD_INVALID", "transaction_id"},
      {body_for(kDemoName, kDemoNumber, ""), "FIELD_INVALID", "transaction_id"},
      {R"({"transaction_id":"TX-1","name":7,"id_number":"11010519491231002X"})", "FIELD_INVALID", "name"},
      {R"({"transaction_id":"TX-1","id_number":"11010519491231002X"})", "FIELD_MISSING", "name"},
      {R"({"name":"A","id_number":"11010519491231002X"})", "FIELD_MISSING", "transaction_id"},
      {R"({"transaction_id":"TX-1","name":"A"})", "FIELD_MISSING", "id_number"},
      {R"({"transaction_id":"TX-1","name":"A","id_number":"11010519491231002X","QQsecretQQ":1})", "FIELD_UNKNOWN", ""},
      {"[1,2]", "BAD_JSON", ""},
      {"{\"transaction_id\":", "BAD_JSON", ""},
      {"", "BAD_JSON", ""},
      {std::string(kDefaultMaxBodyBytes + 1, ' '), "BODY_TOO_LARGE", ""},
  };
  for (const auto& c : cases) {
    const auto response = handler_->handle(device_post(c.body));
    EXPECT_EQ(response.status, 400u) << c.body.substr(0, 100) << " -> " << response.body;
    const auto body = json::parse(response.body);
    EXPECT_EQ(body["code"], c.code) << response.body;
    const std::string message = body["message"];
    if (!c.field.empty()) {
      EXPECT_NE(message.find("\"" + c.field + "\""), std::string::npos) << message;
    }
    for (const std::string& value : {bad_number, long_name, std::string("TX 1/../secret"), std::string("QQsecretQQ"),
                                     std::string("11010519491231002"), std::string("Zhang")}) {
      EXPECT_EQ(response.body.find(value), std::string::npos) << "echoed: " << response.body;
    }
  }
  EXPECT_TRUE(rows().empty()) << "refused queries must not reach NCIIS";
}

TEST_F(NciisRoute, ConsoleListenerAndOtherMethodsAreRefused) {
  ApiRequest on_console = device_post(body_for(kDemoName, kDemoNumber));
  on_console.listener = Listener::console;
  on_console.device_id.clear();
  const auto refused = handler_->handle(on_console);
  EXPECT_EQ(refused.status, 404u);
  EXPECT_EQ(json::parse(refused.body)["code"], "NOT_FOUND");

  ApiRequest get = device_post("");
  get.method = "GET";
  const auto wrong_method = handler_->handle(get);
  EXPECT_EQ(wrong_method.status, 405u);
  EXPECT_TRUE(rows().empty());
}

TEST(NciisRouteWithoutBackEnd, IsUnavailableAndAStorageFailureGivesNoAnswer) {
  ApiRequest request;
  request.method = "POST";
  request.target = "/v1/device/nciis-check";
  request.listener = Listener::device;
  request.body = json{{"transaction_id", "TX-1"}, {"name", kDemoName}, {"id_number", kDemoNumber}}.dump();
  auto no_staff = [](std::string_view) -> kiosk::Result<std::optional<StaffRecord>> { return std::nullopt; };

  ApiHandler unconfigured(no_staff, "9.9.9", kDefaultMaxBodyBytes, 1000);
  const auto unavailable = unconfigured.handle(request);
  EXPECT_EQ(unavailable.status, 503u);
  EXPECT_EQ(json::parse(unavailable.body)["code"], "NCIIS_UNAVAILABLE");

  ApiHandler failing(no_staff, "9.9.9", kDefaultMaxBodyBytes, 1000,
                     [](const NciisQuery&, std::string_view, std::string_view) -> kiosk::Result<NciisReply> {
                       return kiosk::fail("STORAGE_FAILED", "disk full");
                     });
  const auto not_recorded = failing.handle(request);
  EXPECT_EQ(not_recorded.status, 503u);
  const auto body = json::parse(not_recorded.body);
  EXPECT_EQ(body["code"], "NCIIS_UNAVAILABLE");
  EXPECT_FALSE(body.contains("result"));
}

TEST(NciisService, AnAdapterFailureIsRecordedAndAnsweredAsError) {
  class BrokenAdapter final : public NciisAdapter {
   public:
    kiosk::Result<NciisReply> check(const NciisQuery&) override {
      return kiosk::fail("NCIIS_TIMEOUT", "no answer in 10 s");
    }
  };
  TempDir dir;
  auto store = Store::open(dir.path());
  ASSERT_TRUE(store);
  NciisService service(std::make_unique<BrokenAdapter>(), *store, std::string(32, 'k'));
  auto reply = service.check_and_record({kDemoName, kDemoNumber}, "SIM-1", "TX-1");
  ASSERT_TRUE(reply) << reply.error().to_string();
  EXPECT_EQ(reply->result, NciisResult::error);
  EXPECT_EQ(reply->error_code, "NCIIS_TIMEOUT");
  EXPECT_TRUE(is_lower_hex(reply->request_id, 32));
}
