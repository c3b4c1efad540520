// The kiosk's one event queue. Timer, network and signal paths push events from their threads;
// the UI thread drains them into KioskSession::handle() in arrival order, and posts the UI's own
// intents into the same queue. Nothing but this queue is shared between threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "kiosk/core/kiosk_session.hpp"

namespace kiosk::app {

class EventQueue {
 public:
  // Called after every push, outside the lock; the UI uses it to wake its event wait.
  void set_waker(std::function<void()> waker);
  void push(Event event);
  // Everything queued so far, oldest first; never blocks.
  std::vector<Event> drain();
  // The oldest event, waiting up to `timeout` for one.
  std::optional<Event> wait_pop(std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> events_;
  std::function<void()> waker_;
};

}  // namespace kiosk::app
