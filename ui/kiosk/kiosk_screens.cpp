#include "ui/kiosk/kiosk_screens.hpp"

#include <imgui.h>

#include <algorithm>
#include <string_view>

#include "ui/common/widgets.hpp"

namespace kiosk::ui {
namespace {

// A calm bank-branch palette: white ground, near-black text, one accent (CSDC red).
constexpr ImU32 kAccent = IM_COL32(200, 16, 46, 255);
constexpr ImU32 kAccentPressed = IM_COL32(150, 10, 32, 255);
constexpr ImU32 kAccentTint = IM_COL32(252, 232, 235, 255);
constexpr ImU32 kText = IM_COL32(26, 26, 26, 255);
constexpr ImU32 kTextSecondary = IM_COL32(72, 80, 94, 255);
constexpr ImU32 kWhite = IM_COL32(255, 255, 255, 255);
constexpr ImU32 kCard = IM_COL32(247, 248, 250, 255);
constexpr ImU32 kLine = IM_COL32(208, 213, 221, 255);
constexpr ImU32 kStatusBar = IM_COL32(242, 244, 247, 255);
constexpr ImU32 kOnline = IM_COL32(30, 142, 62, 255);
constexpr ImU32 kChecking = IM_COL32(178, 106, 0, 255);
constexpr ImU32 kScrim = IM_COL32(0, 0, 0, 150);

// Layout is designed at 1920x1080 and scaled to the display; text sizes come from the fonts.
struct Layout {
  float width = 1920;
  float height = 1080;
  float s = 1;  // scale from the 1080p design
  float status_top = 0;
  [[nodiscard]] float px(float design) const { return design * s; }
};

constexpr float kStatusBarHeight = 160;
constexpr float kAccentStripHeight = 10;

std::string op_key(Operation op, std::string_view part) {
  return "op." + std::string(to_string(op)) + "." + std::string(part);
}

ButtonStyle primary(ImFont* font) {
  return ButtonStyle{.fill = kAccent, .fill_pressed = kAccentPressed, .border = 0, .text = kWhite, .font = font};
}

ButtonStyle secondary(ImFont* font) {
  return ButtonStyle{.fill = kWhite, .fill_pressed = kAccentTint, .border = kText, .text = kText, .font = font};
}

void draw_attract(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                  const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float top = l.px(kAccentStripHeight);
  // The whole screen above the status bar is one target: touching anywhere starts.
  if (touch_area(targets, "start", ImVec2(0, top), ImVec2(l.width, l.status_top - top), true)) post(event::Start{});

  const float cx = l.width / 2;
  const float text_width = l.width - l.px(240);
  float y = draw_centred(draw, f.title, c.text("attract.title"), cx, l.px(330), text_width, kText);
  draw.AddRectFilled(ImVec2(cx - l.px(60), y + l.px(8)), ImVec2(cx + l.px(60), y + l.px(14)), kAccent);
  y = draw_centred(draw, f.base, c.text("attract.subtitle"), cx, y + l.px(48), text_width, kTextSecondary);

  const std::string prompt = c.text("attract.prompt");
  const ImVec2 prompt_size = text_size(f.large, prompt);
  const ImVec2 pill(prompt_size.x + l.px(160), prompt_size.y + l.px(72));
  const ImVec2 pill_pos(cx - pill.x / 2, y + l.px(90));
  draw.AddRectFilled(pill_pos, ImVec2(pill_pos.x + pill.x, pill_pos.y + pill.y), kAccent, pill.y / 2);
  draw.AddText(f.large, f.large->FontSize, ImVec2(cx - prompt_size.x / 2, pill_pos.y + (pill.y - prompt_size.y) / 2),
               kWhite, prompt.c_str());
  draw_centred(draw, f.base, c.text("attract.notice"), cx, pill_pos.y + pill.y + l.px(64), text_width, kTextSecondary);
}

void draw_menu(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets, const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("menu.title"), cx, l.px(60), l.width - l.px(240), kText);
  draw_centred(draw, f.base, c.text("menu.hint"), cx, y + l.px(4), l.width - l.px(240), kTextSecondary);

  // Three columns by two rows of large cards, in the order of REQ-30.
  const float margin = l.px(120);
  const float gap = l.px(48);
  const float grid_top = l.px(260);
  const float card_w = (l.width - 2 * margin - 2 * gap) / 3;
  const float card_h = std::min(l.px(300), (l.status_top - grid_top - gap - l.px(40)) / 2);
  for (std::size_t i = 0; i < kAllOperations.size(); ++i) {
    const Operation op = kAllOperations[i];
    const float x = margin + static_cast<float>(i % 3) * (card_w + gap);
    const float card_y = grid_top + static_cast<float>(i / 3) * (card_h + gap);
    const std::string id = "op." + std::string(to_string(op));
    bool held = false;
    if (touch_area(targets, id.c_str(), ImVec2(x, card_y), ImVec2(card_w, card_h), false, &held)) {
      post(event::ChooseOperation{op});
    }
    const ImVec2 a(x, card_y);
    const ImVec2 b(x + card_w, card_y + card_h);
    draw.AddRectFilled(a, b, held ? kAccentTint : kCard, 16);
    draw.AddRect(a, b, kLine, 16, 0, 2);
    draw.AddRectFilled(ImVec2(x, card_y + l.px(36)), ImVec2(x + l.px(10), b.y - l.px(36)), kAccent);
    const float pad = l.px(48);
    const float name_bottom =
        draw_left(draw, f.large, c.text(op_key(op, "name")), x + pad, card_y + l.px(44), card_w - 2 * pad, kText);
    draw_left(draw, f.base, c.text(op_key(op, "desc")), x + pad, name_bottom + l.px(16), card_w - 2 * pad,
              kTextSecondary);
  }
}

void draw_unavailable(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                      TouchTargets& targets, const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  const float text_width = l.width - l.px(360);
  // An information mark, not an error cross: nothing went wrong, the service is elsewhere.
  const float r = l.px(56);
  const ImVec2 centre(cx, l.px(190));
  draw.AddCircleFilled(centre, r, kAccent, 48);
  const ImVec2 mark = text_size(f.title, "!");
  draw.AddText(f.title, f.title->FontSize, ImVec2(centre.x - mark.x / 2, centre.y - mark.y / 2), kWhite, "!");

  float y = draw_centred(draw, f.title, c.text("unavailable.title"), cx, l.px(290), text_width, kText);
  const std::string operation = state.operation ? c.text(op_key(*state.operation, "name")) : std::string();
  y = draw_centred(draw, f.large, c.text("unavailable.body", {{"operation", operation}}), cx, y + l.px(40), text_width,
                   kText);
  y = draw_centred(draw, f.large, c.text("unavailable.counter"), cx, y + l.px(8), text_width, kTextSecondary);

  const std::string back = c.text("unavailable.back");
  const ImVec2 size(std::max(l.px(480), text_size(f.large, back).x + l.px(120)), l.px(128));
  if (touch_button(targets, "back", back, ImVec2(cx - size.x / 2, y + l.px(64)), size, primary(f.large))) {
    post(event::Back{});
  }
}

void draw_status_bar(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                     const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float top = l.status_top;
  draw.AddRectFilled(ImVec2(0, top), ImVec2(l.width, l.height), kStatusBar);
  draw.AddLine(ImVec2(0, top), ImVec2(l.width, top), kLine, 2);
  const float mid = top + (l.height - top) / 2;

  const char* gateway_key = state.gateway == GatewayLink::online    ? "status.gateway.online"
                            : state.gateway == GatewayLink::offline ? "status.gateway.offline"
                                                                    : "status.gateway.checking";
  const ImU32 dot = state.gateway == GatewayLink::online    ? kOnline
                    : state.gateway == GatewayLink::offline ? kAccent
                                                            : kChecking;
  float x = l.px(56);
  draw.AddCircleFilled(ImVec2(x + l.px(12), mid), l.px(12), dot, 24);
  x += l.px(40);
  const std::string gateway = c.text(gateway_key);
  const float line_y = mid - f.base->FontSize / 2;
  draw.AddText(f.base, f.base->FontSize, ImVec2(x, line_y), kText, gateway.c_str());
  x += text_size(f.base, gateway).x + l.px(56);
  const std::string device = c.text("status.device", {{"device_id", view.device_id}});
  draw.AddText(f.base, f.base->FontSize, ImVec2(x, line_y), kTextSecondary, device.c_str());

  // Buttons from the right edge: [language] [finish].
  const float button_h = l.px(120);
  const float button_y = mid - button_h / 2;
  float right = l.width - l.px(56);
  if (state.screen != Screen::attract) {
    const std::string end = c.text("status.end_session");
    const float w = std::max(l.px(260), text_size(f.base, end).x + l.px(96));
    right -= w;
    if (touch_button(targets, "end_session", end, ImVec2(right, button_y), ImVec2(w, button_h), primary(f.base))) {
      post(event::EndSession{});
    }
    right -= l.px(40);
  }
  const std::string toggle = c.text("status.language_toggle");
  const float w = std::max(l.px(220), text_size(f.base, toggle).x + l.px(96));
  right -= w;
  if (touch_button(targets, "lang.toggle", toggle, ImVec2(right, button_y), ImVec2(w, button_h), secondary(f.base))) {
    post(event::SetLanguage{state.language == Language::zh_CN ? Language::en : Language::zh_CN});
  }
}

void draw_idle_warning(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                       TouchTargets& targets, const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  draw.AddRectFilled(ImVec2(0, 0), ImVec2(l.width, l.height), kScrim);
  const ImVec2 card(l.px(1120), l.px(560));
  const ImVec2 a((l.width - card.x) / 2, (l.height - card.y) / 2);
  draw.AddRectFilled(a, ImVec2(a.x + card.x, a.y + card.y), kWhite, 24);
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("idle.title"), cx, a.y + l.px(72), card.x - l.px(120), kText);
  const std::string seconds = std::to_string(state.idle_seconds_left.count());
  draw_centred(draw, f.large, c.text("idle.countdown", {{"seconds", seconds}}), cx, y + l.px(32), card.x - l.px(120),
               kTextSecondary);
  const std::string label = c.text("idle.still_here");
  const ImVec2 size(std::max(l.px(520), text_size(f.large, label).x + l.px(120)), l.px(128));
  if (touch_button(targets, "still_here", label, ImVec2(cx - size.x / 2, a.y + card.y - size.y - l.px(64)), size,
                   primary(f.large))) {
    post(event::StillHere{});
  }
}

}  // namespace

void apply_kiosk_style() {
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowPadding = ImVec2(0, 0);
  style.WindowBorderSize = 0;
  style.WindowRounding = 0;
  style.DisabledAlpha = 1.0f;  // under the idle overlay the scrim already dims the screen
  style.Colors[ImGuiCol_WindowBg] = ImVec4(1, 1, 1, 1);
  style.Colors[ImGuiCol_Text] = ImGui::ColorConvertU32ToFloat4(kText);
}

void draw_kiosk(const KioskState& state, const Catalog& catalog, const KioskFonts& fonts, const KioskView& view,
                TouchTargets& targets, const IntentSink& post) {
  const ImGuiIO& io = ImGui::GetIO();
  Layout l;
  l.width = io.DisplaySize.x;
  l.height = io.DisplaySize.y;
  l.s = std::min(l.width / 1920.0f, l.height / 1080.0f);
  l.status_top = l.height - l.px(kStatusBarHeight);

  // Any touch counts as activity, even one that hits no button (resets the idle timer).
  if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) post(event::UserActivity{});

  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  constexpr ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                     ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus |
                                     ImGuiWindowFlags_NoScrollWithMouse;
  ImGui::Begin("kiosk", nullptr, flags);
  ImGui::PushFont(fonts.base);
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  draw.AddRectFilled(ImVec2(0, 0), ImVec2(l.width, l.px(kAccentStripHeight)), kAccent);

  ImGui::BeginDisabled(state.idle_warning);
  switch (state.screen) {
    case Screen::attract: draw_attract(l, catalog, fonts, targets, post); break;
    case Screen::choose_operation: draw_menu(l, catalog, fonts, targets, post); break;
    case Screen::operation_unavailable: draw_unavailable(l, state, catalog, fonts, targets, post); break;
  }
  draw_status_bar(l, state, catalog, fonts, view, targets, post);
  ImGui::EndDisabled();
  if (state.idle_warning) draw_idle_warning(l, state, catalog, fonts, targets, post);

  ImGui::PopFont();
  ImGui::End();
}

}  // namespace kiosk::ui
