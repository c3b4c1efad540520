// The simulated SAM answers every command as reference/hal.md §1.3-1.4 says, with and without a
// card, and each fault damages the reply the way it claims, as seen by the host's real decoder.
#include "hal/idcard/sim/sim_engine.hpp"

#include <gtest/gtest.h>

#include "hal/idcard/id_document.hpp"
#include "hal/idcard/sam_frame.hpp"

namespace kiosk::hal::idcard::sim {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

CardFixture fixture(std::string_view name) {
  auto card = load_named_fixture(IDCARD_SIM_CARDS_DIR, name);
  EXPECT_TRUE(card.has_value()) << (card ? "" : card.error().to_string());
  return card ? std::move(*card) : CardFixture{};
}

Bytes wire_bytes(const Exchange& exchange) {
  Bytes out;
  for (const auto& transmission : exchange.transmissions) {
    out.insert(out.end(), transmission.bytes.begin(), transmission.bytes.end());
  }
  return out;
}

Exchange one_exchange(SimEngine& engine, SamCommand command, const Bytes& data = {}) {
  auto exchanges = engine.receive(encode_request(command, data));
  EXPECT_EQ(exchanges.size(), 1U);
  return exchanges.empty() ? Exchange{} : std::move(exchanges.front());
}

// Sends one request and decodes the reply with the host's ResponseDecoder; fails the test for a
// missing or damaged reply.
SamResponse ask(SimEngine& engine, SamCommand command, const Bytes& data = {}) {
  ResponseDecoder decoder;
  decoder.feed(wire_bytes(one_exchange(engine, command, data)));
  auto reply = decoder.next();
  EXPECT_TRUE(reply.has_value());
  if (!reply) return {};
  EXPECT_TRUE(reply->has_value()) << reply->error().to_string();
  return reply->value_or(SamResponse{});
}

class SimEngineTest : public ::testing::Test {
 protected:
  SimEngine engine_;
};

TEST_F(SimEngineTest, SamCommandsAnswerWithoutACard) {
  EXPECT_EQ(ask(engine_, SamCommand::reset).sw3, 0x90);
  EXPECT_EQ(ask(engine_, SamCommand::sam_status).sw3, 0x90);
  const SamResponse id = ask(engine_, SamCommand::sam_id);
  EXPECT_EQ(id.sw3, 0x90);
  ASSERT_EQ(id.data.size(), 16U);
  const auto parsed = parse_sam_id(id.data);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->to_string(), "05.01-20101111-0012345678-1234567890");
}

TEST_F(SimEngineTest, ConfiguredSamIdIsReturned) {
  SimEngine engine(EngineConfig{115200, 0ms, SamId{1, 2, 3, 4, 5}, 1});
  const auto parsed = parse_sam_id(ask(engine, SamCommand::sam_id).data);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->to_string(), "01.02-00000003-0000000004-0000000005");
}

TEST_F(SimEngineTest, EmptySlotAnswersNoCardToFindSelectAndRead) {
  const SamResponse find = ask(engine_, SamCommand::find_card);
  EXPECT_EQ(find.sw3, 0x80);
  EXPECT_TRUE(find.data.empty());
  EXPECT_EQ(ask(engine_, SamCommand::select_card).sw3, 0x81);
  EXPECT_EQ(ask(engine_, SamCommand::read_text_photo).sw3, 0x41);
  EXPECT_EQ(ask(engine_, SamCommand::read_text_photo_fingerprint).sw3, 0x41);
  EXPECT_EQ(ask(engine_, SamCommand::read_additional_address).sw3, 0x41);
}

TEST_F(SimEngineTest, PlacedCardIsFoundSelectedAndRead) {
  const CardFixture resident = fixture("resident");
  engine_.place(resident);

  const SamResponse find = ask(engine_, SamCommand::find_card);
  EXPECT_EQ(find.sw3, 0x9F);
  EXPECT_EQ(find.data, (Bytes{0, 0, 0, 0}));
  const SamResponse select = ask(engine_, SamCommand::select_card);
  EXPECT_EQ(select.sw3, 0x90);
  EXPECT_EQ(select.data, Bytes(8, 0));

  const Exchange read = one_exchange(engine_, SamCommand::read_text_photo);
  EXPECT_EQ(wire_bytes(read).size(), 1295U);  // the published frame size
  ResponseDecoder decoder;
  decoder.feed(wire_bytes(read));
  const auto reply = decoder.next();
  ASSERT_TRUE(reply && reply->has_value());
  EXPECT_EQ((*reply)->sw3, 0x90);
  const auto card = parse_read_reply((*reply)->data, false);
  ASSERT_TRUE(card.has_value()) << card.error().to_string();
  EXPECT_EQ(card->document.id_number, "11010519491231002X");
  EXPECT_EQ(card->photo_wlt, resident.photo_wlt);
  EXPECT_TRUE(card->fingerprint.empty());

  engine_.remove();
  EXPECT_EQ(ask(engine_, SamCommand::find_card).sw3, 0x80);
}

TEST_F(SimEngineTest, FingerprintReadHasTheFixturesSize) {
  const std::vector<std::pair<std::string_view, std::size_t>> cases{
      {"resident", 2321}, {"bad-check-digit", 1809}, {"expired", 1297}};
  for (const auto& [name, frame_bytes] : cases) {
    const CardFixture card = fixture(name);
    engine_.place(card);
    const Exchange read = one_exchange(engine_, SamCommand::read_text_photo_fingerprint);
    EXPECT_EQ(wire_bytes(read).size(), frame_bytes) << name;
    ResponseDecoder decoder;
    decoder.feed(wire_bytes(read));
    const auto reply = decoder.next();
    ASSERT_TRUE(reply && reply->has_value()) << name;
    const auto parsed = parse_read_reply((*reply)->data, true);
    ASSERT_TRUE(parsed.has_value()) << name << ": " << parsed.error().to_string();
    EXPECT_EQ(parsed->fingerprint, card.fingerprint) << name;
    EXPECT_EQ(parsed->fingerprint.size(), card.fingerprint_bytes) << name;
  }
}

TEST_F(SimEngineTest, AdditionalAddressOrNoContent) {
  engine_.place(fixture("resident"));
  const SamResponse address = ask(engine_, SamCommand::read_additional_address);
  EXPECT_EQ(address.sw3, 0x90);
  const auto text = parse_additional_address(address.data);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "北京市东城区测试路2号");

  engine_.place(fixture("expired"));
  const SamResponse none = ask(engine_, SamCommand::read_additional_address);
  EXPECT_EQ(none.sw3, 0x91);
  EXPECT_TRUE(none.data.empty());
}

TEST_F(SimEngineTest, BadRequestsGetTheirRefusalCodes) {
  Bytes bad_checksum = encode_request(SamCommand::find_card);
  bad_checksum.back() ^= 0x40;
  auto exchanges = engine_.receive(bad_checksum);
  ASSERT_EQ(exchanges.size(), 1U);
  EXPECT_FALSE(exchanges[0].command.has_value());
  EXPECT_EQ(exchanges[0].sw3, 0x10);

  exchanges = engine_.receive(Bytes{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x01, 0x00});
  ASSERT_EQ(exchanges.size(), 1U);
  EXPECT_EQ(exchanges[0].sw3, 0x11);

  EXPECT_EQ(ask(engine_, static_cast<SamCommand>(0x3005)).sw3, 0x21);
  EXPECT_EQ(ask(engine_, static_cast<SamCommand>(0x9999)).sw3, 0x21);
  // A command that takes no data, sent with some: a length the SAM does not expect.
  EXPECT_EQ(ask(engine_, SamCommand::find_card, Bytes{0x01}).sw3, 0x11);
  // Set max RF bytes takes exactly one.
  EXPECT_EQ(ask(engine_, static_cast<SamCommand>(0x61FF), Bytes{0x50}).sw3, 0x90);
  EXPECT_EQ(ask(engine_, static_cast<SamCommand>(0x61FF)).sw3, 0x11);
}

TEST_F(SimEngineTest, NoiseOnTheLineIsSkippedLikeAUart) {
  Bytes stream{0x00, 0xFF, 0x12};
  const Bytes find = encode_request(SamCommand::find_card);
  stream.insert(stream.end(), find.begin(), find.end());
  const auto exchanges = engine_.receive(stream);
  ASSERT_EQ(exchanges.size(), 1U);
  EXPECT_EQ(exchanges[0].command, 0x2001);
  EXPECT_EQ(engine_.skipped_bytes(), 3U);

  // Half a frame, then the line goes idle: forgotten, and the next request is answered normally.
  EXPECT_TRUE(engine_.receive(std::span(find).first(6)).empty());
  EXPECT_TRUE(engine_.has_partial_request());
  engine_.line_idle();
  EXPECT_FALSE(engine_.has_partial_request());
  EXPECT_EQ(engine_.receive(find).size(), 1U);
}

TEST_F(SimEngineTest, RepliesWaitForTheRequestsWireTimeAndTheSamDelay) {
  SimEngine engine(EngineConfig{9600, 25ms, kDefaultSamId, 1});
  const Exchange exchange = one_exchange(engine, SamCommand::find_card);
  ASSERT_EQ(exchange.transmissions.size(), 1U);
  // 10 request bytes at 9600 baud take 10.42 ms, then the SAM's 25 ms.
  EXPECT_EQ(exchange.transmissions[0].wait, wire_time(10, 9600) + 25ms);
  EXPECT_EQ(exchange.request_bytes, 10U);
  EXPECT_EQ(exchange.reply_bytes, 11U);
}

TEST_F(SimEngineTest, BitflipFailsTheChecksum) {
  engine_.place(fixture("resident"));
  engine_.add_fault(Fault{FaultKind::bitflip, FaultTarget::any, 0, WrongLength::alternate, 3});
  for (const SamCommand command : {SamCommand::find_card, SamCommand::select_card, SamCommand::read_text_photo}) {
    const Exchange exchange = one_exchange(engine_, command);
    EXPECT_EQ(exchange.fault, "bitflip");
    ResponseDecoder decoder;
    decoder.feed(wire_bytes(exchange));
    const auto reply = decoder.next();
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->has_value());
    EXPECT_EQ(reply->error().code, "SAM_FRAME_CHECKSUM");
  }
  EXPECT_TRUE(engine_.faults().empty());
  EXPECT_EQ(ask(engine_, SamCommand::find_card).sw3, 0x9F);  // the fault is used up
}

TEST_F(SimEngineTest, WrongLengthAlternatesImpossibleAndPlausible) {
  engine_.place(fixture("resident"));
  engine_.add_fault(Fault{FaultKind::wrong_length, FaultTarget::any, 0, WrongLength::alternate, 2});
  for (const std::string_view expected : {"SAM_FRAME_LENGTH", "SAM_FRAME_CHECKSUM"}) {
    ResponseDecoder decoder;
    decoder.feed(wire_bytes(one_exchange(engine_, SamCommand::read_text_photo)));
    const auto reply = decoder.next();
    ASSERT_TRUE(reply.has_value()) << expected;
    ASSERT_FALSE(reply->has_value()) << expected;
    EXPECT_EQ(reply->error().code, expected);
  }
}

TEST_F(SimEngineTest, PlausibleWrongLengthOnAReplyWithoutDataLeavesTheHostWaiting) {
  engine_.add_fault(Fault{FaultKind::wrong_length, FaultTarget::any, 0, WrongLength::plausible, 1});
  const Bytes bytes = wire_bytes(one_exchange(engine_, SamCommand::find_card));
  EXPECT_EQ(bytes[6], 0x05);  // claims 5 where the frame holds 4
  ResponseDecoder decoder;
  decoder.feed(bytes);
  EXPECT_FALSE(decoder.next().has_value());
  EXPECT_EQ(decoder.pending_bytes(), bytes.size());
}

TEST_F(SimEngineTest, ImpossibleWrongLengthIsOverTheLargestFrame) {
  engine_.add_fault(Fault{FaultKind::wrong_length, FaultTarget::any, 0, WrongLength::impossible, 1});
  const Bytes bytes = wire_bytes(one_exchange(engine_, SamCommand::sam_status));
  EXPECT_GT((std::size_t{bytes[5]} << 8) | bytes[6], kMaxLengthField);
}

TEST_F(SimEngineTest, TruncateLeavesTheHostNeedingMoreBytes) {
  engine_.place(fixture("resident"));
  engine_.add_fault(Fault{FaultKind::truncate, FaultTarget::any, 0, WrongLength::alternate, 1});
  const Exchange exchange = one_exchange(engine_, SamCommand::read_text_photo);
  const Bytes bytes = wire_bytes(exchange);
  EXPECT_GT(bytes.size(), 7U);
  EXPECT_LT(bytes.size(), 1295U);
  ResponseDecoder decoder;
  decoder.feed(bytes);
  EXPECT_FALSE(decoder.next().has_value());
  EXPECT_EQ(decoder.pending_bytes(), bytes.size());
}

TEST_F(SimEngineTest, GarbageComesBeforeAGoodReply) {
  engine_.place(fixture("resident"));
  engine_.add_fault(Fault{FaultKind::garbage, FaultTarget::any, 0, WrongLength::alternate, 1});
  const Exchange exchange = one_exchange(engine_, SamCommand::find_card);
  ASSERT_EQ(exchange.transmissions.size(), 2U);
  EXPECT_EQ(exchange.transmissions[1].wait, 0ns);  // the reply follows the noise at once
  ResponseDecoder decoder;
  decoder.feed(wire_bytes(exchange));
  const auto reply = decoder.next();
  ASSERT_TRUE(reply && reply->has_value());
  EXPECT_EQ((*reply)->sw3, 0x9F);
  EXPECT_GT(decoder.skipped_bytes(), 0U);
  EXPECT_EQ(decoder.skipped_bytes(), exchange.transmissions[0].bytes.size());
}

TEST_F(SimEngineTest, SilenceSendsNothing) {
  engine_.add_fault(Fault{FaultKind::silence, FaultTarget::any, 0, WrongLength::alternate, 1});
  const Exchange exchange = one_exchange(engine_, SamCommand::sam_status);
  EXPECT_TRUE(exchange.transmissions.empty());
  EXPECT_FALSE(exchange.sw3.has_value());
  EXPECT_EQ(exchange.fault, "silence");
  EXPECT_EQ(ask(engine_, SamCommand::sam_status).sw3, 0x90);
}

TEST_F(SimEngineTest, StatusFaultWaitsForItsCommand) {
  engine_.place(fixture("resident"));
  engine_.add_fault(Fault{FaultKind::status, FaultTarget::read, 0x33, WrongLength::alternate, 2});
  EXPECT_EQ(ask(engine_, SamCommand::find_card).sw3, 0x9F);
  EXPECT_EQ(ask(engine_, SamCommand::select_card).sw3, 0x90);
  const SamResponse first = ask(engine_, SamCommand::read_text_photo);
  EXPECT_EQ(first.sw3, 0x33);
  EXPECT_TRUE(first.data.empty());
  EXPECT_EQ(ask(engine_, SamCommand::read_text_photo_fingerprint).sw3, 0x33);
  EXPECT_EQ(ask(engine_, SamCommand::read_text_photo).sw3, 0x90);

  engine_.add_fault(Fault{FaultKind::status, FaultTarget::find, 0x80, WrongLength::alternate, 1});
  engine_.add_fault(Fault{FaultKind::status, FaultTarget::select, 0x81, WrongLength::alternate, 1});
  EXPECT_EQ(ask(engine_, SamCommand::select_card).sw3, 0x81);  // the find fault does not apply here
  EXPECT_EQ(ask(engine_, SamCommand::find_card).sw3, 0x80);

  engine_.add_fault(Fault{FaultKind::status, FaultTarget::any, 0x60, WrongLength::alternate, 1});
  EXPECT_EQ(ask(engine_, SamCommand::sam_status).sw3, 0x60);
  EXPECT_EQ(ask(engine_, SamCommand::sam_status).sw3, 0x90);
}

TEST_F(SimEngineTest, FaultsAreTakenOldestFirst) {
  engine_.add_fault(Fault{FaultKind::status, FaultTarget::any, 0x24, WrongLength::alternate, 1});
  engine_.add_fault(Fault{FaultKind::silence, FaultTarget::any, 0, WrongLength::alternate, 1});
  EXPECT_EQ(ask(engine_, SamCommand::sam_status).sw3, 0x24);
  EXPECT_TRUE(one_exchange(engine_, SamCommand::sam_status).transmissions.empty());
  EXPECT_EQ(ask(engine_, SamCommand::sam_status).sw3, 0x90);
}

TEST_F(SimEngineTest, RemoveDuringReadTakesTheCardAway) {
  engine_.place(fixture("resident"));
  engine_.add_fault(Fault{FaultKind::remove_during_read, FaultTarget::any, 0, WrongLength::alternate, 1});
  EXPECT_EQ(ask(engine_, SamCommand::find_card).sw3, 0x9F);  // waits for the read
  EXPECT_EQ(ask(engine_, SamCommand::select_card).sw3, 0x90);
  EXPECT_EQ(ask(engine_, SamCommand::read_text_photo).sw3, 0x41);
  EXPECT_FALSE(engine_.card().has_value());
  EXPECT_EQ(ask(engine_, SamCommand::find_card).sw3, 0x80);
}

TEST_F(SimEngineTest, FaultDescriptions) {
  EXPECT_EQ(describe(Fault{FaultKind::status, FaultTarget::read, 0x41, WrongLength::alternate, 2}),
            "status 0x41 on read times 2");
  EXPECT_EQ(describe(Fault{FaultKind::wrong_length, FaultTarget::any, 0, WrongLength::plausible, 1}),
            "wrong-length plausible times 1");
}

}  // namespace
}  // namespace kiosk::hal::idcard::sim
