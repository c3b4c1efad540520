#include "kiosk/core/event_queue.hpp"

#include "kiosk/core/kiosk_session.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace kiosk {
namespace {

TEST(EventQueue, KeepsOrderPerProducerAcrossThreads) {
  EventQueue<Event> queue;
  std::atomic<int> wakes{0};
  queue.set_waker([&wakes] { ++wakes; });
  constexpr int kPerThread = 2000;
  // Each producer posts its own numbered events; the consumer must see each producer's in order.
  auto producer = [&queue](Language language) {
    for (int i = 0; i < kPerThread; ++i) {
      queue.push(event::SetLanguage{language});
      queue.push(event::GatewayChecked{true, std::to_string(i)});
    }
  };
  std::thread a(producer, Language::zh_CN);
  std::thread b([&queue] {
    for (int i = 0; i < kPerThread; ++i) queue.push(event::GatewayChecked{false, std::to_string(i)});
  });
  std::vector<Event> seen;
  while (seen.size() < 3 * kPerThread) {
    for (Event& e : queue.drain()) seen.push_back(std::move(e));
    std::this_thread::yield();
  }
  a.join();
  b.join();
  int next_reachable = 0;
  int next_unreachable = 0;
  bool language_before = false;
  for (const Event& e : seen) {
    if (std::holds_alternative<event::SetLanguage>(e)) {
      language_before = true;
    } else {
      const auto& checked = std::get<event::GatewayChecked>(e);
      if (checked.reachable) {
        EXPECT_TRUE(language_before) << "a producer's events were reordered";
        language_before = false;
        EXPECT_EQ(checked.problem_code, std::to_string(next_reachable++));
      } else {
        EXPECT_EQ(checked.problem_code, std::to_string(next_unreachable++));
      }
    }
  }
  EXPECT_EQ(next_reachable, kPerThread);
  EXPECT_EQ(next_unreachable, kPerThread);
  EXPECT_EQ(wakes.load(), 3 * kPerThread);
  EXPECT_TRUE(queue.drain().empty());
}

TEST(EventQueue, WaitPopWaitsForAProducer) {
  EventQueue<Event> queue;
  EXPECT_FALSE(queue.wait_pop(std::chrono::milliseconds{10}));
  std::thread producer([&queue] {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    queue.push(event::Tick{});
  });
  const auto event = queue.wait_pop(std::chrono::seconds{5});
  producer.join();
  ASSERT_TRUE(event);
  EXPECT_TRUE(std::holds_alternative<event::Tick>(*event));
}

}  // namespace
}  // namespace kiosk
