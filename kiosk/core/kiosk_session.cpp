#include "kiosk/core/kiosk_session.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk {

std::optional<Language> language_from_string(std::string_view text) {
  if (text == "zh_CN") return Language::zh_CN;
  if (text == "en") return Language::en;
  return std::nullopt;
}

std::string_view to_string(Screen screen) {
  switch (screen) {
    case Screen::attract: return "attract";
    case Screen::choose_operation: return "choose_operation";
    case Screen::operation_unavailable: return "operation_unavailable";
  }
  return "attract";
}

KioskSession::KioskSession(KioskSettings settings, const Clock& clock)
    : settings_(settings), clock_(clock), last_activity_(clock.now()) {
  state_.language = settings_.default_language;
}

void KioskSession::handle(const Event& event) {
  const KioskState before = state_;
  std::visit([this](const auto& e) { on(e); }, event);
  const bool changed = before.screen != state_.screen || before.language != state_.language ||
                       before.operation != state_.operation || before.idle_warning != state_.idle_warning ||
                       before.idle_seconds_left != state_.idle_seconds_left || before.gateway != state_.gateway ||
                       before.gateway_problem != state_.gateway_problem ||
                       before.exit_requested != state_.exit_requested;
  if (changed) ++state_.revision;
}

void KioskSession::touch() {
  last_activity_ = clock_.now();
  state_.idle_warning = false;
  state_.idle_seconds_left = std::chrono::seconds{0};
}

void KioskSession::clear_session() {
  state_.screen = Screen::attract;
  state_.operation.reset();
  state_.language = settings_.default_language;
  state_.idle_warning = false;
  state_.idle_seconds_left = std::chrono::seconds{0};
  last_activity_ = clock_.now();
}

void KioskSession::on(const event::Start&) {
  touch();
  if (state_.screen == Screen::attract) {
    state_.screen = Screen::choose_operation;
    log::info("session_started");
  }
}

void KioskSession::on(const event::ChooseOperation& e) {
  touch();
  if (state_.screen != Screen::choose_operation) return;
  state_.operation = e.operation;
  // The transaction workflows arrive with the rule pack; until then every operation is refused
  // openly so the investor is sent to the counter instead of being shown a pretend success.
  state_.screen = Screen::operation_unavailable;
  log::info("operation_refused",
            {{"operation", std::string(to_string(e.operation))}, {"code", "OPERATION_NOT_AVAILABLE"}});
}

void KioskSession::on(const event::Back&) {
  touch();
  if (state_.screen == Screen::operation_unavailable) {
    state_.screen = Screen::choose_operation;
    state_.operation.reset();
  } else if (state_.screen == Screen::choose_operation) {
    clear_session();
  }
}

void KioskSession::on(const event::SetLanguage& e) {
  touch();
  state_.language = e.language;
}

void KioskSession::on(const event::StillHere&) { touch(); }

void KioskSession::on(const event::EndSession&) {
  if (state_.screen != Screen::attract) log::info("session_ended", {{"reason", "investor"}});
  clear_session();
}

void KioskSession::on(const event::UserActivity&) { touch(); }

void KioskSession::on(const event::Tick&) {
  if (state_.screen == Screen::attract) return;
  const auto idle = clock_.now() - last_activity_;
  const auto limit = settings_.idle_timeout + settings_.idle_warning;
  if (idle >= limit) {
    log::info("session_ended", {{"reason", "idle_timeout"}});
    clear_session();
  } else if (idle >= settings_.idle_timeout) {
    state_.idle_warning = true;
    // Round up so the countdown shows 20..1, never 0, while the warning is visible.
    const auto left = std::chrono::ceil<std::chrono::seconds>(limit - idle);
    state_.idle_seconds_left = left;
  }
}

void KioskSession::on(const event::GatewayChecked& e) {
  state_.gateway = e.reachable ? GatewayLink::online : GatewayLink::offline;
  state_.gateway_problem = e.reachable ? std::string() : e.problem_code;
}

void KioskSession::on(const event::MaintenanceExit&) {
  if (!settings_.maintenance_exit_allowed) {
    log::warn("maintenance_exit_refused", {{"reason", "not allowed by configuration"}});
    return;
  }
  log::info("maintenance_exit");
  state_.exit_requested = true;
}

void KioskSession::on(const event::Shutdown&) {
  log::info("shutdown_requested");
  state_.exit_requested = true;
}

}  // namespace kiosk
