// The witness console's state machine, in plain C++ (no SDL, no network):
//   signed_out -> signing_in -> connected <-> reconnecting, and back to signed_out on sign-out,
//   refusal or an expired token. Events come from the UI (intents) and from the network thread
//   (results); handle() returns the commands the network thread must carry out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sync/client/https_client.hpp"

namespace kiosk::witness {

enum class Phase { signed_out, signing_in, connected, reconnecting };
std::string_view to_string(Phase phase);

struct StaffInfo {
  std::string staff_id;
  std::string display_name;
  std::string role;
};

struct WitnessState {
  Phase phase = Phase::signed_out;
  StaffInfo staff;
  std::string server_time;
  std::string notice_key;    // catalog key of the message shown on the sign-in screen, or empty
  std::string problem_code;  // stable code of the last failure (sign-in or poll)
  std::uint64_t revision = 0;
};

namespace event {
struct SignInRequested {  // the UI's intent; the password is passed on, never stored here
  std::string staff_id;
  std::string password;
};
struct SignOutRequested {};
struct SignInSucceeded {
  std::string token;
  StaffInfo staff;
};
struct SignInRefused {};  // 401 SIGN_IN_REFUSED
struct SignInFailed {
  std::string code;
};
struct SessionConfirmed {
  StaffInfo staff;
  std::string server_time;
};
struct SessionExpired {};  // 401 on the session poll
struct SessionCheckFailed {
  std::string code;
};
}  // namespace event

using Event =
    std::variant<event::SignInRequested, event::SignOutRequested, event::SignInSucceeded, event::SignInRefused,
                 event::SignInFailed, event::SessionConfirmed, event::SessionExpired, event::SessionCheckFailed>;

namespace command {
struct SignIn {
  std::string staff_id;
  std::string password;
};
struct StartPolling {
  std::string token;
};
struct StopPolling {};
}  // namespace command

using Command = std::variant<command::SignIn, command::StartPolling, command::StopPolling>;

class WitnessSession {
 public:
  std::vector<Command> handle(const Event& event);
  [[nodiscard]] const WitnessState& state() const { return state_; }

 private:
  void sign_out(std::string notice_key, std::vector<Command>& out);
  WitnessState state_;
};

// Turn the gateway's HTTP answers into events (the console API contract in ui/witness/README.md).
Event sign_in_result(const Result<sync::HttpResponse>& response);
Event session_result(const Result<sync::HttpResponse>& response);
std::string sign_in_body(std::string_view staff_id, std::string_view password);

}  // namespace kiosk::witness
