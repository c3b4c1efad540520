#include "sync/gateway/evidence/receipt_routes.hpp"

#include <nlohmann/json.hpp>

#include "sync/gateway/uploads/upload_store.hpp"

namespace kiosk::gateway::evidence {
namespace {

ApiResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  ApiResponse response;
  response.status = status;
  response.body = error_body(code, message);
  return response;
}

}  // namespace

ReceiptRoutes::ReceiptRoutes(EvidenceIntake& intake) : intake_(intake) {}

std::optional<ApiResponse> ReceiptRoutes::handle(const ApiRequest& request) {
  if (request.listener != Listener::device) return std::nullopt;
  std::string_view path = request.target;
  if (const auto query = path.find('?'); query != std::string_view::npos) path = path.substr(0, query);
  if (!path.starts_with(kReceiptsPath)) return std::nullopt;
  if (request.method != "GET") {
    ApiResponse response = error_response(405, "METHOD_NOT_ALLOWED", "use GET for a receipt");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  if (request.device_id.empty()) {
    return error_response(401, "CLIENT_CERT_REQUIRED", "a device client certificate is required");
  }
  const std::string_view package_id = path.substr(kReceiptsPath.size());
  if (!uploads::is_valid_package_id(package_id)) {
    return error_response(404, "RECEIPT_NOT_FOUND", "no receipt for this package");
  }
  auto answer = intake_.answer_for(request.device_id, package_id);
  if (!answer)
    return error_response(503, "EVIDENCE_STORE_UNAVAILABLE", "the receipt index cannot be read; retry later");
  switch (answer->kind) {
    case ReceiptAnswer::Kind::receipt: {
      ApiResponse response;
      response.body = answer->receipt_wire;
      return response;
    }
    case ReceiptAnswer::Kind::rejected: {
      ApiResponse response;
      response.status = 422;
      response.body = nlohmann::json{{"code", "PACKAGE_REJECTED"},
                                     {"message", "head office refused this package: " + answer->rejection_message},
                                     {"reason", answer->rejection_reason}}
                          .dump();
      return response;
    }
    case ReceiptAnswer::Kind::unknown: break;
  }
  return error_response(404, "RECEIPT_NOT_FOUND", "no receipt for this package yet");
}

}  // namespace kiosk::gateway::evidence
