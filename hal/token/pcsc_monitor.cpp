#include "hal/token/pcsc_monitor.hpp"

#include <winscard.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "kiosk/core/log.hpp"

namespace kiosk::hal::token {

namespace {

// pcsc-lite's pseudo-reader whose state changes when a reader is plugged in or out.
constexpr const char* kPnpNotification = "\\\\?PnP?\\Notification";

struct ResultName {
  LONG value;
  const char* name;
};

#define KIOSK_PCSC_NAME(x) \
  ResultName { x, #x }
constexpr ResultName kResultNames[] = {
    KIOSK_PCSC_NAME(SCARD_F_INTERNAL_ERROR),
    KIOSK_PCSC_NAME(SCARD_E_CANCELLED),
    KIOSK_PCSC_NAME(SCARD_E_INVALID_HANDLE),
    KIOSK_PCSC_NAME(SCARD_E_INVALID_PARAMETER),
    KIOSK_PCSC_NAME(SCARD_E_INVALID_TARGET),
    KIOSK_PCSC_NAME(SCARD_E_NO_MEMORY),
    KIOSK_PCSC_NAME(SCARD_F_WAITED_TOO_LONG),
    KIOSK_PCSC_NAME(SCARD_E_INSUFFICIENT_BUFFER),
    KIOSK_PCSC_NAME(SCARD_E_UNKNOWN_READER),
    KIOSK_PCSC_NAME(SCARD_E_TIMEOUT),
    KIOSK_PCSC_NAME(SCARD_E_SHARING_VIOLATION),
    KIOSK_PCSC_NAME(SCARD_E_NO_SMARTCARD),
    KIOSK_PCSC_NAME(SCARD_E_UNKNOWN_CARD),
    KIOSK_PCSC_NAME(SCARD_E_PROTO_MISMATCH),
    KIOSK_PCSC_NAME(SCARD_E_NOT_READY),
    KIOSK_PCSC_NAME(SCARD_E_INVALID_VALUE),
    KIOSK_PCSC_NAME(SCARD_E_SYSTEM_CANCELLED),
    KIOSK_PCSC_NAME(SCARD_F_COMM_ERROR),
    KIOSK_PCSC_NAME(SCARD_F_UNKNOWN_ERROR),
    KIOSK_PCSC_NAME(SCARD_E_INVALID_ATR),
    KIOSK_PCSC_NAME(SCARD_E_READER_UNAVAILABLE),
    KIOSK_PCSC_NAME(SCARD_E_READER_UNSUPPORTED),
    KIOSK_PCSC_NAME(SCARD_E_DUPLICATE_READER),
    KIOSK_PCSC_NAME(SCARD_E_CARD_UNSUPPORTED),
    KIOSK_PCSC_NAME(SCARD_E_NO_SERVICE),
    KIOSK_PCSC_NAME(SCARD_E_SERVICE_STOPPED),
    KIOSK_PCSC_NAME(SCARD_E_NO_READERS_AVAILABLE),
    KIOSK_PCSC_NAME(SCARD_E_COMM_DATA_LOST),
    KIOSK_PCSC_NAME(SCARD_E_SERVER_TOO_BUSY),
    KIOSK_PCSC_NAME(SCARD_W_REMOVED_CARD),
    KIOSK_PCSC_NAME(SCARD_W_UNRESPONSIVE_CARD),
    KIOSK_PCSC_NAME(SCARD_W_UNPOWERED_CARD),
};
#undef KIOSK_PCSC_NAME

const char* result_name(LONG result) {
  for (const auto& entry : kResultNames) {
    if (entry.value == result) return entry.name;
  }
  return "SCARD_UNKNOWN_RESULT";
}

bool is_service_gone(LONG result) {
  // F_COMM_ERROR is what the client library reports when the daemon's socket breaks mid-call.
  return result == SCARD_E_NO_SERVICE || result == SCARD_E_SERVICE_STOPPED || result == SCARD_F_COMM_ERROR;
}

std::string atr_to_hex(const unsigned char* atr, DWORD length) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string hex;
  // Never trust the length field beyond the buffer it describes.
  const std::size_t bounded = std::min<std::size_t>(length, MAX_ATR_SIZE);
  hex.reserve(bounded * 2);
  for (std::size_t i = 0; i < bounded; ++i) {
    hex.push_back(kDigits[atr[i] >> 4]);
    hex.push_back(kDigits[atr[i] & 0x0F]);
  }
  return hex;
}

Result<std::vector<std::string>> list_readers(SCARDCONTEXT context) {
  // A reader may appear between the size query and the read: retry a few times on a short buffer.
  for (int attempt = 0; attempt < 3; ++attempt) {
    DWORD length = 0;
    LONG result = SCardListReaders(context, nullptr, nullptr, &length);
    if (result == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
    if (result != SCARD_S_SUCCESS) return std::unexpected(pcsc_error("SCardListReaders", result));
    std::string buffer(length, '\0');
    result = SCardListReaders(context, nullptr, buffer.data(), &length);
    if (result == SCARD_E_INSUFFICIENT_BUFFER) continue;
    if (result == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
    if (result != SCARD_S_SUCCESS) return std::unexpected(pcsc_error("SCardListReaders", result));
    buffer.resize(std::min<std::size_t>(length, buffer.size()));
    // A multi-string: names separated by NUL, ended by an empty name.
    std::vector<std::string> names;
    std::size_t start = 0;
    while (start < buffer.size()) {
      std::size_t end = buffer.find('\0', start);
      if (end == std::string::npos) end = buffer.size();
      if (end > start) names.emplace_back(buffer.substr(start, end - start));
      start = end + 1;
    }
    return names;
  }
  return fail("PCSC_CALL_FAILED", "SCardListReaders: the reader list kept changing while it was read");
}

struct KnownReader {
  std::string name;
  DWORD current_state = SCARD_STATE_UNAWARE;
  bool card_present = false;
  std::string atr_hex;
  DWORD event_counter = 0;  // pcsc-lite counts insertions and removals in the high 16 bits
};

}  // namespace

std::string_view to_string(PcscEventKind kind) {
  switch (kind) {
    case PcscEventKind::reader_added: return "reader_added";
    case PcscEventKind::reader_removed: return "reader_removed";
    case PcscEventKind::card_inserted: return "card_inserted";
    case PcscEventKind::card_removed: return "card_removed";
  }
  return "unknown";
}

Error pcsc_error(std::string_view function, long result) {
  char value[16];
  std::snprintf(value, sizeof value, "0x%08x", static_cast<unsigned>(static_cast<std::uint32_t>(result)));
  std::string message = std::string(function) + ": " + result_name(result) + " (" + value + ")";
  if (is_service_gone(result)) {
    return Error{"PCSC_NO_SERVICE", message + "; pcscd is not running or not reachable, start the pcscd service"};
  }
  if (result == SCARD_E_NO_MEMORY) return Error{"PCSC_NO_MEMORY", message};
  return Error{"PCSC_CALL_FAILED", message};
}

Result<std::vector<std::string>> list_pcsc_readers() {
  SCARDCONTEXT context = 0;
  const LONG result = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &context);
  if (result != SCARD_S_SUCCESS) return std::unexpected(pcsc_error("SCardEstablishContext", result));
  auto names = list_readers(context);
  SCardReleaseContext(context);
  return names;
}

struct PcscMonitor::State {
  EventHandler on_event;
  ErrorHandler on_error;
  PcscMonitorOptions options;

  std::atomic<bool> stop_requested{false};
  std::mutex mutex;  // guards has_context/context against stop()'s SCardCancel, and the wake-up wait
  std::condition_variable wake;
  bool has_context = false;
  SCARDCONTEXT context = 0;
  std::thread thread;

  // Only touched by the monitor thread.
  std::vector<KnownReader> readers;
  std::string last_reported_code;

  void emit(const std::string& reader, PcscEventKind kind, const std::string& atr_hex = {}) {
    log::info("pcsc_event", {{"kind", std::string(to_string(kind))}, {"reader", reader}, {"atr", atr_hex}});
    try {
      on_event(PcscEvent{reader, kind, atr_hex});
    } catch (const std::exception& e) {
      log::error("pcsc_event_handler_threw", {{"what", e.what()}});
    }
  }

  // One report per outage: a daemon that stays down is not a new error every second.
  void report(const Error& error) {
    if (error.code == last_reported_code) return;
    last_reported_code = error.code;
    log::warn("pcsc_error", {{"code", error.code}, {"message", error.message}});
    try {
      on_error(error);
    } catch (const std::exception& e) {
      log::error("pcsc_error_handler_threw", {{"what", e.what()}});
    }
  }

  void forget_reader(const KnownReader& reader) {
    if (reader.card_present) emit(reader.name, PcscEventKind::card_removed);
    emit(reader.name, PcscEventKind::reader_removed);
  }

  void forget_all_readers() {
    for (const auto& reader : readers) forget_reader(reader);
    readers.clear();
  }

  void reconcile(const std::vector<std::string>& names) {
    std::erase_if(readers, [&](const KnownReader& reader) {
      if (std::find(names.begin(), names.end(), reader.name) != names.end()) return false;
      forget_reader(reader);
      return true;
    });
    for (const auto& name : names) {
      const bool known =
          std::any_of(readers.begin(), readers.end(), [&](const KnownReader& reader) { return reader.name == name; });
      if (known) continue;
      KnownReader added;
      added.name = name;
      readers.push_back(std::move(added));
      emit(name, PcscEventKind::reader_added);
    }
  }

  void apply(KnownReader& reader, const SCARD_READERSTATE& state) {
    const DWORD event_state = state.dwEventState;
    const bool first_look = reader.current_state == SCARD_STATE_UNAWARE;
    if (!first_look && (event_state & SCARD_STATE_CHANGED) == 0) return;
    reader.current_state = event_state & ~static_cast<DWORD>(SCARD_STATE_CHANGED);
    // A reader that went away is reported by the next reconcile(), card first.
    if ((event_state & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) != 0) return;

    const bool present = (event_state & SCARD_STATE_PRESENT) != 0;
    const std::string atr_hex = present ? atr_to_hex(state.rgbAtr, state.cbAtr) : std::string{};
    const DWORD counter = event_state >> 16;
    if (reader.card_present && present && (counter != reader.event_counter || atr_hex != reader.atr_hex)) {
      // The card was swapped between two waits: report both halves.
      emit(reader.name, PcscEventKind::card_removed);
      emit(reader.name, PcscEventKind::card_inserted, atr_hex);
    } else if (!reader.card_present && present) {
      emit(reader.name, PcscEventKind::card_inserted, atr_hex);
    } else if (reader.card_present && !present) {
      emit(reader.name, PcscEventKind::card_removed);
    }
    reader.card_present = present;
    reader.atr_hex = atr_hex;
    reader.event_counter = counter;
  }

  // Waits on every reader and the PnP pseudo-reader until stopped, or until a call fails (returned).
  std::optional<Error> watch(SCARDCONTEXT watched) {
    DWORD pnp_state = SCARD_STATE_UNAWARE;
    bool connected_logged = false;
    while (!stop_requested) {
      auto names = list_readers(watched);
      if (!names) return names.error();
      if (!connected_logged) {
        connected_logged = true;
        last_reported_code.clear();
        log::info("pcsc_connected", {{"readers", std::to_string(names->size())}});
      }
      reconcile(*names);

      std::vector<SCARD_READERSTATE> states(readers.size() + 1);
      for (std::size_t i = 0; i < readers.size(); ++i) {
        states[i].szReader = readers[i].name.c_str();
        states[i].dwCurrentState = readers[i].current_state;
      }
      states.back().szReader = kPnpNotification;
      states.back().dwCurrentState = pnp_state;

      const auto timeout = static_cast<DWORD>(options.wait_timeout.count());
      const LONG result = SCardGetStatusChange(watched, timeout, states.data(), static_cast<DWORD>(states.size()));
      if (result == SCARD_E_TIMEOUT || result == SCARD_E_CANCELLED || result == SCARD_E_UNKNOWN_READER) {
        continue;  // nothing new, stop() asked, or a reader vanished before the wait: list again
      }
      if (result != SCARD_S_SUCCESS) return pcsc_error("SCardGetStatusChange", result);
      for (std::size_t i = 0; i < readers.size(); ++i) apply(readers[i], states[i]);
      pnp_state = states.back().dwEventState & ~static_cast<DWORD>(SCARD_STATE_CHANGED);
    }
    return std::nullopt;
  }

  void wait_before_retry() {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, options.reconnect_interval, [&] { return stop_requested.load(); });
  }

  void run() {
    while (!stop_requested) {
      SCARDCONTEXT new_context = 0;
      const LONG result = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &new_context);
      if (result != SCARD_S_SUCCESS) {
        report(pcsc_error("SCardEstablishContext", result));
        wait_before_retry();
        continue;
      }
      {
        std::lock_guard lock(mutex);
        context = new_context;
        has_context = true;
      }
      const std::optional<Error> failure = watch(new_context);
      {
        std::lock_guard lock(mutex);
        has_context = false;
      }
      SCardReleaseContext(new_context);
      // Without a connection nothing is known any more: the consumer must not keep a stale card.
      forget_all_readers();
      if (failure) {
        report(*failure);
        wait_before_retry();
      }
    }
  }
};

PcscMonitor::PcscMonitor(EventHandler on_event, ErrorHandler on_error, PcscMonitorOptions options)
    : state_(std::make_shared<State>()) {
  state_->on_event = std::move(on_event);
  state_->on_error = std::move(on_error);
  state_->options = options;
}

PcscMonitor::~PcscMonitor() { stop(); }

Result<void> PcscMonitor::start() {
  if (state_->thread.joinable()) {
    if (!state_->stop_requested) return fail("PCSC_ALREADY_STARTED", "the PC/SC monitor is already running");
    state_->thread.join();
  }
  state_->stop_requested = false;
  try {
    state_->thread = std::thread([state = state_] { state->run(); });
  } catch (const std::system_error& e) {
    return fail("PCSC_THREAD_START", std::string("could not start the PC/SC monitor thread: ") + e.what());
  }
  return {};
}

void PcscMonitor::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop_requested = true;
    // Wakes a pending SCardGetStatusChange at once; the wait timeout is only the fallback.
    if (state_->has_context) SCardCancel(state_->context);
  }
  state_->wake.notify_all();
  if (state_->thread.joinable() && state_->thread.get_id() != std::this_thread::get_id()) state_->thread.join();
}

bool PcscMonitor::running() const { return state_->thread.joinable() && !state_->stop_requested; }

}  // namespace kiosk::hal::token
