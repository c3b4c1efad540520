// Canonical JSON, the manifest's rules, keys.json, and the worked example of FORMAT.md.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "sync/package/manifest.hpp"

namespace kiosk::sync::package {
namespace {

using Json = nlohmann::ordered_json;

// The manifest of FORMAT.md's worked example.
Manifest example_manifest() {
  Manifest manifest;
  manifest.package_id = "5f0c6a7e9b1d4c3a8e2f7a6b5c4d3e2f";
  manifest.kiosk_id = "KIOSK-0001";
  manifest.transaction = ManifestTransaction{42,
                                             Operation::apply,
                                             Channel::witness,
                                             InvestorType::natural,
                                             Medium::hard,
                                             "2026.11-r1",
                                             "sha256-terms-v3",
                                             TxState::completed,
                                             "ok",
                                             "2026-11-24T10:00:00.000Z",
                                             "2026-11-24T10:07:30.250Z"};
  ManifestStep consent;
  consent.sequence = 1;
  consent.step = StepId::consent;
  consent.started_at = "2026-11-24T10:00:05.000Z";
  consent.ended_at = "2026-11-24T10:00:09.500Z";
  consent.result = "ok";
  ManifestStep form;
  form.sequence = 2;
  form.step = StepId::form_capture;
  form.actor_staff_id = "S1001";
  form.actor_role = StaffRole::witness;
  form.started_at = "2026-11-24T10:03:00.000Z";
  form.ended_at = "2026-11-24T10:04:12.125Z";
  form.result = "ok";
  // Fixed stand-in values: the plaintext hash is SHA-256("abc"), the ciphertext hash that of 49 zero
  // bytes (49 = 30-byte header + 3 bytes + one 16-byte tag), the audit head SHA-256("audit-entry-17"),
  // the recipient ids SHA-256("head-office-rsa-example") and SHA-256("head-office-ec-example").
  form.evidence.push_back(ManifestEvidence{"form_image", "s002-e01-form_image.sealed", 3,
                                           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 49,
                                           "78877fa898f0b4c45c9c33ae941e40617ad7c8657a307db62bc5691f92f4f60e"});
  manifest.steps = {consent, form};
  manifest.audit_checkpoint = audit::Checkpoint{17, "d8ca1b7111c14c2a806901ddfceb7c525f93728fdb8b346f4b2a2bae9b40f375"};
  manifest.sealed_at = "2026-11-24T10:07:31.000Z";
  manifest.recipients = {"af9307e98d7bee9ae2854ab062d01ec6b1f728b85c0df16a937db4138af5bbd7",
                         "c883d42e26dc89a8fefcf13045392cd50a9ebf5a92b296b3d1e1c073a9968d12"};
  return manifest;
}

std::string canonical_example() {
  auto bytes = serialize_manifest(example_manifest());
  if (!bytes) ADD_FAILURE() << bytes.error().to_string();
  return bytes.value_or(std::string());
}

// Rebuilds a JSON value with every object's keys in reverse order.
Json reversed(const Json& value) {
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& element : value) out.push_back(reversed(element));
    return out;
  }
  if (!value.is_object()) return value;
  std::vector<std::pair<std::string, Json>> members;
  for (const auto& [key, member] : value.items()) members.emplace_back(key, reversed(member));
  Json out = Json::object();
  for (auto it = members.rbegin(); it != members.rend(); ++it) out[it->first] = it->second;
  return out;
}

// A manifest edited as JSON and re-encoded canonically, so that only the edit is wrong.
Result<Manifest> parse_edited(const std::function<void(Json&)>& edit) {
  Json document = Json::parse(canonical_example());
  edit(document);
  auto canonical = canonicalize_json(document.dump());
  if (!canonical) return std::unexpected(canonical.error());
  return parse_manifest(*canonical);
}

void expect_field_error(const Result<Manifest>& parsed, std::string_view field,
                        std::string_view code = "PACKAGE_MANIFEST_INVALID") {
  ASSERT_FALSE(parsed) << "expected an error naming " << field;
  EXPECT_EQ(parsed.error().code, code);
  EXPECT_NE(parsed.error().message.find("`" + std::string(field) + "`"), std::string::npos) << parsed.error().message;
}

// ---- canonical JSON ------------------------------------------------------------------------------

TEST(CanonicalJson, SortsKeysAndDropsWhitespaceWhateverTheInsertionOrder) {
  const auto one = canonicalize_json(R"({ "b": 1, "a": { "d": [1, 2], "c": null }, "aa": true })");
  const auto two = canonicalize_json("{\"aa\":true,\n \"a\":{\"c\":null,\"d\":[1,2]},\t\"b\":1}");
  ASSERT_TRUE(one) << one.error().to_string();
  ASSERT_TRUE(two) << two.error().to_string();
  EXPECT_EQ(*one, R"({"a":{"c":null,"d":[1,2]},"aa":true,"b":1})");
  EXPECT_EQ(*one, *two);
}

TEST(CanonicalJson, SameManifestGivesIdenticalBytesWhateverTheKeyOrder) {
  const std::string canonical = canonical_example();
  const std::string respelled = reversed(Json::parse(canonical)).dump(2);
  ASSERT_NE(respelled, canonical);
  EXPECT_EQ(canonicalize_json(respelled).value(), canonical);
  EXPECT_EQ(serialize_manifest(example_manifest()).value(), canonical);
  EXPECT_EQ(serialize_manifest(parse_manifest(canonical).value()).value(), canonical);
}

TEST(CanonicalJson, EscapesOnlyWhatMustBeEscaped) {
  const auto text = canonicalize_json(R"(["\u0041\/\u00e9\n\t\b\f\r\u001f\u007f\"\\"])");
  ASSERT_TRUE(text) << text.error().to_string();
  EXPECT_EQ(*text, "[\"A/\xc3\xa9\\n\\t\\b\\f\\r\\u001f\x7f\\\"\\\\\"]");
}

TEST(CanonicalJson, AcceptsOnlyIntegersThatEveryReaderReadsExactly) {
  EXPECT_EQ(canonicalize_json("[9007199254740991,-9007199254740991,-0]").value(),
            "[9007199254740991,-9007199254740991,0]");
  for (const char* bad :
       {"[1.0]", "[1e3]", "[0.5]", "[9007199254740992]", "[-9007199254740992]", "[18446744073709551616]"}) {
    const auto result = canonicalize_json(bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().code, "PACKAGE_JSON_INVALID") << bad;
  }
}

TEST(CanonicalJson, RefusesDuplicateKeysBadUtf8DeepNestingAndNonJson) {
  for (const std::string& bad :
       {std::string(R"({"a":1,"a":2})"), std::string(R"({"x":{"a":1,"b":2,"a":3}})"), std::string("[\"\xc3\x28\"]"),
        std::string("[\"\xed\xa0\x80\"]"), std::string("[\"\xc0\xaf\"]"), std::string(20, '[') + std::string(20, ']'),
        std::string("{\"a\":1"), std::string("[1,]"), std::string("")}) {
    const auto result = canonicalize_json(bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().code, "PACKAGE_JSON_INVALID") << bad;
  }
}

// ---- manifest rules ------------------------------------------------------------------------------

TEST(Manifest, ParsesBackToTheSameContent) {
  const auto parsed = parse_manifest(canonical_example());
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const Manifest expected = example_manifest();
  EXPECT_EQ(parsed->package_id, expected.package_id);
  EXPECT_EQ(parsed->transaction.id, 42);
  EXPECT_EQ(parsed->transaction.channel, Channel::witness);
  EXPECT_EQ(parsed->transaction.closed_at, expected.transaction.closed_at);
  ASSERT_EQ(parsed->steps.size(), 2U);
  EXPECT_FALSE(parsed->steps[0].actor_role.has_value());
  EXPECT_EQ(parsed->steps[1].actor_role, StaffRole::witness);
  ASSERT_EQ(parsed->steps[1].evidence.size(), 1U);
  EXPECT_EQ(parsed->steps[1].evidence[0].ciphertext_size, 49U);
  EXPECT_EQ(parsed->audit_checkpoint.count, 17);
  EXPECT_EQ(parsed->recipients, expected.recipients);
}

TEST(Manifest, NonCanonicalSpellingsOfTheSameContentAreRefused) {
  const std::string canonical = canonical_example();
  std::string with_space = canonical;
  with_space.insert(1, " ");
  std::string with_escape = canonical;
  with_escape.replace(with_escape.find("KIOSK"), 1, "\\u004b");
  for (const std::string& bad : {with_space, canonical + "\n", reversed(Json::parse(canonical)).dump(), with_escape}) {
    const auto parsed = parse_manifest(bad);
    ASSERT_FALSE(parsed) << bad.substr(0, 60);
    EXPECT_EQ(parsed.error().code, "PACKAGE_MANIFEST_INVALID");
  }
}

TEST(Manifest, UnknownAndMissingFieldsAreNamed) {
  expect_field_error(parse_edited([](Json& m) { m["extra"] = 1; }), "extra");
  expect_field_error(parse_edited([](Json& m) { m["steps"][1]["evidence"][0]["note"] = "x"; }),
                     "steps[1].evidence[0].note");
  expect_field_error(parse_edited([](Json& m) { m.erase("sealed_at"); }), "sealed_at");
  expect_field_error(parse_edited([](Json& m) { m["transaction"].erase("terms_version_hash"); }),
                     "transaction.terms_version_hash");
}

TEST(Manifest, ValuesOutsideTheirRulesAreNamed) {
  expect_field_error(parse_edited([](Json& m) { m["format_version"] = 2; }), "format_version");
  expect_field_error(parse_edited([](Json& m) { m["suite"] = 2; }), "suite", "PACKAGE_SUITE_UNSUPPORTED");
  expect_field_error(parse_edited([](Json& m) { m["package_id"] = "short"; }), "package_id");
  expect_field_error(parse_edited([](Json& m) { m["kiosk_id"] = "kiosk with spaces"; }), "kiosk_id");
  expect_field_error(parse_edited([](Json& m) { m["transaction"]["state"] = "open"; }), "transaction.state");
  expect_field_error(parse_edited([](Json& m) { m["transaction"]["operation"] = "steal"; }), "transaction.operation");
  expect_field_error(parse_edited([](Json& m) { m["transaction"]["id"] = "42"; }), "transaction.id");
  expect_field_error(parse_edited([](Json& m) { m["transaction"]["opened_at"] = "2026-11-24 10:00:00"; }),
                     "transaction.opened_at");
  expect_field_error(parse_edited([](Json& m) { m["steps"][1]["sequence"] = 3; }), "steps[1].sequence");
  expect_field_error(parse_edited([](Json& m) { m["steps"][1]["actor"]["role"] = "investor"; }), "steps[1].actor.role");
  expect_field_error(parse_edited([](Json& m) { m["steps"][1]["evidence"][0]["plaintext_size"] = -1; }),
                     "steps[1].evidence[0].plaintext_size");
  expect_field_error(parse_edited([](Json& m) { m["steps"][1]["evidence"][0]["file"] = "../escape.sealed"; }),
                     "steps[1].evidence[0].file");
  expect_field_error(parse_edited([](Json& m) { m["steps"][1]["evidence"][0]["file"] = "manifest.json"; }),
                     "steps[1].evidence[0].file");
  expect_field_error(parse_edited([](Json& m) { m["audit_checkpoint"]["head_hash"] = "00"; }),
                     "audit_checkpoint.head_hash");
  expect_field_error(parse_edited([](Json& m) { m["recipients"] = Json::array(); }), "recipients");
  expect_field_error(parse_edited([](Json& m) {
                       m["recipients"] = Json::array({m["recipients"][1], m["recipients"][0]});
                     }),
                     "recipients[1]");
}

TEST(Manifest, FractionsAndTooLargeDocumentsAreRefused) {
  std::string fraction = canonical_example();
  fraction.replace(fraction.find("\"count\":17"), 10, "\"count\":17.0");
  EXPECT_EQ(parse_manifest(fraction).error().code, "PACKAGE_MANIFEST_INVALID");
  EXPECT_EQ(parse_manifest(std::string(kMaxManifestBytes + 1, ' ')).error().code, "PACKAGE_MANIFEST_INVALID");
  EXPECT_EQ(parse_manifest("not json").error().code, "PACKAGE_MANIFEST_INVALID");
}

TEST(Manifest, SerializingRefusesAnInvalidManifest) {
  Manifest manifest = example_manifest();
  manifest.transaction.state = TxState::open;
  const auto bytes = serialize_manifest(manifest);
  ASSERT_FALSE(bytes);
  EXPECT_NE(bytes.error().message.find("`transaction.state`"), std::string::npos);

  manifest = example_manifest();
  manifest.steps[1].evidence.push_back(manifest.steps[1].evidence[0]);
  EXPECT_NE(serialize_manifest(manifest).error().message.find("steps[1].evidence[1].file"), std::string::npos);
}

// ---- keys.json -----------------------------------------------------------------------------------

std::vector<WrappedKey> example_keys() {
  return {WrappedKey{std::string(64, '1'), WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm, {0x01, 0xab}},
          WrappedKey{std::string(64, '2'), WrapAlgorithm::rsa_oaep_sha256, std::vector<std::uint8_t>(256, 0x5a)}};
}

TEST(KeysJson, RoundTripsCanonically) {
  const auto bytes = serialize_keys(example_keys());
  ASSERT_TRUE(bytes) << bytes.error().to_string();
  EXPECT_TRUE(
      bytes->starts_with(R"({"format_version":1,"wrapped_keys":[{"algorithm":"ecdh_p256_hkdf_sha256_aes256gcm",)"
                         R"("data":"01ab","recipient_id":"1111)"))
      << *bytes;
  const auto parsed = parse_keys(*bytes);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[1].algorithm, WrapAlgorithm::rsa_oaep_sha256);
  EXPECT_EQ((*parsed)[1].data, example_keys()[1].data);
}

TEST(KeysJson, MalformedEntriesAreRefused) {
  const std::string good = serialize_keys(example_keys()).value();
  const auto edited = [&](const std::function<void(Json&)>& edit) {
    Json document = Json::parse(good);
    edit(document);
    return parse_keys(canonicalize_json(document.dump()).value());
  };
  const std::vector<std::function<void(Json&)>> edits{
      [](Json& k) { k["wrapped_keys"][0]["data"] = "0G"; },
      [](Json& k) { k["wrapped_keys"][0]["data"] = "abc"; },
      [](Json& k) { k["wrapped_keys"][0]["algorithm"] = "rsa-pkcs1"; },
      [](Json& k) { k["wrapped_keys"][1]["recipient_id"] = k["wrapped_keys"][0]["recipient_id"]; },
      [](Json& k) { k["wrapped_keys"] = Json::array(); },
      [](Json& k) { k["format_version"] = 2; },
      [](Json& k) { k["extra"] = true; },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const auto parsed = edited(edits[i]);
    ASSERT_FALSE(parsed) << i;
    EXPECT_EQ(parsed.error().code, "PACKAGE_KEYS_INVALID") << i;
  }
  EXPECT_EQ(parse_keys(good + " ").error().code, "PACKAGE_KEYS_INVALID");
}

// ---- FORMAT.md's worked example ------------------------------------------------------------------

// The content of the fenced block that follows `<!-- vector:NAME -->` in FORMAT.md.
std::string vector_from_format(std::string_view name) {
  std::ifstream in(KIOSK_PACKAGE_FORMAT_MD);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const std::string marker = "<!-- vector:" + std::string(name) + " -->";
  const auto at = text.find(marker);
  if (at == std::string::npos) {
    ADD_FAILURE() << "FORMAT.md has no " << marker;
    return {};
  }
  const auto fence = text.find("```", at);
  const auto begin = text.find('\n', fence) + 1;
  const auto end = text.find("\n```", begin);
  return text.substr(begin, end - begin);
}

TEST(FormatExample, DocumentedManifestIsTheCanonicalEncoding) {
  const std::string documented = vector_from_format("manifest.json");
  EXPECT_EQ(documented, canonical_example());
  const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(documented.data()), documented.size());
  EXPECT_EQ(journal::sha256_hex(bytes), vector_from_format("manifest.sha256"));
  EXPECT_TRUE(parse_manifest(documented));
}

TEST(FormatExample, DocumentedSignatureVerifiesWithTheDocumentedKey) {
  const std::string pem = vector_from_format("device-public-key.pem") + "\n";
  openssl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  openssl::Key key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(key);
  const std::string hex = vector_from_format("manifest.sig.hex");
  std::vector<std::uint8_t> signature;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    signature.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  const std::string manifest = vector_from_format("manifest.json");
  EXPECT_TRUE(verify_manifest_signature(manifest, signature, key.get()));
  std::string altered = manifest;
  altered[altered.find("\"count\":17")] = ' ';
  EXPECT_EQ(verify_manifest_signature(altered, signature, key.get()).error().code, "PACKAGE_SIGNATURE_INVALID");
}

TEST(Signature, SignsWithAP256KeyOnlyAndVerifiesItsOwnSignature) {
  openssl::Key device(EVP_EC_gen("P-256"));
  const std::string manifest = canonical_example();
  const auto signature = sign_manifest(manifest, device.get());
  ASSERT_TRUE(signature) << signature.error().to_string();
  EXPECT_LE(signature->size(), 72U);
  EXPECT_EQ((*signature)[0], 0x30) << "DER SEQUENCE";
  EXPECT_TRUE(verify_manifest_signature(manifest, *signature, device.get()));

  openssl::Key p384(EVP_EC_gen("P-384"));
  EXPECT_EQ(sign_manifest(manifest, p384.get()).error().code, "PACKAGE_DEVICE_KEY_UNSUITABLE");
  EXPECT_EQ(verify_manifest_signature(manifest, *signature, p384.get()).error().code, "PACKAGE_DEVICE_KEY_UNSUITABLE");
  EXPECT_EQ(verify_manifest_signature(manifest, {}, device.get()).error().code, "PACKAGE_SIGNATURE_INVALID");
}

}  // namespace
}  // namespace kiosk::sync::package
