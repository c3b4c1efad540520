// The witness console's network thread: the one place under ui/ that talks to the network
// (composition root of the console). It carries out Commands from the state machine and posts
// the results as Events; the UI thread never waits on the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "kiosk/core/event_queue.hpp"
#include "sync/client/https_client.hpp"
#include "ui/witness/witness_state.hpp"

namespace kiosk::witness {

// Events from the network thread (and the UI's own intents) for the UI thread, in order.
using Inbox = EventQueue<Event>;

class WitnessNetwork {
 public:
  // `client` may hold an error (bad CA file, bad URL): every request then fails with its code.
  WitnessNetwork(Result<sync::HttpsClient> client, std::chrono::milliseconds poll_interval, Inbox& inbox);
  WitnessNetwork(const WitnessNetwork&) = delete;
  WitnessNetwork& operator=(const WitnessNetwork&) = delete;
  ~WitnessNetwork();  // stops and joins; an in-flight request ends within the client's timeout

  void submit(Command command);

 private:
  void run(std::stop_token stop);
  void execute(const Command& command);

  Result<sync::HttpsClient> client_;
  std::chrono::milliseconds poll_interval_;
  Inbox& inbox_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<Command> commands_;
  std::optional<std::string> token_;  // set while polling
  std::chrono::steady_clock::time_point next_poll_{};
  std::jthread thread_;  // last: starts after every member above exists
};

}  // namespace kiosk::witness
