#include "ui/witness/witness_state.hpp"

#include <nlohmann/json.hpp>

#include "kiosk/core/log.hpp"

namespace kiosk::witness {

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::signed_out: return "signed_out";
    case Phase::signing_in: return "signing_in";
    case Phase::connected: return "connected";
    case Phase::reconnecting: return "reconnecting";
  }
  return "signed_out";
}

void WitnessSession::sign_out(std::string notice_key, std::vector<Command>& out) {
  state_.phase = Phase::signed_out;
  state_.staff = {};
  state_.server_time.clear();
  state_.notice_key = std::move(notice_key);
  out.emplace_back(command::StopPolling{});
}

std::vector<Command> WitnessSession::handle(const Event& event) {
  std::vector<Command> out;
  const WitnessState before = state_;
  const bool in_session = state_.phase == Phase::connected || state_.phase == Phase::reconnecting;
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, event::SignInRequested>) {
          if (state_.phase != Phase::signed_out) return;
          if (e.staff_id.empty() || e.password.empty()) {
            state_.notice_key = "witness.signin.missing";
            return;
          }
          state_.phase = Phase::signing_in;
          state_.notice_key.clear();
          state_.problem_code.clear();
          out.emplace_back(command::SignIn{e.staff_id, e.password});
        } else if constexpr (std::is_same_v<E, event::SignInSucceeded>) {
          if (state_.phase != Phase::signing_in) return;  // a late answer after sign-out
          state_.phase = Phase::connected;
          state_.staff = e.staff;
          state_.notice_key.clear();
          log::info("witness_signed_in", {{"staff_id", e.staff.staff_id}, {"role", e.staff.role}});
          out.emplace_back(command::StartPolling{e.token});
        } else if constexpr (std::is_same_v<E, event::SignInRefused>) {
          if (state_.phase != Phase::signing_in) return;
          state_.phase = Phase::signed_out;
          state_.notice_key = "witness.signin.refused";
          state_.problem_code = "SIGN_IN_REFUSED";
        } else if constexpr (std::is_same_v<E, event::SignInFailed>) {
          if (state_.phase != Phase::signing_in) return;
          state_.phase = Phase::signed_out;
          state_.notice_key = "witness.signin.failed";
          state_.problem_code = e.code;
        } else if constexpr (std::is_same_v<E, event::SessionConfirmed>) {
          if (!in_session) return;
          state_.phase = Phase::connected;
          state_.staff = e.staff;
          state_.server_time = e.server_time;
          state_.problem_code.clear();
        } else if constexpr (std::is_same_v<E, event::SessionCheckFailed>) {
          if (!in_session) return;
          state_.phase = Phase::reconnecting;
          state_.problem_code = e.code;
        } else if constexpr (std::is_same_v<E, event::SessionExpired>) {
          if (!in_session) return;
          log::info("witness_session_expired");
          sign_out("witness.signin.expired", out);
        } else if constexpr (std::is_same_v<E, event::SignOutRequested>) {
          if (!in_session) return;
          log::info("witness_signed_out");
          sign_out("witness.state.signed_out", out);
          state_.problem_code.clear();
        }
      },
      event);
  if (before.phase != state_.phase || before.notice_key != state_.notice_key ||
      before.problem_code != state_.problem_code || before.server_time != state_.server_time ||
      before.staff.display_name != state_.staff.display_name || before.staff.role != state_.staff.role ||
      before.staff.staff_id != state_.staff.staff_id) {
    ++state_.revision;
  }
  return out;
}

namespace {

// A string member of a JSON object, or nullopt when absent or of another type.
std::optional<std::string> string_field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<nlohmann::json> json_object(const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

std::optional<StaffInfo> staff_from(const nlohmann::json& object) {
  auto id = string_field(object, "staff_id");
  auto name = string_field(object, "display_name");
  auto role = string_field(object, "role");
  if (!id || !name || !role) return std::nullopt;
  return StaffInfo{std::move(*id), std::move(*name), std::move(*role)};
}

}  // namespace

Event sign_in_result(const Result<sync::HttpResponse>& response) {
  if (!response) return event::SignInFailed{response.error().code};
  if (response->status == 401) return event::SignInRefused{};
  if (response->status != 200) return event::SignInFailed{"GATEWAY_HTTP_" + std::to_string(response->status)};
  const auto object = json_object(response->body);
  if (!object) return event::SignInFailed{"GATEWAY_BAD_RESPONSE"};
  auto token = string_field(*object, "token");
  auto staff = staff_from(*object);
  if (!token || token->empty() || !staff) return event::SignInFailed{"GATEWAY_BAD_RESPONSE"};
  return event::SignInSucceeded{std::move(*token), std::move(*staff)};
}

Event session_result(const Result<sync::HttpResponse>& response) {
  if (!response) return event::SessionCheckFailed{response.error().code};
  if (response->status == 401) return event::SessionExpired{};
  if (response->status != 200) return event::SessionCheckFailed{"GATEWAY_HTTP_" + std::to_string(response->status)};
  const auto object = json_object(response->body);
  if (!object) return event::SessionCheckFailed{"GATEWAY_BAD_RESPONSE"};
  auto staff = staff_from(*object);
  if (!staff) return event::SessionCheckFailed{"GATEWAY_BAD_RESPONSE"};
  return event::SessionConfirmed{std::move(*staff), string_field(*object, "server_time").value_or("")};
}

std::string sign_in_body(std::string_view staff_id, std::string_view password) {
  const nlohmann::json body = {{"staff_id", std::string(staff_id)}, {"password", std::string(password)}};
  // Replace invalid UTF-8 instead of throwing: the gateway then refuses the sign-in normally.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kiosk::witness
