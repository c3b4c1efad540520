// The simulated SAM itself, with no I/O and no clock: bytes from the host go in, and what the SAM
// sends back comes out as transmissions, each with the wait before it. A card slot holds the placed
// card (or none); a fault queue damages the next replies the way a bad cable or a moved card does.
// The program (main.cpp) moves the bytes over a pseudo-terminal and keeps the time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "hal/idcard/id_document.hpp"
#include "hal/idcard/sim/card_fixture.hpp"
#include "hal/idcard/sim/request_frame.hpp"

namespace kiosk::hal::idcard::sim {

// 05.01-20101111-0012345678-1234567890
inline constexpr SamId kDefaultSamId{5, 1, 20101111, 12345678, 1234567890};

struct EngineConfig {
  unsigned baud = 115200;
  std::chrono::milliseconds sam_delay{0};  // the SAM's own processing time before each reply
  SamId sam_id = kDefaultSamId;
  std::uint64_t seed = 1;  // for garbage bytes and the bit a bit flip hits: runs repeat exactly
};

enum class FaultKind {
  bitflip,             // one bit of the reply after the length field flipped: the checksum fails
  truncate,            // the first half of the reply, then nothing
  wrong_length,        // a length field that does not match the frame
  silence,             // no reply at all
  garbage,             // random bytes (never 0xAA, so never a preamble) before the reply
  status,              // the given SW3 and no data
  remove_during_read,  // the next read answers 0x41 and the card is gone
};
// Which replies a fault waits for. Only `status` takes another target than `any`;
// remove_during_read always waits for a read.
enum class FaultTarget { any, find, select, read };
// wrong_length: `impossible` claims 0xFFFF bytes (over kMaxLengthField 2314: the host must refuse it
// at once); `plausible` claims one byte less than the truth (one more for a reply with no data, whose
// length cannot go below 4); `alternate` takes impossible, plausible, impossible, ... per reply.
enum class WrongLength { alternate, impossible, plausible };

struct Fault {
  FaultKind kind = FaultKind::silence;
  FaultTarget target = FaultTarget::any;
  std::uint8_t sw3 = 0;  // status
  WrongLength wrong_length = WrongLength::alternate;
  unsigned times = 1;  // how many replies it still applies to
};
// "bitflip", "status 0x41 on read", "wrong-length plausible", ...
std::string fault_name(const Fault& fault);
// fault_name() + " times N"
std::string describe(const Fault& fault);

struct Transmission {
  std::chrono::nanoseconds wait{0};  // after the previous transmission left the line (the first: after
                                     // the request's last byte arrived)
  std::vector<std::uint8_t> bytes;
};

// One request and what the SAM did about it.
struct Exchange {
  std::optional<std::uint16_t> command;  // nullopt for a frame refused before its command was read
  std::size_t request_bytes = 0;
  std::optional<std::uint8_t> sw3;  // the SW3 sent; nullopt when nothing was (silence)
  std::size_t reply_bytes = 0;      // bytes put on the line, garbage included
  std::string fault;                // fault_name() of the fault applied, or empty
  std::vector<Transmission> transmissions;
};

class SimEngine {
 public:
  explicit SimEngine(EngineConfig config = {});

  // Bytes from the host. Returns an exchange per complete request (or refused frame) found.
  std::vector<Exchange> receive(std::span<const std::uint8_t> bytes);
  // The line went quiet in the middle of a frame, or the port was re-created: forget partial input,
  // as the SAM's inter-byte timeout would.
  void line_idle() { decoder_.discard_pending(); }
  [[nodiscard]] bool has_partial_request() const { return decoder_.pending_bytes() > 0; }

  void place(CardFixture card) { card_ = std::move(card); }
  void remove() { card_.reset(); }
  [[nodiscard]] const std::optional<CardFixture>& card() const { return card_; }

  void add_fault(const Fault& fault);
  void clear_faults() { faults_.clear(); }
  [[nodiscard]] const std::deque<Fault>& faults() const { return faults_; }

  [[nodiscard]] const EngineConfig& config() const { return config_; }
  [[nodiscard]] std::size_t requests_answered() const { return requests_; }
  [[nodiscard]] std::size_t skipped_bytes() const { return decoder_.skipped_bytes(); }

 private:
  struct Answer {
    std::uint8_t sw3 = 0;
    std::vector<std::uint8_t> data;
  };
  Answer answer(const SamRequest& request) const;
  Exchange respond(const DecodedRequest& decoded);
  // The oldest queued fault that applies to `command` (nullopt: a refused frame), taken off the queue
  // once used `times` times.
  std::optional<Fault> take_fault(std::optional<std::uint16_t> command);
  std::vector<std::uint8_t> with_wrong_length(std::vector<std::uint8_t> frame, bool impossible) const;

  EngineConfig config_;
  RequestDecoder decoder_;
  std::optional<CardFixture> card_;
  std::deque<Fault> faults_;
  std::mt19937_64 random_;
  std::size_t requests_ = 0;
  bool next_wrong_length_impossible_ = true;
};

}  // namespace kiosk::hal::idcard::sim
