// The engineer's screens. Reached from the attract screen by holding its hidden top-left corner;
// only an operator vouched for by head office gets past the sign-in. The status screen shows what
// the evidence upload worker last reported: package ids and counts, nothing personal.
#include "ui/kiosk/engineer_screens.hpp"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ui/kiosk/transaction_screens.hpp"

namespace kiosk::ui {
namespace {

Event intent_for(std::string_view) { return event::Back{}; }  // the only button: exit

std::string one_decimal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

void draw_unavailable(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                      const IntentSink& post) {
  const float y =
      draw_message(l, f, c.text("engineer.unavailable.title"), c.text("engineer.unavailable.body"), "", l.px(260));
  draw_buttons(l, f, targets, std::min(y + l.px(80), l.status_top - l.px(180)), {{"back", c.text("engineer.exit")}},
               post, intent_for);
}

void draw_sign_in(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                  const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  if (view.input == nullptr) return;
  KioskInput& input = *view.input;
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  const float text_width = l.width - l.px(240);
  float y = draw_centred(draw, f.title, c.text("engineer.sign_in.title"), cx, l.px(40), text_width, kText);
  y = draw_centred(draw, f.base, c.text("engineer.sign_in.hint"), cx, y + l.px(8), text_width, kTextSecondary);
  if (!state.staff_problem_code.empty()) {
    // A wrong role gets its own sentence; head office's refusals show their code.
    const std::string problem = state.staff_problem_code == "ENGINEER_ROLE_NOT_ALLOWED"
                                    ? c.text("engineer.sign_in.role_refused")
                                    : c.text("engineer.sign_in.refused", {{"code", state.staff_problem_code}});
    y = draw_centred(draw, f.base, problem, cx, y + l.px(8), text_width, kAccent);
  }
  draw_staff_credentials(l, c, f, targets, y, input);
  const float row = l.status_top - l.px(150);
  const ImVec2 size(l.px(420), l.px(120));
  if (touch_button(targets, "back", c.text("engineer.exit"), ImVec2(cx - size.x - l.px(24), row), size,
                   secondary(f.large))) {
    post(event::Back{});
  }
  if (touch_button(targets, "staff.submit", c.text("engineer.sign_in.submit"), ImVec2(cx + l.px(24), row), size,
                   primary(f.large)) &&
      !input.staff_id.empty() && !input.staff_password.empty() && view.submit_staff) {
    view.submit_staff(input.staff_id, input.staff_password);
    input.focus = 0;
    post(event::StaffSignInSubmitted{});
  }
}

// One "label ....... value" line of the counts; returns the y below it.
float draw_count(const Layout& l, const KioskFonts& f, const std::string& label, std::uint64_t count, float x, float y,
                 float width, ImU32 colour) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  draw.AddText(f.base, f.base->FontSize, ImVec2(x, y), colour, label.c_str());
  const std::string value = std::to_string(count);
  const float value_x = x + width - text_size(f.large, value).x;
  draw.AddText(f.large, f.large->FontSize, ImVec2(value_x, y - (f.large->FontSize - f.base->FontSize) / 2), colour,
               value.c_str());
  return y + f.base->FontSize + l.px(22);
}

void draw_upload(const Layout& l, const EvidenceUploadStatus& up, const Catalog& c, const KioskFonts& f, ImVec2 a,
                 ImVec2 b) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  // Left: the packages per state. Right: the package being sent and the last error.
  const float left = a.x + l.px(48);
  const float column = (b.x - a.x) / 2 - l.px(96);
  float y = a.y + l.px(120);
  y = draw_count(l, f, c.text("engineer.upload.waiting"), up.sealed + up.uploading, left, y, column, kText);
  y = draw_count(l, f, c.text("engineer.upload.uploaded"), up.uploaded, left, y, column, kText);
  y = draw_count(l, f, c.text("engineer.upload.receipted"), up.receipted, left, y, column, kText);
  y = draw_count(l, f, c.text("engineer.upload.purgeable"), up.purgeable, left, y, column, kText);
  y = draw_count(l, f, c.text("engineer.upload.purged"), up.purged, left, y, column, kText);
  if (up.rejected > 0) {
    // Rejected packages stay on the kiosk until head office says what to do with them.
    const float h = 2 * f.base->FontSize + l.px(36);
    draw.AddRectFilled(ImVec2(left - l.px(16), y - l.px(12)), ImVec2(left + column + l.px(16), y + h), kAccentTint, 8);
    y = draw_count(l, f, c.text("engineer.upload.rejected"), up.rejected, left, y, column, kAccent);
    draw_left(draw, f.base, c.text("engineer.upload.rejected_call"), left, y - l.px(8), column, kAccent);
  } else {
    draw_count(l, f, c.text("engineer.upload.rejected"), up.rejected, left, y, column, kText);
  }

  const float right = a.x + (b.x - a.x) / 2 + l.px(48);
  float ry = a.y + l.px(112);  // level with the first count
  if (up.current_package.empty()) {
    ry = draw_left(draw, f.large, c.text("engineer.upload.idle"), right, ry, column, kTextSecondary);
  } else {
    ry = draw_left(draw, f.large, c.text("engineer.upload.current", {{"package", up.current_package}}), right, ry,
                   column, kText);
    const int percent = upload_percent(up.current_offset, up.current_length);
    const ImVec2 bar(right, ry + l.px(20));
    const float bar_h = l.px(36);
    draw.AddRectFilled(bar, ImVec2(bar.x + column, bar.y + bar_h), kCard, bar_h / 2);
    draw.AddRect(bar, ImVec2(bar.x + column, bar.y + bar_h), kLine, bar_h / 2, 0, 2);
    if (percent > 0) {
      const float filled = std::max(bar_h, column * static_cast<float>(percent) / 100.0f);
      draw.AddRectFilled(bar, ImVec2(bar.x + filled, bar.y + bar_h), kOnline, bar_h / 2);
    }
    ry = bar.y + bar_h + l.px(16);
    ry = draw_left(draw, f.base,
                   c.text("engineer.upload.progress", {{"sent", size_text(c, up.current_offset)},
                                                       {"total", size_text(c, up.current_length)},
                                                       {"percent", std::to_string(percent)}}),
                   right, ry, column, kText);
    ry = draw_left(draw, f.base,
                   c.text("engineer.upload.throughput", {{"rate", throughput_text(c, up.bytes_per_second)}}), right,
                   ry + l.px(8), column, kText);
  }
  const std::string error = up.last_error_code.empty()
                                ? c.text("engineer.upload.no_error")
                                : c.text("engineer.upload.last_error", {{"code", up.last_error_code}});
  draw_left(draw, f.base, error, right, ry + l.px(32), column, up.last_error_code.empty() ? kTextSecondary : kAccent);
}

void draw_status(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                 const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  const float text_width = l.width - l.px(240);
  float y = draw_centred(draw, f.title, c.text("engineer.status.title"), cx, l.px(40), text_width, kText);
  y = draw_centred(
      draw, f.base,
      c.text("engineer.status.signed_in", {{"name", state.staff_display_name}, {"staff_id", state.staff_id}}), cx,
      y + l.px(8), text_width, kTextSecondary);
  const ImVec2 a(l.px(160), y + l.px(28));
  const ImVec2 b(l.width - l.px(160), l.status_top - l.px(172));
  draw.AddRectFilled(a, b, kWhite, 16);
  draw.AddRect(a, b, kLine, 16, 0, 2);
  draw_left(draw, f.large, c.text("engineer.upload.title"), a.x + l.px(48), a.y + l.px(32), b.x - a.x - l.px(96),
            kText);
  if (state.evidence_upload) {
    draw_upload(l, *state.evidence_upload, c, f, a, b);
  } else {
    draw_centred(draw, f.large, c.text("engineer.upload.no_report"), cx, (a.y + b.y) / 2 - f.large->FontSize / 2,
                 b.x - a.x - l.px(96), kTextSecondary);
  }
  draw_buttons(l, f, targets, l.status_top - l.px(152), {{"back", c.text("engineer.exit")}}, post, intent_for);
}

}  // namespace

int upload_percent(std::uint64_t offset, std::uint64_t length) {
  if (length == 0) return 0;
  const std::uint64_t sent = std::min(offset, length);
  // Whole percent, rounded down: 100 only when every byte is sent.
  return static_cast<int>(static_cast<double>(sent) * 100.0 / static_cast<double>(length));
}

std::string size_text(const Catalog& c, std::uint64_t bytes) {
  constexpr double kib = 1024.0;
  const auto value = static_cast<double>(bytes);
  if (bytes < 1024) return c.text("engineer.unit.bytes", {{"value", std::to_string(bytes)}});
  if (value < kib * kib) return c.text("engineer.unit.kib", {{"value", one_decimal(value / kib)}});
  if (value < kib * kib * kib) return c.text("engineer.unit.mib", {{"value", one_decimal(value / (kib * kib))}});
  return c.text("engineer.unit.gib", {{"value", one_decimal(value / (kib * kib * kib))}});
}

std::string throughput_text(const Catalog& c, double bytes_per_second) {
  constexpr double kib = 1024.0;
  const double rate = std::max(0.0, bytes_per_second);
  if (rate < kib * kib) return c.text("engineer.unit.kib_per_s", {{"value", one_decimal(rate / kib)}});
  return c.text("engineer.unit.mib_per_s", {{"value", one_decimal(rate / (kib * kib))}});
}

bool draw_engineer_screen(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                          const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  switch (state.screen) {
    case Screen::engineer_unavailable: draw_unavailable(l, c, f, targets, post); return true;
    case Screen::engineer_sign_in: draw_sign_in(l, state, c, f, view, targets, post); return true;
    case Screen::engineer_verifying: draw_message(l, f, c.text("engineer.verifying"), "", "", l.px(380)); return true;
    case Screen::engineer_status: draw_status(l, state, c, f, targets, post); return true;
    default: return false;
  }
}

}  // namespace kiosk::ui
