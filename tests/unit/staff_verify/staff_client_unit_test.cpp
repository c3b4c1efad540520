// The kiosk's staff-confirmation client without a network: strict reply validation and wiping.
#include <gtest/gtest.h>

#include <string>

#include "sync/client/staff_client.hpp"

using kiosk::sync::parse_staff_reply;
using kiosk::sync::wipe_secret;

namespace {

std::string reply_code(std::string_view body, std::string_view expected_id = "S0007") {
  auto parsed = parse_staff_reply(body, expected_id);
  return parsed ? std::string("OK") : parsed.error().code;
}

TEST(StaffReply, AcceptsAWellFormedAnswerAndIgnoresExtraFields) {
  auto staff = parse_staff_reply(
      R"({"staff_id":"S0007","display_name":"赵敏","role":"operator","added_later":{"x":1}})", "S0007");
  ASSERT_TRUE(staff) << staff.error().to_string();
  EXPECT_EQ(staff->staff_id, "S0007");
  EXPECT_EQ(staff->display_name, "赵敏");
  EXPECT_EQ(staff->role, "operator");
  for (const char* role : {"witness", "reviewer"}) {
    const std::string body = std::string(R"({"staff_id":"S0007","display_name":"Z","role":")") + role + "\"}";
    EXPECT_EQ(reply_code(body), "OK") << role;
  }
}

TEST(StaffReply, RefusesEverythingElseWithStaffReplyInvalid) {
  const std::string long_name(kiosk::sync::kMaxStaffDisplayNameBytes + 1, 'n');
  const std::string exact_name(kiosk::sync::kMaxStaffDisplayNameBytes, 'n');
  EXPECT_EQ(reply_code(R"({"staff_id":"S0007","display_name":")" + exact_name + R"(","role":"witness"})"), "OK");
  for (const std::string& body : {
           std::string(""),
           std::string("not json"),
           std::string("[]"),
           std::string(R"("S0007")"),
           std::string(R"({"display_name":"Z","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":"Z"})"),
           std::string(R"({"staff_id":7,"display_name":"Z","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":null,"role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":"Z","role":["witness"]})"),
           std::string(R"({"staff_id":"S0008","display_name":"Z","role":"witness"})"),  // another account
           std::string(R"({"staff_id":"s0007","display_name":"Z","role":"witness"})"),  // ids are exact
           std::string(R"({"staff_id":"S0007","display_name":"","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":")" + long_name + R"(","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":"Z\nfake log line","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":"Z\u007f","role":"witness"})"),
           std::string(R"({"staff_id":"S0007","display_name":"Z","role":"admin"})"),
           std::string(R"({"staff_id":"S0007","display_name":"Z","role":"Witness"})"),
           std::string("{\"staff_id\":\"S0007\",\"display_name\":\"\xff\",\"role\":\"witness\"}"),  // not UTF-8
           std::string(40, '[') + std::string(40, ']'),
       }) {
    EXPECT_EQ(reply_code(body), "STAFF_REPLY_INVALID") << body;
  }
}

TEST(StaffReply, ErrorMessagesDoNotEchoTheAnswersValues) {
  auto wrong_account = parse_staff_reply(R"({"staff_id":"S0008","display_name":"Zhao Min","role":"witness"})", "S0007");
  ASSERT_FALSE(wrong_account);
  for (const char* value : {"S0008", "S0007", "Zhao Min"}) {
    EXPECT_EQ(wrong_account.error().message.find(value), std::string::npos) << wrong_account.error().message;
  }
  auto bad_role = parse_staff_reply(R"({"staff_id":"S0007","display_name":"Zhao Min","role":"root"})", "S0007");
  ASSERT_FALSE(bad_role);
  EXPECT_EQ(bad_role.error().message.find("root"), std::string::npos) << bad_role.error().message;
}

TEST(WipeSecret, OverwritesEveryByteUpToTheCapacityAndEmpties) {
  std::string secret = "a-long-password-that-is-not-in-sso-storage";
  secret.resize(5);  // the tail bytes still sit in the buffer
  const char* buffer = secret.data();
  const std::size_t capacity = secret.capacity();
  wipe_secret(secret);
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.data(), buffer);  // wiped in place, not moved away and left behind
  for (std::size_t i = 0; i < capacity; ++i) EXPECT_EQ(buffer[i], '\0') << i;
}

}  // namespace
