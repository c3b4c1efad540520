// The SAM side of the frame codec: requests found in a noisy byte stream, refusals for bad frames,
// replies the host's decoder accepts, and the wire-time arithmetic the pacing relies on.
#include "hal/idcard/sim/request_frame.hpp"

#include <gtest/gtest.h>

#include "hal/idcard/sam_frame.hpp"

namespace kiosk::hal::idcard::sim {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

std::vector<DecodedRequest> decode_all(RequestDecoder& decoder) {
  std::vector<DecodedRequest> out;
  while (auto next = decoder.next()) out.push_back(std::move(*next));
  return out;
}

TEST(RequestDecoder, DecodesWhatTheHostEncoderSends) {
  RequestDecoder decoder;
  decoder.feed(encode_request(SamCommand::find_card));
  const auto found = decode_all(decoder);
  ASSERT_EQ(found.size(), 1U);
  ASSERT_TRUE(found[0].request.has_value());
  EXPECT_EQ(found[0].request->command, 0x2001);
  EXPECT_TRUE(found[0].request->data.empty());
  EXPECT_EQ(found[0].wire_bytes, 10U);
  EXPECT_EQ(decoder.pending_bytes(), 0U);
}

TEST(RequestDecoder, ReassemblesOneByteAtATimeAndKeepsData) {
  RequestDecoder decoder;
  const Bytes frame = encode_request(static_cast<SamCommand>(0x61FF), Bytes{0x50});
  for (std::size_t i = 0; i + 1 < frame.size(); ++i) {
    decoder.feed(std::span(frame).subspan(i, 1));
    EXPECT_FALSE(decoder.next().has_value()) << "after byte " << i;
  }
  decoder.feed(std::span(frame).last(1));
  const auto found = decoder.next();
  ASSERT_TRUE(found && found->request);
  EXPECT_EQ(found->request->command, 0x61FF);
  EXPECT_EQ(found->request->data, Bytes{0x50});
}

TEST(RequestDecoder, SkipsNoiseBeforeAndBetweenFrames) {
  RequestDecoder decoder;
  Bytes stream{0x00, 0x13, 0xAA, 0xAA, 0x42};
  const Bytes find = encode_request(SamCommand::find_card);
  const Bytes select = encode_request(SamCommand::select_card);
  stream.insert(stream.end(), find.begin(), find.end());
  stream.push_back(0x7E);
  stream.insert(stream.end(), select.begin(), select.end());
  decoder.feed(stream);
  const auto found = decode_all(decoder);
  ASSERT_EQ(found.size(), 2U);
  EXPECT_EQ(found[0].request->command, 0x2001);
  EXPECT_EQ(found[1].request->command, 0x2002);
  EXPECT_EQ(decoder.skipped_bytes(), 6U);
}

TEST(RequestDecoder, RefusesABadChecksumWith0x10AndResynchronises) {
  RequestDecoder decoder;
  Bytes bad = encode_request(SamCommand::find_card);
  bad.back() ^= 0x01;
  const Bytes good = encode_request(SamCommand::sam_status);
  bad.insert(bad.end(), good.begin(), good.end());
  decoder.feed(bad);
  const auto found = decode_all(decoder);
  ASSERT_EQ(found.size(), 2U);
  EXPECT_FALSE(found[0].request.has_value());
  EXPECT_EQ(found[0].refusal_sw3, kSw3HostChecksumError);
  ASSERT_TRUE(found[1].request.has_value());
  EXPECT_EQ(found[1].request->command, 0x11FF);
}

TEST(RequestDecoder, RefusesAnImpossibleLengthWith0x11WithoutWaiting) {
  for (const std::uint8_t low : {std::uint8_t{0x02}, std::uint8_t{0x41}}) {
    RequestDecoder decoder;
    decoder.feed(Bytes{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, low});
    const auto found = decoder.next();
    ASSERT_TRUE(found.has_value()) << int{low};
    EXPECT_FALSE(found->request.has_value());
    EXPECT_EQ(found->refusal_sw3, kSw3HostLengthError);
  }
}

TEST(RequestDecoder, KeepsASplitPreambleAcrossFeeds) {
  RequestDecoder decoder;
  const Bytes frame = encode_request(SamCommand::reset);
  decoder.feed(std::span(frame).first(3));
  EXPECT_FALSE(decoder.next().has_value());
  decoder.feed(std::span(frame).subspan(3));
  const auto found = decoder.next();
  ASSERT_TRUE(found && found->request);
  EXPECT_EQ(found->request->command, 0x10FF);
  EXPECT_EQ(decoder.skipped_bytes(), 0U);
}

TEST(EncodeResponse, MatchesThePublishedRepliesAndTheHostDecoder) {
  // Published: find reply "... 00 08 00 00 9F 00 00 00 00 97" and select reply checksum 9C.
  const Bytes find = encode_response(0x9F, Bytes{0, 0, 0, 0});
  EXPECT_EQ(find, (Bytes{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0, 0, 0, 0, 0x97}));
  const Bytes select = encode_response(0x90, Bytes(8, 0));
  EXPECT_EQ(select[6], 0x0C);
  EXPECT_EQ(select.back(), 0x9C);

  ResponseDecoder decoder;
  decoder.feed(encode_response(0x41));
  const auto reply = decoder.next();
  ASSERT_TRUE(reply && reply->has_value());
  EXPECT_EQ((*reply)->sw3, 0x41);
  EXPECT_TRUE((*reply)->data.empty());
}

TEST(WireTime, IsTenBitsPerByte) {
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(wire_time(1295, 115200)), 112ms);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(wire_time(2321, 9600)), 2417ms);
  EXPECT_EQ(wire_time(96, 9600), 100ms);
}

TEST(WireTime, BytesDueIsItsInverse) {
  for (const unsigned baud : {9600U, 19200U, 38400U, 57600U, 115200U}) {
    for (const std::size_t bytes : {std::size_t{1}, std::size_t{14}, std::size_t{1295}, std::size_t{2321}}) {
      const auto time = wire_time(bytes, baud);
      EXPECT_EQ(bytes_due(time, baud), bytes) << baud << " " << bytes;
      EXPECT_EQ(bytes_due(time - 1ns, baud), bytes - 1) << baud << " " << bytes;
    }
  }
  EXPECT_EQ(bytes_due(0ns, 9600), 0U);
  EXPECT_EQ(bytes_due(-5ms, 9600), 0U);
  // A day of running does not overflow the arithmetic.
  EXPECT_EQ(bytes_due(std::chrono::hours(24), 115200), 115200ULL * 86400 / 10);
}

}  // namespace
}  // namespace kiosk::hal::idcard::sim
