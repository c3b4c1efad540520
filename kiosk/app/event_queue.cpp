#include "kiosk/app/event_queue.hpp"

namespace kiosk::app {

void EventQueue::set_waker(std::function<void()> waker) {
  const std::lock_guard lock(mutex_);
  waker_ = std::move(waker);
}

void EventQueue::push(Event event) {
  std::function<void()> waker;
  {
    const std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    waker = waker_;
  }
  ready_.notify_one();
  if (waker) waker();
}

std::vector<Event> EventQueue::drain() {
  const std::lock_guard lock(mutex_);
  std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

std::optional<Event> EventQueue::wait_pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [this] { return !events_.empty(); })) return std::nullopt;
  Event event = std::move(events_.front());
  events_.pop_front();
  return event;
}

}  // namespace kiosk::app
