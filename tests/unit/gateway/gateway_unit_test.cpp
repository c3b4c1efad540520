// Unit tests of the gateway's parts that need no sockets: passwords, request validation, the
// request handler, configuration and the development PKI.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sync/gateway/api.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/store.hpp"

namespace fs = std::filesystem;
using namespace kiosk::gateway;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "gateway-unit-XXXXXX").string();
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

mode_t file_mode(const fs::path& file) {
  struct stat info {};
  ::stat(file.c_str(), &info);
  return info.st_mode & 0777;
}

// A handler whose only staff member has a cheap hash, so tests stay fast.
ApiHandler make_handler() {
  auto hash = hash_password("Correct-Horse-1", 1000);
  StaffRecord staff{"W0001", "Wang Li", "witness", *hash};
  return ApiHandler(
      [staff](std::string_view id) -> kiosk::Result<std::optional<StaffRecord>> {
        if (id == staff.staff_id) return std::optional<StaffRecord>(staff);
        return std::optional<StaffRecord>();
      },
      "9.9.9", kDefaultMaxBodyBytes, 1000);
}

ApiRequest console_post(std::string target, std::string body) {
  ApiRequest request;
  request.method = "POST";
  request.target = std::move(target);
  request.listener = Listener::console;
  request.body = std::move(body);
  return request;
}

}  // namespace

TEST(GatewayPassword, VerifiesTheRightPasswordOnly) {
  auto hash = hash_password("s3cret", 1000);
  ASSERT_TRUE(hash) << hash.error().to_string();
  EXPECT_TRUE(verify_password("s3cret", *hash));
  EXPECT_FALSE(verify_password("s3cret ", *hash));
  EXPECT_FALSE(verify_password("", *hash));
}

TEST(GatewayPassword, DefaultUses200000IterationsAndAFreshSalt) {
  auto first = hash_password("same");
  auto second = hash_password("same");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->iterations, 200000);
  EXPECT_EQ(first->salt_hex.size(), 32u);
  EXPECT_EQ(first->hash_hex.size(), 64u);
  EXPECT_NE(first->salt_hex, second->salt_hex);
  EXPECT_NE(first->hash_hex, second->hash_hex);
  EXPECT_TRUE(verify_password("same", *second));
}

TEST(GatewayPassword, MalformedStoredHashNeverVerifies) {
  EXPECT_FALSE(verify_password("x", PasswordHash{"zz", "00", 1000}));
  EXPECT_FALSE(verify_password("x", PasswordHash{"00", std::string(64, '0'), 0}));
}

TEST(GatewaySignInRequest, AcceptsAWellFormedBody) {
  auto parsed = parse_sign_in_request(R"({"staff_id":"W0001","password":"pw"})");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->staff_id, "W0001");
  EXPECT_EQ(parsed->password, "pw");
}

TEST(GatewaySignInRequest, RefusesBadBodiesWithSpecificCodes) {
  EXPECT_EQ(parse_sign_in_request("").error().code, "BAD_JSON");
  EXPECT_EQ(parse_sign_in_request("{\"staff_id\":").error().code, "BAD_JSON");
  EXPECT_EQ(parse_sign_in_request("[1,2]").error().code, "BAD_JSON");
  EXPECT_EQ(parse_sign_in_request(R"({"staff_id":"W0001"})").error().code, "FIELD_MISSING");
  EXPECT_EQ(parse_sign_in_request(R"({"staff_id":7,"password":"x"})").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_sign_in_request(R"({"staff_id":"W 1","password":"x"})").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_sign_in_request(R"({"staff_id":"W1","password":""})").error().code, "FIELD_INVALID");
  EXPECT_EQ(parse_sign_in_request(std::string(1000, '['), 64 * 1024).error().code, "BAD_JSON");
  EXPECT_EQ(parse_sign_in_request(std::string(70000, ' ')).error().code, "BODY_TOO_LARGE");
}

TEST(GatewayBearerToken, ExtractsOnlyWellFormedTokens) {
  EXPECT_EQ(bearer_token("Bearer abc123"), "abc123");
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Basic abc"));
  EXPECT_FALSE(bearer_token("Bearer a b"));
  EXPECT_FALSE(bearer_token(""));
}

TEST(GatewayApiHandler, HealthzNamesListenerAndDevice) {
  auto handler = make_handler();
  ApiRequest request{"GET", "/healthz", Listener::device, "SIM-0001", "", ""};
  auto response = handler.handle(request);
  EXPECT_EQ(response.status, 200u);
  auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["version"], "9.9.9");
  EXPECT_EQ(body["listener"], "device");
  EXPECT_EQ(body["device_id"], "SIM-0001");

  request.listener = Listener::console;
  body = nlohmann::json::parse(handler.handle(request).body);
  EXPECT_EQ(body["listener"], "console");
  EXPECT_FALSE(body.contains("device_id"));
}

TEST(GatewayApiHandler, SignInThenSession) {
  auto handler = make_handler();
  auto signed_in =
      handler.handle(console_post("/v1/console/sign-in", R"({"staff_id":"W0001","password":"Correct-Horse-1"})"));
  ASSERT_EQ(signed_in.status, 200u) << signed_in.body;
  auto body = nlohmann::json::parse(signed_in.body);
  const std::string token = body["token"];
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(body["role"], "witness");
  EXPECT_EQ(body["expires_in"], 28800);

  ApiRequest session{"GET", "/v1/console/session", Listener::console, "", "Bearer " + token, ""};
  auto answer = handler.handle(session);
  ASSERT_EQ(answer.status, 200u) << answer.body;
  auto session_body = nlohmann::json::parse(answer.body);
  EXPECT_EQ(session_body["staff_id"], "W0001");
  EXPECT_EQ(session_body["display_name"], "Wang Li");
  EXPECT_TRUE(session_body.contains("server_time"));

  session.authorization = "Bearer " + std::string(64, 'a');
  EXPECT_EQ(handler.handle(session).status, 401u);
  session.authorization.clear();
  EXPECT_EQ(handler.handle(session).status, 401u);
}

TEST(GatewayApiHandler, UnknownIdAndWrongPasswordGetTheSameAnswer) {
  auto handler = make_handler();
  auto wrong = handler.handle(console_post("/v1/console/sign-in", R"({"staff_id":"W0001","password":"nope"})"));
  auto unknown = handler.handle(console_post("/v1/console/sign-in", R"({"staff_id":"W9999","password":"nope"})"));
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(nlohmann::json::parse(wrong.body)["code"], "SIGN_IN_REFUSED");
}

TEST(GatewayApiHandler, BadRequestsAndUnknownPaths) {
  auto handler = make_handler();
  auto bad = handler.handle(console_post("/v1/console/sign-in", "{not json"));
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(nlohmann::json::parse(bad.body)["code"], "BAD_JSON");
  auto missing = handler.handle(console_post("/v1/console/sign-in", "{}"));
  EXPECT_EQ(nlohmann::json::parse(missing.body)["code"], "FIELD_MISSING");
  EXPECT_EQ(handler.handle(console_post("/nowhere", "")).status, 404u);
  // The console API does not exist on the device listener.
  auto on_device = console_post("/v1/console/sign-in", R"({"staff_id":"W0001","password":"Correct-Horse-1"})");
  on_device.listener = Listener::device;
  EXPECT_EQ(handler.handle(on_device).status, 404u);
  ApiRequest wrong_method{"DELETE", "/healthz", Listener::console, "", "", ""};
  EXPECT_EQ(handler.handle(wrong_method).status, 405u);
}

TEST(GatewayConfig, DefaultsWhenEmpty) {
  auto config = parse_gateway_config("", "gateway.toml", "/base");
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->device_address, "127.0.0.1");
  EXPECT_EQ(config->device_port, 8443);
  EXPECT_EQ(config->console_port, 8444);
  EXPECT_EQ(config->max_body_bytes, 64u * 1024);
  EXPECT_EQ(config->request_timeout, std::chrono::seconds(30));
}

TEST(GatewayConfig, ReadsEveryKeyAndResolvesRelativePaths) {
  auto config = parse_gateway_config(R"(
[storage]
data_dir = "data"
[device_listener]
address = "0.0.0.0"
port = 0
[console_listener]
port = 9444
[limits]
handshake_timeout_seconds = 3
request_timeout_seconds = 4
shutdown_grace_seconds = 2
max_body_bytes = 4096
[log]
file = "gw.log"
)",
                                     "gateway.toml", "/base");
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->data_dir, fs::path("/base/data"));
  EXPECT_EQ(config->device_address, "0.0.0.0");
  EXPECT_EQ(config->device_port, 0);
  EXPECT_EQ(config->console_port, 9444);
  EXPECT_EQ(config->handshake_timeout, std::chrono::seconds(3));
  EXPECT_EQ(config->max_body_bytes, 4096u);
  EXPECT_EQ(config->log_file, fs::path("/base/gw.log"));
}

TEST(GatewayConfig, ObjectLockStoreKeysAreReadOnlyForThatStore) {
  const std::string object_lock_keys = R"(
[evidence.s3]
endpoint = "http://127.0.0.1:7480"
bucket = "csdc-evidence"
access_key = "GW"
secret_key_file = "s3-secret"
[evidence.postgres]
conninfo = "host=127.0.0.1 dbname=evidence"
)";
  auto object_lock =
      parse_gateway_config("[evidence]\nstore = \"s3-object-lock\"\n" + object_lock_keys, "gateway.toml", "/base");
  ASSERT_TRUE(object_lock) << object_lock.error().to_string();
  EXPECT_EQ(object_lock->evidence_store, "s3-object-lock");
  EXPECT_EQ(object_lock->evidence_object_lock.bucket, "csdc-evidence");
  EXPECT_EQ(object_lock->evidence_object_lock.secret_key_file, fs::path("/base/s3-secret"));
  EXPECT_EQ(object_lock->evidence_object_lock.postgres_conninfo, "host=127.0.0.1 dbname=evidence");

  // With the embedded store the section is a mistake worth reporting, not something to ignore.
  auto embedded = parse_gateway_config(object_lock_keys, "gateway.toml", "/base");
  ASSERT_FALSE(embedded);
  EXPECT_EQ(embedded.error().code, "CONFIG_UNKNOWN_KEY");

  auto missing_bucket = parse_gateway_config("[evidence]\nstore = \"s3-object-lock\"\n", "gateway.toml", "/base");
  ASSERT_FALSE(missing_bucket);
}

TEST(GatewayConfig, ErrorsNameFileLineAndKey) {
  auto unknown = parse_gateway_config("[device_listener]\nprot = 1\n", "gateway.toml", "/base");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "CONFIG_UNKNOWN_KEY");
  EXPECT_NE(unknown.error().message.find("device_listener.prot"), std::string::npos) << unknown.error().message;

  auto bad_port = parse_gateway_config("[console_listener]\nport = 70000\n", "gateway.toml", "/base");
  ASSERT_FALSE(bad_port);
  EXPECT_EQ(bad_port.error().code, "CONFIG_BAD_VALUE");
  EXPECT_NE(bad_port.error().message.find("gateway.toml"), std::string::npos);
  EXPECT_NE(bad_port.error().message.find("2"), std::string::npos) << bad_port.error().message;  // the line
  EXPECT_NE(bad_port.error().message.find("console_listener.port"), std::string::npos);

  auto bad_address = parse_gateway_config("[device_listener]\naddress = \"localhost\"\n", "gateway.toml", "/base");
  ASSERT_FALSE(bad_address);
  EXPECT_NE(bad_address.error().message.find("device_listener.address"), std::string::npos);

  auto too_big = parse_gateway_config("[limits]\nmax_body_bytes = 10000000\n", "gateway.toml", "/base");
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("limits.max_body_bytes"), std::string::npos);
}

TEST(GatewayDevPki, CreatesACaAndAServerCertificateThatVerify) {
  TempDir dir;
  bool created = false;
  auto pki = ensure_dev_pki(dir.path(), created);
  ASSERT_TRUE(pki) << pki.error().to_string();
  EXPECT_TRUE(created);
  EXPECT_EQ(file_mode(pki->ca_key), 0600u);
  EXPECT_EQ(file_mode(pki->server_key), 0600u);

  auto ca = load_certificate(pki->ca_cert);
  auto server = load_certificate(pki->server_cert);
  ASSERT_TRUE(ca && server);
  EXPECT_EQ(certificate_common_name(ca->get()), "CSDC Kiosk Dev CA");
  EXPECT_TRUE(verify_certificate(ca->get(), ca->get()));
  EXPECT_TRUE(verify_certificate(server->get(), ca->get()));
  EXPECT_EQ(X509_check_host(server->get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server->get(), "127.0.0.1", 0), 1);
  auto ca_key = load_private_key(pki->ca_key);
  ASSERT_TRUE(ca_key);
  EXPECT_EQ(X509_check_private_key(ca->get(), ca_key->get()), 1);

  // A second start reuses the PKI instead of replacing it.
  auto again = ensure_dev_pki(dir.path(), created);
  ASSERT_TRUE(again);
  EXPECT_FALSE(created);
  EXPECT_EQ(certificate_sha256_hex(load_certificate(pki->ca_cert)->get()), certificate_sha256_hex(ca->get()));
}

TEST(GatewayDevPki, EnrolsADeviceWhoseCertificateVerifies) {
  TempDir dir;
  bool created = false;
  auto pki = ensure_dev_pki(dir.path() / "data", created);
  ASSERT_TRUE(pki);
  auto device = enrol_dev_device(*pki, "SIM-0001", dir.path() / "out");
  ASSERT_TRUE(device) << device.error().to_string();
  EXPECT_EQ(file_mode(dir.path() / "out" / "device.key"), 0600u);
  auto cert = load_certificate(dir.path() / "out" / "device.crt");
  auto ca = load_certificate(dir.path() / "out" / "ca.crt");
  ASSERT_TRUE(cert && ca);
  EXPECT_EQ(certificate_common_name(cert->get()), "SIM-0001");
  EXPECT_TRUE(verify_certificate(cert->get(), ca->get()));
  EXPECT_EQ(device->fingerprint_sha256, certificate_sha256_hex(cert->get()));
  EXPECT_EQ(X509_check_purpose(cert->get(), X509_PURPOSE_SSL_CLIENT, 0), 1);

  EXPECT_EQ(enrol_dev_device(*pki, "bad id/..", dir.path() / "out2").error().code, "DEVICE_ID_INVALID");
}

TEST(GatewayDevPki, RefusesADataDirWhosePkiIsNotTheDevCa) {
  TempDir dir;
  bool created = false;
  ASSERT_TRUE(ensure_dev_pki(dir.path(), created));
  auto key = generate_p256_key();
  CertSpec spec{"Broker Production CA",
                CertProfile::certificate_authority,
                {},
                std::chrono::seconds(-60),
                std::chrono::hours(24)};
  auto other = issue_certificate(spec, key->get(), nullptr, nullptr);
  ASSERT_TRUE(other);
  ASSERT_TRUE(write_file_atomically(dir.path() / "pki" / "ca.crt", *certificate_pem(other->get()), 0644));
  auto refused = ensure_dev_pki(dir.path(), created);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "PKI_NOT_DEV");
}

TEST(GatewayStore, AddsAndFindsStaffAndRefusesDuplicatesAndEmptyPasswords) {
  TempDir dir;
  auto store = Store::open(dir.path());
  ASSERT_TRUE(store) << store.error().to_string();
  ASSERT_TRUE(store->add_staff("W0001", "Wang Li", "witness", "pw"));
  auto found = store->find_staff("W0001");
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->role, "witness");
  EXPECT_EQ((*found)->password.iterations, 200000);
  EXPECT_TRUE(verify_password("pw", (*found)->password));
  EXPECT_FALSE((*store->find_staff("W0002")).has_value());
  EXPECT_EQ(store->add_staff("W0001", "Other", "operator", "pw").error().code, "STAFF_EXISTS");
  EXPECT_EQ(store->add_staff("W0003", "Other", "operator", "").error().code, "STAFF_INVALID");
  EXPECT_EQ(store->add_staff("W0004", "Other", "admin", "pw").error().code, "STAFF_INVALID");
  EXPECT_EQ(file_mode(dir.path() / "index.sqlite"), 0600u);
}
