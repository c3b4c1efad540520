// Unit tests of the kiosk's NCIIS reply parser (sync/client/nciis_client): good answers of every
// result, each bad field, and a photo whose hash does not match.
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>

#include "kiosk/core/journal/atomic_file.hpp"
#include "sync/client/nciis_client.hpp"

using kiosk::sync::NciisResult;
using kiosk::sync::parse_nciis_reply;
using nlohmann::json;

namespace {

const std::string kPhoto = "photo";  // base64 "cGhvdG8="
constexpr const char* kPhotoBase64 = "cGhvdG8=";
constexpr const char* kRequestId = "0123456789abcdef0123456789abcdef";

std::string sha256(std::string_view bytes) {
  return kiosk::journal::sha256_hex(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

json good_match() {
  return json{{"request_id", kRequestId},
              {"result", "MATCH"},
              {"checked_at", "2026-11-24T10:00:00Z"},
              {"photo_sha256", sha256(kPhoto)},
              {"photo_base64", kPhotoBase64}};
}

json good_without_photo(const char* result) {
  json body = good_match();
  body["result"] = result;
  body["photo_sha256"] = "";
  body["photo_base64"] = "";
  return body;
}

std::string refusal(const json& body) {
  auto parsed = parse_nciis_reply(body.dump());
  EXPECT_FALSE(parsed) << "accepted: " << body.dump();
  if (parsed) return {};
  EXPECT_EQ(parsed.error().code, "NCIIS_REPLY_INVALID");
  return parsed.error().message;
}

}  // namespace

TEST(NciisReply, ResultNamesAreStable) {
  EXPECT_EQ(to_string(NciisResult::match), "MATCH");
  EXPECT_EQ(to_string(NciisResult::mismatch), "MISMATCH");
  EXPECT_EQ(to_string(NciisResult::not_found), "NOT_FOUND");
  EXPECT_EQ(to_string(NciisResult::error), "ERROR");
}

TEST(NciisReply, ParsesAMatchWithItsPhoto) {
  auto answer = parse_nciis_reply(good_match().dump());
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->request_id, kRequestId);
  EXPECT_EQ(answer->result, NciisResult::match);
  EXPECT_EQ(answer->checked_at, "2026-11-24T10:00:00Z");
  EXPECT_EQ(answer->photo, kPhoto);
  EXPECT_EQ(answer->photo_sha256, sha256(kPhoto));
  EXPECT_TRUE(answer->error_code.empty());
}

TEST(NciisReply, ParsesEachResultWithoutPhoto) {
  for (const auto& [text, result] :
       {std::pair{"MATCH", NciisResult::match}, std::pair{"MISMATCH", NciisResult::mismatch},
        std::pair{"NOT_FOUND", NciisResult::not_found}}) {
    auto body = good_without_photo(text);
    body["some_future_field"] = 1;  // ignored
    auto answer = parse_nciis_reply(body.dump());
    ASSERT_TRUE(answer) << text << ": " << answer.error().to_string();
    EXPECT_EQ(answer->result, result);
    EXPECT_TRUE(answer->photo.empty());
    EXPECT_TRUE(answer->photo_sha256.empty());
  }
  auto error = good_without_photo("ERROR");
  error["error_code"] = "NCIIS_SERVICE_ERROR";
  error["error_message"] = "no answer";
  auto answer = parse_nciis_reply(error.dump());
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->result, NciisResult::error);
  EXPECT_EQ(answer->error_code, "NCIIS_SERVICE_ERROR");
  EXPECT_EQ(answer->error_message, "no answer");
}

TEST(NciisReply, RefusesEachBadField) {
  struct Case {
    std::string field;
    json value;  // null: remove the field
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"request_id", nullptr, "\"request_id\" is missing"},
      {"request_id", 5, "\"request_id\" is not a string"},
      {"request_id", "0123456789ABCDEF0123456789ABCDEF", "request_id"},
      {"request_id", "abc", "request_id"},
      {"result", nullptr, "\"result\" is missing"},
      {"result", "match", "\"result\""},
      {"result", "MAYBE", "\"result\""},
      {"checked_at", nullptr, "\"checked_at\" is missing"},
      {"checked_at", "2026-11-24 10:00:00", "checked_at"},
      {"checked_at", "2026-13-24T10:00:00Z", "checked_at"},
      {"checked_at", "2026-11-24T10:00:00+08:00", "checked_at"},
      {"photo_sha256", nullptr, "\"photo_sha256\" is missing"},
      {"photo_sha256", "", "both be empty or both be set"},
      {"photo_sha256", "ABCD", "64 lowercase hex"},
      {"photo_base64", nullptr, "\"photo_base64\" is missing"},
      {"photo_base64", "cGhvdG8", "not valid base64"},
      {"photo_base64", "cGh vdG8=", "not valid base64"},
      {"photo_base64", "cGhvdG9=", "not valid base64"},  // non-canonical padding bits
      {"photo_base64", "", "both be empty or both be set"},
      {"photo_base64", std::string((kiosk::sync::kMaxNciisPhotoBytes / 3 + 2) * 4, 'A'), "larger than"},
      {"error_code", "X", "\"error_code\" came with a result other than ERROR"},
  };
  for (const auto& c : cases) {
    json body = good_match();
    if (c.value.is_null()) {
      body.erase(c.field);
    } else {
      body[c.field] = c.value;
    }
    const std::string message = refusal(body);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.field << ": " << message;
  }
  EXPECT_NE(refusal(json::array()).find("not a JSON object"), std::string::npos);
  auto deep = parse_nciis_reply(std::string(100000, '[') + std::string(100000, ']'));
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message.find("nested too deeply"), std::string::npos);
  EXPECT_FALSE(parse_nciis_reply("{\"request_id\":"));

  auto photo_on_mismatch = good_match();
  photo_on_mismatch["result"] = "MISMATCH";
  EXPECT_NE(refusal(photo_on_mismatch).find("other than MATCH"), std::string::npos);

  auto error_without_code = good_without_photo("ERROR");
  EXPECT_NE(refusal(error_without_code).find("no \"error_code\""), std::string::npos);
  error_without_code["error_code"] = "";
  EXPECT_NE(refusal(error_without_code).find("no \"error_code\""), std::string::npos);
}

TEST(NciisReply, RefusesAPhotoWhoseHashDoesNotMatch) {
  auto body = good_match();
  body["photo_sha256"] = sha256("another photo");
  EXPECT_NE(refusal(body).find("does not match"), std::string::npos);
  // The same hash with one photo byte changed in transit.
  body = good_match();
  body["photo_base64"] = "cGhvdGE=";  // "phota"
  EXPECT_NE(refusal(body).find("does not match"), std::string::npos);
}
