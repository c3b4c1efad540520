// The SAM frame codec against the published command bytes and replies (reference/hal.md §1.2-1.4)
// and against the damage a serial line does: pieces, garbage, flipped bits, lying lengths.
#include "hal/idcard/sam_frame.hpp"

#include <gtest/gtest.h>

namespace kiosk::hal::idcard {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Built byte by byte: GCC 12 reports a false -Warray-bounds for a range insert after the preamble.
Bytes with_preamble(std::initializer_list<std::uint8_t> a, const Bytes& b = {}) {
  Bytes out;
  out.reserve(kPreamble.size() + a.size() + b.size());
  for (const auto byte : kPreamble) out.push_back(byte);
  for (const auto byte : a) out.push_back(byte);
  for (const auto byte : b) out.push_back(byte);
  return out;
}

Bytes frame(std::initializer_list<std::uint8_t> after_preamble) { return with_preamble(after_preamble); }

// A reply frame with a correct length and checksum around SW1 SW2 SW3 + data.
Bytes reply(std::uint8_t sw3, const Bytes& data = {}) {
  const std::size_t length = 3 + data.size() + 1;
  Bytes out = with_preamble(
      {static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length & 0xFF), 0x00, 0x00, sw3}, data);
  std::uint8_t sum = 0;
  for (std::size_t i = kPreamble.size(); i < out.size(); ++i) sum = static_cast<std::uint8_t>(sum ^ out[i]);
  out.push_back(sum);
  return out;
}

TEST(SamFrame, RequestsMatchThePublishedCommandBytes) {
  EXPECT_EQ(encode_request(SamCommand::find_card), frame({0x00, 0x03, 0x20, 0x01, 0x22}));
  EXPECT_EQ(encode_request(SamCommand::select_card), frame({0x00, 0x03, 0x20, 0x02, 0x21}));
  EXPECT_EQ(encode_request(SamCommand::read_text_photo), frame({0x00, 0x03, 0x30, 0x01, 0x32}));
  EXPECT_EQ(encode_request(SamCommand::sam_status), frame({0x00, 0x03, 0x11, 0xFF, 0xED}));
}

TEST(SamFrame, DecodesThePublishedFindAndSelectReplies) {
  ResponseDecoder decoder;
  decoder.feed(frame({0x00, 0x08, 0x00, 0x00, 0x9F, 0x00, 0x00, 0x00, 0x00, 0x97}));
  decoder.feed(frame({0x00, 0x0C, 0x00, 0x00, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x9C}));
  auto find = decoder.next();
  ASSERT_TRUE(find && *find) << (find ? find->error().to_string() : "incomplete");
  EXPECT_EQ((*find)->sw3, 0x9F);
  EXPECT_EQ((*find)->data, Bytes(4, 0));
  auto select = decoder.next();
  ASSERT_TRUE(select && *select);
  EXPECT_EQ((*select)->sw3, 0x90);
  EXPECT_EQ((*select)->data.size(), 8U);
  EXPECT_FALSE(decoder.next());
}

TEST(SamFrame, AFrameArrivingByteByByteIsReassembled) {
  const Bytes whole = reply(0x90, Bytes(1290, 0x5A));  // the size of a text + photo reply
  ResponseDecoder decoder;
  for (std::size_t i = 0; i + 1 < whole.size(); ++i) {
    decoder.feed(std::span(&whole[i], 1));
    ASSERT_FALSE(decoder.next()) << "complete after only " << i + 1 << " bytes";
  }
  decoder.feed(std::span(&whole.back(), 1));
  auto response = decoder.next();
  ASSERT_TRUE(response && *response);
  EXPECT_EQ((*response)->data.size(), 1290U);
  EXPECT_EQ(decoder.pending_bytes(), 0U);
}

TEST(SamFrame, GarbageBetweenFramesIsSkippedAndCounted) {
  ResponseDecoder decoder;
  const Bytes garbage{0x00, 0xAA, 0x13, 0xAA, 0xAA, 0x96};
  decoder.feed(garbage);
  decoder.feed(reply(0x80));
  auto response = decoder.next();
  ASSERT_TRUE(response && *response);
  EXPECT_EQ((*response)->sw3, 0x80);
  EXPECT_EQ(decoder.skipped_bytes(), garbage.size());
}

TEST(SamFrame, AFlippedBitIsACheckedErrorAndTheNextFrameStillDecodes) {
  Bytes damaged = reply(0x90, {1, 2, 3});
  damaged[11] ^= 0x04;
  ResponseDecoder decoder;
  decoder.feed(damaged);
  decoder.feed(reply(0x9F, {0, 0, 0, 0}));
  auto first = decoder.next();
  ASSERT_TRUE(first);
  ASSERT_FALSE(*first);
  EXPECT_EQ(first->error().code, "SAM_FRAME_CHECKSUM");
  auto second = decoder.next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->sw3, 0x9F);
}

TEST(SamFrame, ALyingLengthFieldIsRefusedWithoutWaitingForItsBytes) {
  ResponseDecoder decoder;
  decoder.feed(frame({0xFF, 0xFF, 0x00, 0x00, 0x90}));  // claims 65535 bytes
  decoder.feed(reply(0x90));
  auto first = decoder.next();
  ASSERT_TRUE(first);
  ASSERT_FALSE(*first);
  EXPECT_EQ(first->error().code, "SAM_FRAME_LENGTH");
  auto second = decoder.next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->sw3, 0x90);
}

TEST(SamFrame, ATooShortLengthIsRefused) {
  ResponseDecoder decoder;
  decoder.feed(frame({0x00, 0x02, 0x00, 0x02}));
  auto result = decoder.next();
  ASSERT_TRUE(result);
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code, "SAM_FRAME_LENGTH");
}

TEST(SamFrame, ATruncatedFrameWaitsAndHoldsAtMostOneFrame) {
  const Bytes whole = reply(0x90, Bytes(100, 1));
  ResponseDecoder decoder;
  decoder.feed(std::span(whole).first(50));
  EXPECT_FALSE(decoder.next());
  EXPECT_EQ(decoder.pending_bytes(), 50U);
  decoder.reset();
  EXPECT_EQ(decoder.pending_bytes(), 0U);
}

TEST(SamFrame, NoiseWithoutAPreambleIsNotHoarded) {
  ResponseDecoder decoder;
  decoder.feed(Bytes(100'000, 0x11));
  EXPECT_FALSE(decoder.next());
  EXPECT_LT(decoder.pending_bytes(), kPreamble.size());
  EXPECT_EQ(decoder.skipped_bytes() + decoder.pending_bytes(), 100'000U);
}

TEST(SamResults, EveryDocumentedCodeHasAClassAndAName) {
  const std::pair<std::uint8_t, ResultClass> table[] = {
      {0x90, ResultClass::ok},
      {0x9F, ResultClass::ok},
      {0x91, ResultClass::ok},
      {0x80, ResultClass::no_media},
      {0x10, ResultClass::retry},
      {0x11, ResultClass::retry},
      {0x31, ResultClass::retry},
      {0x47, ResultClass::retry},
      {0x40, ResultClass::user_action},
      {0x41, ResultClass::user_action},
      {0x81, ResultClass::user_action},
      {0x32, ResultClass::suspect_card},
      {0x33, ResultClass::suspect_card},
      {0x21, ResultClass::programming_error},
      {0x23, ResultClass::programming_error},
      {0x24, ResultClass::device_fault},
      {0x60, ResultClass::device_fault},
      {0x66, ResultClass::device_fault},
  };
  for (const auto& [byte, expected] : table) {
    const auto result = sam_result_from_byte(byte);
    ASSERT_TRUE(result) << std::hex << int{byte};
    EXPECT_EQ(classify(*result), expected) << std::hex << int{byte};
    EXPECT_TRUE(to_string(*result).starts_with("SAM_"));
  }
  EXPECT_FALSE(sam_result_from_byte(0x00));
  EXPECT_FALSE(sam_result_from_byte(0x01));  // a host-library code, never on the wire
}

}  // namespace
}  // namespace kiosk::hal::idcard
