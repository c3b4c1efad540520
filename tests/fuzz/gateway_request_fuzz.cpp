// libFuzzer target: the gateway's handling of outside bytes. The input is split into a target and a
// body and handed to ApiHandler (routing, sign-in and NCIIS-check JSON validation, bearer tokens) on
// both listeners, and to the sign-in and NCIIS-check parsers directly. Must never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sync/gateway/api.hpp"
#include "sync/gateway/nciis.hpp"

namespace {

// The embedded simulator answers NCIIS checks; nothing is written to disk (a Store per input would
// make the fuzzer slow and is covered by the unit tests).
kiosk::gateway::SimulatedNciis& simulator() {
  static const auto instance = kiosk::gateway::SimulatedNciis::embedded_default();
  return **instance;
}

kiosk::gateway::ApiHandler& handler() {
  // One staff member with a cheap hash (1 iteration) so the fuzzer stays fast.
  static kiosk::gateway::ApiHandler instance(
      [](std::string_view staff_id) -> kiosk::Result<std::optional<kiosk::gateway::StaffRecord>> {
        if (staff_id != "W0001") return std::optional<kiosk::gateway::StaffRecord>();
        static const auto hash = kiosk::gateway::hash_password("pw", 1);
        return std::optional<kiosk::gateway::StaffRecord>(
            kiosk::gateway::StaffRecord{"W0001", "Wang", "witness", *hash});
      },
      "fuzz", kiosk::gateway::kDefaultMaxBodyBytes, 1,
      [](const kiosk::gateway::NciisQuery& query, std::string_view, std::string_view) {
        return simulator().check(query);
      });
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)kiosk::gateway::parse_sign_in_request(input);
  (void)kiosk::gateway::bearer_token(input);
  (void)kiosk::gateway::parse_nciis_check_request(input);

  // "METHOD TARGET\nAUTHORIZATION\nBODY": the first lines pick method, target and header.
  const auto first = input.find('\n');
  const auto second = first == std::string_view::npos ? first : input.find('\n', first + 1);
  kiosk::gateway::ApiRequest request;
  const std::string_view request_line = input.substr(0, first);
  const auto space = request_line.find(' ');
  request.method = std::string(request_line.substr(0, space));
  request.target =
      space == std::string_view::npos ? "/v1/console/sign-in" : std::string(request_line.substr(space + 1));
  if (first != std::string_view::npos) {
    request.authorization = std::string(input.substr(first + 1, second - first - 1));
  }
  request.body = second == std::string_view::npos ? std::string(input) : std::string(input.substr(second + 1));
  for (const auto listener : {kiosk::gateway::Listener::console, kiosk::gateway::Listener::device}) {
    request.listener = listener;
    (void)handler().handle(request);
  }
  return 0;
}
