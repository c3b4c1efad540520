// Token insertion and removal events from PC/SC-lite (pcscd): a thread that waits on
// SCardGetStatusChange and reports readers and cards coming and going through a callback.
// The PC/SC headers stay in the .cpp, so users of this header do not need them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::hal::token {

enum class PcscEventKind { reader_added, reader_removed, card_inserted, card_removed };
std::string_view to_string(PcscEventKind kind);

struct PcscEvent {
  std::string reader;  // the PC/SC reader name, e.g. "Virtual PCD 00 00"
  PcscEventKind kind;
  std::string atr_hex;  // upper-case hex without separators for card_inserted; empty otherwise
};

struct PcscMonitorOptions {
  // Upper bound of one SCardGetStatusChange wait; stop() also cancels the wait, so this only bounds
  // how long a stop can take if the cancel races the start of a wait.
  std::chrono::milliseconds wait_timeout{500};
  // Pause between attempts to reach pcscd while it is not running.
  std::chrono::milliseconds reconnect_interval{1000};
};

// The error for a failed PC/SC call: PCSC_NO_SERVICE (pcscd not running or gone), PCSC_NO_MEMORY,
// PCSC_CALL_FAILED (anything else). The message names the function and the SCARD_* name and value.
Error pcsc_error(std::string_view function, long result);

// The reader names pcscd knows now (empty when there are none). One-shot, for diagnostics and tests.
Result<std::vector<std::string>> list_pcsc_readers();

// Watches every reader. On start, and again whenever the connection to pcscd is (re)established, it
// reports reader_added for each reader and card_inserted for each card already present, so a consumer
// starting from nothing always holds the full picture. When pcscd goes away it reports card_removed and
// reader_removed for everything it had reported, calls on_error once with PCSC_NO_SERVICE, and keeps
// trying to reconnect every reconnect_interval until stopped.
//
// Both callbacks run on the monitor thread: post to a queue and return; never block, and never
// destroy the monitor from inside a callback.
class PcscMonitor {
 public:
  using EventHandler = std::function<void(const PcscEvent&)>;
  using ErrorHandler = std::function<void(const Error&)>;

  PcscMonitor(EventHandler on_event, ErrorHandler on_error, PcscMonitorOptions options = {});
  ~PcscMonitor();  // stop(): waits at most about one wait_timeout
  PcscMonitor(const PcscMonitor&) = delete;
  PcscMonitor& operator=(const PcscMonitor&) = delete;

  // Starts the thread. PCSC_ALREADY_STARTED if it runs; PCSC_THREAD_START if no thread could be made.
  // pcscd not running is not an error here: it is reported through on_error and retried.
  Result<void> start();
  // Cancels the pending wait and joins the thread. Safe to call twice; from a callback it only asks.
  void stop();
  [[nodiscard]] bool running() const;

  struct State;  // shared with the thread; defined in the .cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace kiosk::hal::token
