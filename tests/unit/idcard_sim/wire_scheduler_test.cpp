// Pacing against a fake clock: a reply starts after its wait, leaves at baud/10 bytes per second
// measured from its start (late wake-ups catch up instead of drifting), and replies queue behind
// each other on a half-duplex line.
#include "hal/idcard/sim/wire_scheduler.hpp"

#include <gtest/gtest.h>

namespace kiosk::hal::idcard::sim {
namespace {

using namespace std::chrono_literals;
using Clock = WireScheduler::Clock;
using Bytes = std::vector<std::uint8_t>;

Exchange exchange_of(std::chrono::nanoseconds wait, std::size_t bytes, std::uint8_t fill = 0x55) {
  Exchange exchange;
  exchange.transmissions.push_back(Transmission{wait, Bytes(bytes, fill)});
  return exchange;
}

struct Line {
  Bytes received;
  std::size_t capacity = SIZE_MAX;  // how much the line takes per write
  std::size_t writes = 0;
  WireScheduler::Writer writer() {
    return [this](std::span<const std::uint8_t> bytes) {
      ++writes;
      const std::size_t taken = std::min(bytes.size(), capacity);
      received.insert(received.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
      return taken;
    };
  }
};

TEST(WireScheduler, WaitsThenPacesAtTheBaudRate) {
  WireScheduler scheduler(9600);
  Line line;
  const Clock::time_point t0{};
  scheduler.add(exchange_of(10ms, 960), t0);  // 960 bytes at 9600 baud: exactly one second

  auto wake = scheduler.pump(t0, line.writer());
  ASSERT_TRUE(wake.has_value());
  EXPECT_EQ(*wake, t0 + 10ms);
  EXPECT_TRUE(line.received.empty());

  scheduler.pump(t0 + 10ms + 500ms, line.writer());
  EXPECT_EQ(line.received.size(), 480U);
  wake = scheduler.pump(t0 + 10ms + 999ms, line.writer());
  EXPECT_EQ(line.received.size(), 959U);
  ASSERT_TRUE(wake.has_value());
  EXPECT_LE(*wake, t0 + 10ms + 1000ms);
  EXPECT_FALSE(scheduler.pump(t0 + 10ms + 1000ms, line.writer()).has_value());
  EXPECT_EQ(line.received.size(), 960U);
  EXPECT_TRUE(scheduler.idle());
}

TEST(WireScheduler, WakesInSmallChunksWhileSending) {
  WireScheduler scheduler(115200);
  Line line;
  const Clock::time_point t0{};
  scheduler.add(exchange_of(0ns, 1295), t0);
  auto now = t0;
  std::size_t wakes = 0;
  while (auto wake = scheduler.pump(now, line.writer())) {
    EXPECT_LE(*wake - now, WireScheduler::kChunkInterval);
    now = *wake;
    ++wakes;
  }
  EXPECT_EQ(line.received.size(), 1295U);
  // 1295 bytes at 115200 baud take 112.4 ms: about one wake per millisecond, none wasted.
  EXPECT_GE(wakes, 100U);
  EXPECT_LE(wakes, 120U);
  EXPECT_GE(now - t0, wire_time(1295, 115200));
}

TEST(WireScheduler, LateWakeUpsCatchUpWithoutDrift) {
  WireScheduler scheduler(9600);
  Line line;
  const Clock::time_point t0{};
  scheduler.add(exchange_of(0ns, 96), t0);  // 100 ms
  scheduler.add(exchange_of(0ns, 96, 0x66), t0);
  // Nobody pumps for 150 ms: the first reply goes at once; the second starts when the first
  // would have ended on the wire (t0 + 100 ms), not when it was actually written.
  scheduler.pump(t0 + 150ms, line.writer());
  EXPECT_EQ(line.received.size(), 96U + 48U);
  scheduler.pump(t0 + 200ms, line.writer());
  EXPECT_EQ(line.received.size(), 192U);
  EXPECT_EQ(line.received.back(), 0x66);
}

TEST(WireScheduler, RepliesQueueBehindEachOther) {
  WireScheduler scheduler(9600);
  Line line;
  const Clock::time_point t0{};
  scheduler.add(exchange_of(0ns, 96), t0);                // on the line from t0 to t0 + 100 ms
  scheduler.add(exchange_of(20ms, 96, 0x66), t0 + 10ms);  // would start at 30 ms, waits for 100 ms
  scheduler.pump(t0 + 100ms, line.writer());
  EXPECT_EQ(line.received.size(), 96U);
  scheduler.pump(t0 + 150ms, line.writer());
  EXPECT_EQ(line.received.size(), 96U + 48U);
}

TEST(WireScheduler, GarbageThenFrameFollowEachOther) {
  WireScheduler scheduler(9600);
  Line line;
  const Clock::time_point t0{};
  Exchange exchange;
  exchange.transmissions.push_back(Transmission{10ms, Bytes(48, 0x01)});
  exchange.transmissions.push_back(Transmission{0ns, Bytes(48, 0x02)});
  scheduler.add(exchange, t0);
  scheduler.pump(t0 + 10ms + 75ms, line.writer());
  ASSERT_EQ(line.received.size(), 72U);
  EXPECT_EQ(line.received.back(), 0x02);
}

TEST(WireScheduler, AFullLineIsRetriedAndClearForgetsEverything) {
  WireScheduler scheduler(115200);
  Line line;
  line.capacity = 0;
  const Clock::time_point t0{};
  scheduler.add(exchange_of(0ns, 100), t0);
  const auto wake = scheduler.pump(t0 + 1s, line.writer());
  ASSERT_TRUE(wake.has_value());  // still pending: nothing was taken
  EXPECT_TRUE(line.received.empty());
  line.capacity = SIZE_MAX;
  EXPECT_FALSE(scheduler.pump(*wake, line.writer()).has_value());
  EXPECT_EQ(line.received.size(), 100U);

  scheduler.add(exchange_of(0ns, 100), t0 + 2s);
  scheduler.clear();
  EXPECT_TRUE(scheduler.idle());
  EXPECT_FALSE(scheduler.pump(t0 + 3s, line.writer()).has_value());
  EXPECT_EQ(line.received.size(), 100U);
}

}  // namespace
}  // namespace kiosk::hal::idcard::sim
