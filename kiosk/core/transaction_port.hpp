// How the kiosk session reaches the durable transaction (workflow + journal) without knowing where
// it lives: the app implements this over RecordedTransaction and the journal; the session's tests
// use a small recording double. Calls are synchronous and short (one SQLite commit each).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/core/workflow/transaction.hpp"

namespace kiosk {

// What the kiosk brings to a step. Evidence the app itself holds (the chip read for `idv`) is
// added by the port; evidence that arrives with an event (the certificate from the token) comes here.
struct StepInput {
  workflow::Actor actor;
  std::map<std::string, std::string> details;
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> evidence;  // kind, bytes
};

struct OpenedTransaction {
  std::string id;
  // The name head office knows the transaction by ("tx-00000042": the evidence package, the NCIIS
  // checks); empty when the port keeps no journal.
  std::string evidence_id;
  std::vector<StepId> steps;              // mandatory, in order
  std::vector<std::string> reason_codes;  // the operation's reason codes (freeze, reissue, revoke)
};

class TransactionPort {
 public:
  virtual ~TransactionPort() = default;
  // The media the rule pack allows for this operation in this kiosk's channel (natural persons).
  [[nodiscard]] virtual std::vector<Medium> media_allowed(Operation operation) const = 0;
  // Opens a transaction. Errors carry the policy's refusal code (OPERATION_NOT_ALLOWED, ...) or
  // STEP_NOT_AVAILABLE_AT_KIOSK naming a mandatory step this kiosk cannot perform yet.
  virtual Result<OpenedTransaction> open(Operation operation, Medium medium) = 0;
  // Commits a step (durable before it returns). Refusals (consent declined, review rejected) are a
  // completion with outcome `refused`, not an error.
  virtual Result<workflow::Transaction::Completion> complete(StepId step, StepInput input) = 0;
  // Ends the open transaction early with a stable code; harmless when none is open.
  virtual void abort(std::string_view reason_code) = 0;
};

// The steps this kiosk has a screen or a device for. Others (witness call, document camera) come
// with later work; a pack that makes one mandatory is refused at open, never skipped.
bool kiosk_can_perform(StepId step);

}  // namespace kiosk
