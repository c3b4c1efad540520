// GET /v1/device/receipts/<package_id> (device listener; the device is the client certificate's CN):
//   200 the signed receipt's wire JSON (sync/package/receipt.hpp), the same bytes every time;
//   404 RECEIPT_NOT_FOUND when there is none for this device's package (not stored yet, another
//       device's package, or never uploaded);
//   422 PACKAGE_REJECTED {"code","message","reason":<the verification error code>} when head office
//       refused the package: the kiosk keeps it and alerts, it never deletes it.
#pragma once

#include <optional>
#include <string_view>

#include "sync/gateway/api.hpp"
#include "sync/gateway/evidence/evidence_intake.hpp"

namespace kiosk::gateway::evidence {

inline constexpr std::string_view kReceiptsPath = "/v1/device/receipts/";

class ReceiptRoutes {
 public:
  explicit ReceiptRoutes(EvidenceIntake& intake);

  // nullopt when the path is not a receipt route or the listener is not the device listener.
  std::optional<ApiResponse> handle(const ApiRequest& request);

 private:
  EvidenceIntake& intake_;
};

}  // namespace kiosk::gateway::evidence
