// The one queue between threads: device, network, timer and signal paths push events from their
// threads; the UI thread drains them into the core in arrival order and posts the UI's own intents
// into the same queue. Nothing else is shared between threads (ARCHITECTURE.md, one-way data flow).
// Used by the kiosk (kiosk::Event) and the witness console (witness::Event).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace kiosk {

template <class Event>
class EventQueue {
 public:
  // Called after every push, outside the lock; a UI uses it to wake its event wait.
  void set_waker(std::function<void()> waker) {
    const std::lock_guard lock(mutex_);
    waker_ = std::move(waker);
  }

  void push(Event event) {
    std::function<void()> waker;
    {
      const std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
      waker = waker_;
    }
    ready_.notify_one();
    if (waker) waker();
  }

  // Everything queued so far, oldest first; never blocks.
  std::vector<Event> drain() {
    const std::lock_guard lock(mutex_);
    std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
  }

  // The oldest event, waiting up to `timeout` for one.
  std::optional<Event> wait_pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [this] { return !events_.empty(); })) return std::nullopt;
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> events_;
  std::function<void()> waker_;
};

}  // namespace kiosk
