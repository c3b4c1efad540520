#include "ui/witness/witness_screens.hpp"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>

#include "ui/common/widgets.hpp"

namespace kiosk::witness {
namespace {

constexpr ImU32 kAccent = IM_COL32(0, 61, 122, 255);  // head office: deep blue
constexpr ImU32 kAccentPressed = IM_COL32(0, 40, 84, 255);
constexpr ImU32 kText = IM_COL32(26, 26, 26, 255);
constexpr ImU32 kTextSecondary = IM_COL32(72, 80, 94, 255);
constexpr ImU32 kWhite = IM_COL32(255, 255, 255, 255);
constexpr ImU32 kLine = IM_COL32(208, 213, 221, 255);
constexpr ImU32 kOk = IM_COL32(30, 142, 62, 255);
constexpr ImU32 kWarn = IM_COL32(178, 106, 0, 255);
constexpr ImU32 kError = IM_COL32(200, 16, 46, 255);

// Roles arrive from head office as stable identifiers; an unknown one is shown as it came.
std::string role_name(const ui::Catalog& c, const std::string& role) {
  if (role == "witness" || role == "operator" || role == "reviewer") return c.text("staff.role." + role);
  return role;
}

void text_field(const char* id, std::string* value, float width, ImGuiInputTextFlags flags) {
  ImGui::SetNextItemWidth(width);
  ImGui::InputText(id, value, flags);
}

void draw_sign_in(const WitnessState& state, const ui::Catalog& c, const WitnessFonts& f, SignInForm& form,
                  ui::TouchTargets& targets, const std::function<void(const Event&)>& post, ImVec2 panel_pos,
                  ImVec2 panel_size) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float pad = 48;
  const float inner = panel_size.x - 2 * pad;
  float y = panel_pos.y + pad;
  y = ui::draw_left(draw, f.title, c.text("witness.signin.title"), panel_pos.x + pad, y, inner, kText) + 16;

  const bool busy = state.phase == Phase::signing_in;
  ImGui::BeginDisabled(busy);
  for (const auto& [key, id, value, flags] :
       {std::tuple{"witness.signin.staff_id", "##staff_id", &form.staff_id, ImGuiInputTextFlags_None},
        std::tuple{"witness.signin.password", "##password", &form.password, ImGuiInputTextFlags_Password}}) {
    y = ui::draw_left(draw, f.base, c.text(key), panel_pos.x + pad, y, inner, kTextSecondary) + 4;
    ImGui::SetCursorScreenPos(ImVec2(panel_pos.x + pad, y));
    text_field(id, value, inner, flags);
    y = ImGui::GetItemRectMax().y + 24;
  }
  ImGui::EndDisabled();

  const ui::ButtonStyle style{
      .fill = busy ? kLine : kAccent, .fill_pressed = kAccentPressed, .text = kWhite, .font = f.large, .rounding = 8};
  const std::string label = c.text(busy ? "witness.signin.in_progress" : "witness.signin.button");
  if (ui::touch_button(targets, "signin", label, ImVec2(panel_pos.x + pad, y), ImVec2(inner, 72), style) && !busy) {
    post(event::SignInRequested{form.staff_id, form.password});
    form.password.assign(form.password.size(), '\0');  // overwrite before release
    form.password.clear();
  }
  y += 72 + 24;
  if (!state.notice_key.empty()) {
    const ImU32 colour = state.notice_key == "witness.state.signed_out" ? kTextSecondary : kError;
    ui::draw_left(draw, f.base, c.text(state.notice_key, {{"code", state.problem_code}}), panel_pos.x + pad, y, inner,
                  colour);
  }
}

void draw_connected(const WitnessState& state, const ui::Catalog& c, const WitnessFonts& f, ui::TouchTargets& targets,
                    const std::function<void(const Event&)>& post, ImVec2 panel_pos, ImVec2 panel_size) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float pad = 48;
  const float inner = panel_size.x - 2 * pad;
  const float x = panel_pos.x + pad;
  float y = panel_pos.y + pad;
  y = ui::draw_left(draw, f.title, c.text("witness.connected.title"), x, y, inner, kText) + 16;
  y = ui::draw_left(draw, f.large,
                    c.text("witness.connected.staff",
                           {{"display_name", state.staff.display_name}, {"staff_id", state.staff.staff_id}}),
                    x, y, inner, kText);
  y = ui::draw_left(draw, f.base, c.text("witness.connected.role", {{"role", role_name(c, state.staff.role)}}), x,
                    y + 8, inner, kTextSecondary) +
      24;

  const bool connected = state.phase == Phase::connected;
  draw.AddCircleFilled(ImVec2(x + 10, y + f.base->FontSize / 2), 10, connected ? kOk : kWarn, 20);
  const std::string link = connected ? c.text("witness.state.connected")
                                     : c.text("witness.state.reconnecting", {{"code", state.problem_code}});
  y = ui::draw_left(draw, f.base, link, x + 32, y, inner - 32, kText);
  if (!state.server_time.empty()) {
    y = ui::draw_left(draw, f.base, c.text("witness.connected.server_time", {{"time", state.server_time}}), x, y + 8,
                      inner, kTextSecondary);
  }
  y = ui::draw_left(draw, f.base, c.text("witness.connected.queue_unavailable"), x, y + 24, inner, kTextSecondary);

  const ui::ButtonStyle style{
      .fill = kWhite, .fill_pressed = kLine, .border = kAccent, .text = kAccent, .font = f.base, .rounding = 8};
  const std::string label = c.text("witness.signout.button");
  const float w = std::max(200.0f, ui::text_size(f.base, label).x + 64);
  if (ui::touch_button(targets, "signout", label,
                       ImVec2(panel_pos.x + panel_size.x - pad - w, panel_pos.y + panel_size.y - pad - 64),
                       ImVec2(w, 64), style)) {
    post(event::SignOutRequested{});
  }
}

}  // namespace

void apply_witness_style() {
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowPadding = ImVec2(0, 0);
  style.WindowBorderSize = 0;
  style.FramePadding = ImVec2(12, 10);
  style.FrameRounding = 6;
  style.FrameBorderSize = 1;
  style.Colors[ImGuiCol_WindowBg] = ImVec4(246 / 255.0f, 247 / 255.0f, 249 / 255.0f, 1);
  style.Colors[ImGuiCol_Text] = ImGui::ColorConvertU32ToFloat4(kText);
  style.Colors[ImGuiCol_FrameBg] = ImVec4(1, 1, 1, 1);
  style.Colors[ImGuiCol_FrameBgHovered] = ImVec4(1, 1, 1, 1);
  style.Colors[ImGuiCol_FrameBgActive] = ImVec4(1, 1, 1, 1);
  style.Colors[ImGuiCol_Border] = ImGui::ColorConvertU32ToFloat4(kLine);
  style.Colors[ImGuiCol_TextSelectedBg] = ImVec4(0, 0.24f, 0.48f, 0.3f);
}

void draw_witness(const WitnessState& state, const ui::Catalog& catalog, const WitnessFonts& fonts, SignInForm& form,
                  ui::TouchTargets& targets, const std::function<void(const Event&)>& post) {
  const ImGuiIO& io = ImGui::GetIO();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  ImGui::Begin("witness", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus);
  ImGui::PushFont(fonts.base);
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  // Header strip with the program's name.
  draw.AddRectFilled(ImVec2(0, 0), ImVec2(io.DisplaySize.x, 64), kAccent);
  draw.AddText(fonts.base, fonts.base->FontSize, ImVec2(32, (64 - fonts.base->FontSize) / 2), kWhite,
               catalog.text("witness.window_title").c_str());

  const bool signed_in = state.phase == Phase::connected || state.phase == Phase::reconnecting;
  const ImVec2 panel_size(std::min(io.DisplaySize.x - 64, signed_in ? 900.0f : 560.0f),
                          std::min(io.DisplaySize.y - 128, signed_in ? 560.0f : 600.0f));
  const ImVec2 panel_pos((io.DisplaySize.x - panel_size.x) / 2, 64 + (io.DisplaySize.y - 64 - panel_size.y) / 2);
  draw.AddRectFilled(panel_pos, ImVec2(panel_pos.x + panel_size.x, panel_pos.y + panel_size.y), kWhite, 12);
  draw.AddRect(panel_pos, ImVec2(panel_pos.x + panel_size.x, panel_pos.y + panel_size.y), kLine, 12);
  if (signed_in)
    draw_connected(state, catalog, fonts, targets, post, panel_pos, panel_size);
  else
    draw_sign_in(state, catalog, fonts, form, targets, post, panel_pos, panel_size);
  ImGui::PopFont();
  ImGui::End();
}

}  // namespace kiosk::witness
