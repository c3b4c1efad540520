#include "ui/kiosk/kiosk_screens.hpp"

#include <imgui.h>

#include <algorithm>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "ui/common/widgets.hpp"
#include "ui/kiosk/engineer_screens.hpp"
#include "ui/kiosk/kiosk_look.hpp"
#include "ui/kiosk/transaction_screens.hpp"

namespace kiosk::ui {
namespace {

void draw_attract(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                  const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float top = l.px(kAccentStripHeight);
  // The hidden engineer corner, drawn first so that it, not `start`, takes a touch there. The
  // session times the hold (KioskSettings::engineer_hold), so a press and a release are all it needs.
  // A short touch there starts like anywhere else.
  const bool corner_tapped =
      touch_area(targets, "engineer.corner", ImVec2(0, top), ImVec2(l.px(160), l.px(160)), false);
  if (ImGui::IsItemActivated()) post(event::EngineerCornerHold{true});
  if (ImGui::IsItemDeactivated()) post(event::EngineerCornerHold{false});
  if (corner_tapped) post(event::Start{});
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
  if (!state.failure_code.empty()) {
    y = draw_centred(draw, f.base, c.text("identity.problem.code", {{"code", state.failure_code}}), cx, y + l.px(8),
                     text_width, kTextSecondary);
  }

  const std::string back = c.text("unavailable.back");
  const ImVec2 size(std::max(l.px(480), text_size(f.large, back).x + l.px(120)), l.px(128));
  if (touch_button(targets, "back", back, ImVec2(cx - size.x / 2, y + l.px(64)), size, primary(f.large))) {
    post(event::Back{});
  }
}

Event intent_for_id(std::string_view id) {
  if (id == "identity.retry") return event::RetryIdentity{};
  if (id == "identity.continue") return event::ContinueAfterIdentity{};
  if (id == "identity.finish") return event::EndSession{};
  return event::Back{};
}

// The reader drawn as a flat plate with a card above it: where the card goes, without words.
void draw_reader_picture(const Layout& l, float cx, float top, bool card_on_reader) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const ImVec2 plate(l.px(360), l.px(150));
  const ImVec2 a(cx - plate.x / 2, top + l.px(110));
  draw.AddRectFilled(a, ImVec2(a.x + plate.x, a.y + plate.y), kCard, 20);
  draw.AddRect(a, ImVec2(a.x + plate.x, a.y + plate.y), kLine, 20, 0, 3);
  const ImVec2 card(l.px(250), l.px(158));
  const float card_y = card_on_reader ? a.y - l.px(4) : top;
  const ImVec2 c(cx - card.x / 2, card_y);
  draw.AddRectFilled(c, ImVec2(c.x + card.x, c.y + card.y), kAccentTint, 14);
  draw.AddRect(c, ImVec2(c.x + card.x, c.y + card.y), kAccent, 14, 0, 3);
  draw.AddRectFilled(ImVec2(c.x + l.px(24), c.y + l.px(36)), ImVec2(c.x + l.px(84), c.y + l.px(112)), kLine, 6);
  for (int line = 0; line < 3; ++line) {
    const float y = c.y + l.px(44) + static_cast<float>(line) * l.px(24);
    draw.AddRectFilled(ImVec2(c.x + l.px(104), y), ImVec2(c.x + card.x - l.px(24), y + l.px(10)), kLine, 4);
  }
}

void draw_place_card(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                     TouchTargets& targets, const IntentSink& post) {
  draw_reader_picture(l, l.width / 2, l.px(90), false);
  const bool reader_down = state.reader == ReaderLink::offline;
  const float y = draw_message(l, f, c.text("identity.place.title"),
                               reader_down ? c.text("identity.place.reader_offline") : c.text("identity.place.body"),
                               c.text("identity.place.hint"), l.px(400));
  draw_buttons(l, f, targets, std::min(y + l.px(64), l.status_top - l.px(180)), {{"back", c.text("identity.back")}},
               post, intent_for_id);
}

void draw_reading(const Layout& l, const Catalog& c, const KioskFonts& f) {
  draw_reader_picture(l, l.width / 2, l.px(90), true);
  draw_message(l, f, c.text("identity.reading.title"), c.text("identity.reading.body"), "", l.px(400));
}

void draw_identity_result(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                          const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  if (!state.identity) return;
  const IdentitySummary& who = *state.identity;
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("identity.result.title"), cx, l.px(60), l.width - l.px(240), kText);

  // The card: photo (or why there is none) on the left, masked fields on the right.
  const ImVec2 card(l.px(1280), l.px(480));
  const ImVec2 a(cx - card.x / 2, y + l.px(40));
  draw.AddRectFilled(a, ImVec2(a.x + card.x, a.y + card.y), kCard, 20);
  draw.AddRect(a, ImVec2(a.x + card.x, a.y + card.y), kLine, 20, 0, 2);
  const ImVec2 photo_pos(a.x + l.px(56), a.y + l.px(56));
  const ImVec2 photo_size(l.px(306), l.px(378));  // 102 x 126 at 3x
  void* texture =
      (who.photo.status == PhotoStatus::decoded && view.photo_texture) ? view.photo_texture(who.photo) : nullptr;
  if (texture != nullptr) {
    draw.AddImage(texture, photo_pos, ImVec2(photo_pos.x + photo_size.x, photo_pos.y + photo_size.y));
  } else {
    draw.AddRectFilled(photo_pos, ImVec2(photo_pos.x + photo_size.x, photo_pos.y + photo_size.y), kWhite, 8);
    draw.AddRect(photo_pos, ImVec2(photo_pos.x + photo_size.x, photo_pos.y + photo_size.y), kLine, 8, 0, 2);
    const char* key = who.photo.status == PhotoStatus::decode_failed ? "identity.photo.decode_failed"
                                                                     : "identity.photo.not_installed";
    draw_centred(draw, f.base, c.text(key), photo_pos.x + photo_size.x / 2, photo_pos.y + photo_size.y / 2 - l.px(40),
                 photo_size.x - l.px(32), kTextSecondary);
  }
  // The four fields in a 2 x 2 grid beside the photo: the document type spans the first row.
  const float fx = photo_pos.x + photo_size.x + l.px(64);
  const float fw = a.x + card.x - fx - l.px(48);
  const auto field = [&](const std::string& label, const std::string& value, float left, float top, float w) {
    draw_left(draw, f.base, label, left, top, w, kTextSecondary);
    return draw_left(draw, f.large, value, left, top + l.px(44), w, kText);
  };
  const float row2 =
      field(c.text("identity.field.document"), c.text("identity.doc." + who.document_type), fx, a.y + l.px(56), fw) +
      l.px(40);
  field(c.text("identity.field.name"), who.masked_name, fx, row2, fw / 2 - l.px(24));
  field(c.text("identity.field.valid_until"),
        who.valid_until == "long-term" ? c.text("identity.valid.long_term") : who.valid_until, fx + fw / 2, row2,
        fw / 2);
  field(c.text("identity.field.number"), who.masked_number, fx, row2 + l.px(150), fw);
  const std::string check =
      who.nciis_result == "MATCH" ? c.text("identity.nciis.match") : c.text("identity.nciis.not_checked");
  y = draw_centred(draw, f.base, check, cx, a.y + card.y + l.px(28), l.width - l.px(240), kOnline);
  draw_buttons(l, f, targets, std::min(y + l.px(32), l.status_top - l.px(160)),
               {{"back", c.text("identity.not_me")}, {"identity.continue", c.text("identity.continue")}}, post,
               intent_for_id);
}

void draw_identity_failed(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                          TouchTargets& targets, const IntentSink& post) {
  if (!state.identity_problem) return;
  const std::string problem(to_string(*state.identity_problem));
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float r = l.px(56);
  const ImVec2 centre(l.width / 2, l.px(170));
  draw.AddCircleFilled(centre, r, kAccent, 48);
  const ImVec2 mark = text_size(f.title, "!");
  draw.AddText(f.title, f.title->FontSize, ImVec2(centre.x - mark.x / 2, centre.y - mark.y / 2), kWhite, "!");
  const float y = draw_message(l, f, c.text("identity.problem." + problem + ".title"),
                               c.text("identity.problem." + problem + ".action"),
                               c.text("identity.problem.code", {{"code", state.identity_problem_code}}), l.px(260));
  std::vector<std::pair<const char*, std::string>> buttons;
  if (identity_retry_allowed(*state.identity_problem)) {
    buttons = {{"back", c.text("identity.back")}, {"identity.retry", c.text("identity.retry")}};
  } else {
    buttons = {{"identity.finish", c.text("identity.finish")}};
  }
  draw_buttons(l, f, targets, std::min(y + l.px(64), l.status_top - l.px(180)), buttons, post, intent_for_id);
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
  const bool reader_ok = state.reader == ReaderLink::online;
  draw.AddCircleFilled(ImVec2(x + l.px(12), mid), l.px(12),
                       reader_ok                             ? kOnline
                       : state.reader == ReaderLink::offline ? kAccent
                                                             : kChecking,
                       24);
  x += l.px(40);
  const std::string reader = c.text(reader_ok                             ? "status.reader.online"
                                    : state.reader == ReaderLink::offline ? "status.reader.offline"
                                                                          : "status.reader.checking");
  draw.AddText(f.base, f.base->FontSize, ImVec2(x, line_y), kText, reader.c_str());
  x += text_size(f.base, reader).x + l.px(56);
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
    case Screen::place_card: draw_place_card(l, state, catalog, fonts, targets, post); break;
    case Screen::reading_card: draw_reading(l, catalog, fonts); break;
    case Screen::identity_result: draw_identity_result(l, state, catalog, fonts, view, targets, post); break;
    case Screen::identity_failed: draw_identity_failed(l, state, catalog, fonts, targets, post); break;
    default:
      if (!draw_engineer_screen(l, state, catalog, fonts, view, targets, post)) {
        draw_transaction_screen(l, state, catalog, fonts, view, targets, post);
      }
      break;
  }
  draw_status_bar(l, state, catalog, fonts, view, targets, post);
  ImGui::EndDisabled();
  if (state.idle_warning) draw_idle_warning(l, state, catalog, fonts, targets, post);

  ImGui::PopFont();
  ImGui::End();
}

}  // namespace kiosk::ui
