// HTTP routes of the CA link, independent of sockets (ApiHandler calls them):
//   POST /v1/device/ca/<apply|renew|freeze|unfreeze|reissue|revoke>   (device listener, JSON body)
//   POST /v1/device/ca/lookup                                         (device listener, by subject)
//   GET  /v1/device/ca/status/<serial>                                (device listener)
//   POST /v1/softcert/download        (console listener only: the investor's software, no client cert)
//   GET  /v1/ca/crl                                                   (both listeners)
// Bodies are validated strictly (unknown fields refused); values are never echoed in messages.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sync/gateway/api.hpp"
#include "sync/gateway/ca/ca_adapter.hpp"

namespace kiosk::gateway::ca {

class CaRoutes {
 public:
  using CrlSource = std::function<Result<std::string>()>;  // PEM

  CaRoutes(CaAdapter& adapter, CrlSource crl, std::size_t max_body_bytes = kDefaultMaxBodyBytes);

  // nullopt when the path is not a CA route (the caller answers 404).
  std::optional<ApiResponse> handle(const ApiRequest& request);

  // The HTTP status for a CA error code (404 unknown serial, 409 state conflicts, 400 bad
  // requests, 503 storage or signing failures).
  static unsigned http_status_of(std::string_view code);

 private:
  ApiResponse operation(std::string_view name, const ApiRequest& request);

  CaAdapter& adapter_;
  CrlSource crl_;
  std::size_t max_body_bytes_;
};

}  // namespace kiosk::gateway::ca
