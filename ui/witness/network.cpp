#include "ui/witness/network.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk::witness {

WitnessNetwork::WitnessNetwork(Result<sync::HttpsClient> client, std::chrono::milliseconds poll_interval, Inbox& inbox)
    : client_(std::move(client)),
      poll_interval_(poll_interval),
      inbox_(inbox),
      thread_([this](std::stop_token stop) { run(stop); }) {
  if (!client_) {
    log::error("console_client_unavailable", {{"code", client_.error().code}, {"message", client_.error().message}});
  }
}

WitnessNetwork::~WitnessNetwork() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void WitnessNetwork::submit(Command command) {
  {
    const std::lock_guard lock(mutex_);
    commands_.push_back(std::move(command));
  }
  wake_.notify_one();
}

void WitnessNetwork::execute(const Command& command) {
  if (const auto* sign_in = std::get_if<command::SignIn>(&command)) {
    if (!client_) {
      inbox_.push(event::SignInFailed{client_.error().code});
      return;
    }
    const auto response = client_->post_json("/v1/console/sign-in", sign_in_body(sign_in->staff_id, sign_in->password));
    if (!response) log::warn("console_sign_in_failed", {{"code", response.error().code}});
    inbox_.push(sign_in_result(response));
  } else if (const auto* start = std::get_if<command::StartPolling>(&command)) {
    const std::lock_guard lock(mutex_);
    token_ = start->token;
    next_poll_ = std::chrono::steady_clock::now();
  } else {
    const std::lock_guard lock(mutex_);
    token_.reset();
  }
}

void WitnessNetwork::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const auto deadline = token_ ? next_poll_ : std::chrono::steady_clock::now() + std::chrono::hours{1};
    wake_.wait_until(lock, stop, deadline, [this] { return !commands_.empty(); });
    if (stop.stop_requested()) break;
    if (!commands_.empty()) {
      Command command = std::move(commands_.front());
      commands_.pop_front();
      lock.unlock();
      execute(command);
      lock.lock();
      continue;
    }
    if (token_ && std::chrono::steady_clock::now() >= next_poll_) {
      const std::string token = *token_;
      next_poll_ = std::chrono::steady_clock::now() + poll_interval_;
      lock.unlock();
      if (client_)
        inbox_.push(session_result(client_->get("/v1/console/session", token)));
      else
        inbox_.push(event::SessionCheckFailed{client_.error().code});
      lock.lock();
    }
  }
}

}  // namespace kiosk::witness
