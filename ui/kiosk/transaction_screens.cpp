// The certificate transaction's screens: medium, consent, terms, staff sign-in and decision, the
// revocation statement, the reason, the token (insert, PIN, progress, remove), the soft-certificate
// grant and the end. Typed secrets live in KioskInput, never in KioskState.
#include <imgui.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "ui/kiosk/kiosk_look.hpp"
#include "ui/kiosk/transaction_screens.hpp"

namespace kiosk::ui {
namespace {

Event intent_for(std::string_view id) {
  if (id == "medium.hard") return event::ChooseMedium{Medium::hard};
  if (id == "medium.soft") return event::ChooseMedium{Medium::soft};
  if (id == "consent.agree") return event::ConsentAnswer{true};
  if (id == "consent.refuse") return event::ConsentAnswer{false};
  if (id == "terms.accept") return event::TermsAnswer{true};
  if (id == "terms.decline") return event::TermsAnswer{false};
  if (id == "staff.approve") return event::StaffDecision{true};
  if (id == "staff.reject") return event::StaffDecision{false};
  if (id == "revoke.confirm") return event::RevocationConfirmed{true};
  if (id == "revoke.cancel") return event::RevocationConfirmed{false};
  if (id == "tx.finish") return event::EndSession{};
  if (id == "token.taken_out") return event::TokenTakenOut{};
  return event::Back{};
}

std::string task_name(StaffTask task) {
  switch (task) {
    case StaffTask::identity_check: return "identity_check";
    case StaffTask::countersign: return "countersign";
    case StaffTask::review: return "review";
  }
  return "review";
}

float bottom_row(const Layout& l, float y) { return std::min(y + l.px(56), l.status_top - l.px(170)); }

// A field drawn as a box; touching it moves the keyboard's focus to it.
void draw_field(const Layout& l, const KioskFonts& f, TouchTargets& targets, const char* id, const std::string& label,
                const std::string& shown, bool focused, ImVec2 pos, float width, int focus_index, KioskInput& input) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  draw_left(draw, f.base, label, pos.x, pos.y, width, kTextSecondary);
  const ImVec2 box(pos.x, pos.y + l.px(44));
  const ImVec2 size(width, l.px(84));
  if (touch_area(targets, id, box, size)) input.focus = focus_index;
  draw.AddRectFilled(box, ImVec2(box.x + size.x, box.y + size.y), kWhite, 10);
  draw.AddRect(box, ImVec2(box.x + size.x, box.y + size.y), focused ? kAccent : kLine, 10, 0, focused ? 4.0f : 2.0f);
  draw.AddText(f.large, f.large->FontSize, ImVec2(box.x + l.px(24), box.y + (size.y - f.large->FontSize) / 2), kText,
               shown.c_str());
}

// One mark per typed character; the mark comes from the catalog so that its glyph is in the atlas.
std::string dots(const Catalog& c, std::size_t count) {
  const std::string dot = c.text("tx.secret.dot");
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += dot;
  return out;
}

// A key of a keypad; returns true when touched.
bool key(const Layout& l, const KioskFonts& f, TouchTargets& targets, const std::string& id, const std::string& label,
         ImVec2 pos, ImVec2 size, bool accent = false) {
  (void)l;
  return touch_button(targets, id.c_str(), label, pos, size, accent ? primary(f.large) : secondary(f.large));
}

void draw_choose_medium(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                        const IntentSink& post) {
  const float y = draw_message(l, f, c.text("tx.medium.title"), c.text("tx.medium.body"), "", l.px(120));
  draw_buttons(l, f, targets, bottom_row(l, y + l.px(80)),
               {{"back", c.text("tx.back")},
                {"medium.soft", c.text("tx.medium.soft")},
                {"medium.hard", c.text("tx.medium.hard")}},
               post, intent_for);
}

void draw_consent(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                  const IntentSink& post) {
  const float y =
      draw_message(l, f, c.text("tx.consent.title"), c.text("tx.consent.body"), c.text("tx.consent.hint"), l.px(100));
  draw_buttons(l, f, targets, bottom_row(l, y + l.px(40)),
               {{"consent.refuse", c.text("tx.consent.refuse")}, {"consent.agree", c.text("tx.consent.agree")}}, post,
               intent_for);
}

void draw_terms(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets, const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("tx.terms.title"), cx, l.px(60), l.width - l.px(240), kText);
  const ImVec2 a(l.px(200), y + l.px(32));
  const ImVec2 b(l.width - l.px(200), l.status_top - l.px(220));
  draw.AddRectFilled(a, b, kCard, 16);
  draw.AddRect(a, b, kLine, 16, 0, 2);
  draw_left(draw, f.base, c.text("tx.terms.body"), a.x + l.px(40), a.y + l.px(32), b.x - a.x - l.px(80), kText);
  draw_buttons(l, f, targets, l.status_top - l.px(180),
               {{"terms.decline", c.text("tx.terms.decline")}, {"terms.accept", c.text("tx.terms.accept")}}, post,
               intent_for);
}

// Digits and upper-case letters: staff numbers and passwords (the kiosk has no physical keyboard).
void draw_staff_keyboard(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets, float top,
                         KioskInput& input) {
  static const char* const rows[] = {"1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"};
  const ImVec2 size(l.px(100), l.px(64));
  const float gap = l.px(8);
  std::string& field = input.focus == 0 ? input.staff_id : input.staff_password;
  for (int r = 0; r < 4; ++r) {
    const std::string row = rows[r];
    float x = (l.width - (static_cast<float>(row.size()) * (size.x + gap) - gap)) / 2;
    const float y = top + static_cast<float>(r) * (size.y + gap);
    for (const char ch : row) {
      const char typed = input.shift || !std::isalpha(static_cast<unsigned char>(ch))
                             ? ch
                             : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (key(l, f, targets, std::string("key.") + ch, std::string(1, typed), ImVec2(x, y), size) &&
          field.size() < 64) {
        field.push_back(typed);
      }
      x += size.x + gap;
    }
  }
  const float y = top + 4 * (size.y + gap);
  const ImVec2 wide(l.px(220), size.y);
  const float x = (l.width - (2 * wide.x + gap)) / 2;
  if (key(l, f, targets, "key.shift", input.shift ? "abc" : "ABC", ImVec2(x, y), wide)) input.shift = !input.shift;
  if (key(l, f, targets, "key.del", c.text("tx.key.delete"), ImVec2(x + wide.x + gap, y), wide) && !field.empty()) {
    field.pop_back();
  }
}

void draw_staff_sign_in(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                        const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  if (!state.staff_task || view.input == nullptr) return;
  KioskInput& input = *view.input;
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("tx.staff." + task_name(*state.staff_task) + ".title"), cx, l.px(40),
                         l.width - l.px(240), kText);
  y = draw_centred(draw, f.base, c.text("tx.staff.sign_in_hint"), cx, y + l.px(8), l.width - l.px(240), kTextSecondary);
  if (!state.staff_problem_code.empty()) {
    y = draw_centred(draw, f.base, c.text("tx.staff.refused", {{"code", state.staff_problem_code}}), cx, y + l.px(8),
                     l.width - l.px(240), kAccent);
  }
  draw_staff_credentials(l, c, f, targets, y, input);
  const float row = l.status_top - l.px(150);
  const std::string back = c.text("tx.back");
  const std::string submit = c.text("tx.staff.submit");
  const ImVec2 size(l.px(420), l.px(120));
  if (touch_button(targets, "back", back, ImVec2(cx - size.x - l.px(24), row), size, secondary(f.large))) {
    post(event::Back{});
  }
  if (touch_button(targets, "staff.submit", submit, ImVec2(cx + l.px(24), row), size, primary(f.large)) &&
      !input.staff_id.empty() && !input.staff_password.empty() && view.submit_staff) {
    view.submit_staff(input.staff_id, input.staff_password);
    input.focus = 0;
    post(event::StaffSignInSubmitted{});
  }
}

void draw_staff_decision(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                         const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  if (!state.staff_task) return;
  const std::string task = task_name(*state.staff_task);
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y =
      draw_centred(draw, f.title, c.text("tx.staff." + task + ".question"), cx, l.px(60), l.width - l.px(240), kText);
  y = draw_centred(draw, f.base,
                   c.text("tx.staff.signed_in", {{"name", state.staff_display_name}, {"staff_id", state.staff_id}}), cx,
                   y + l.px(12), l.width - l.px(240), kTextSecondary);
  if (state.identity) {
    // What the staff member checks: the chip photo (when decoded) and the masked identity.
    const ImVec2 photo_size(l.px(204), l.px(252));
    const ImVec2 photo_pos(cx - l.px(420), y + l.px(40));
    void* texture = (state.identity->photo.status == PhotoStatus::decoded && view.photo_texture)
                        ? view.photo_texture(state.identity->photo)
                        : nullptr;
    if (texture != nullptr) {
      draw.AddImage(texture, photo_pos, ImVec2(photo_pos.x + photo_size.x, photo_pos.y + photo_size.y));
    } else {
      draw.AddRect(photo_pos, ImVec2(photo_pos.x + photo_size.x, photo_pos.y + photo_size.y), kLine, 8, 0, 2);
      draw_centred(draw, f.base, c.text("identity.photo.not_installed"), photo_pos.x + photo_size.x / 2,
                   photo_pos.y + l.px(60), photo_size.x - l.px(16), kTextSecondary);
    }
    const float fx = photo_pos.x + photo_size.x + l.px(48);
    float fy = draw_left(draw, f.large, state.identity->masked_name, fx, photo_pos.y + l.px(20), l.px(600), kText);
    fy = draw_left(draw, f.large, state.identity->masked_number, fx, fy + l.px(16), l.px(600), kText);
    draw_left(draw, f.base, c.text("tx.staff." + task + ".body"), fx, fy + l.px(24), l.px(640), kTextSecondary);
    y = photo_pos.y + photo_size.y;
  }
  draw_buttons(l, f, targets, bottom_row(l, y + l.px(40)),
               {{"staff.reject", c.text("tx.staff.reject")}, {"staff.approve", c.text("tx.staff.approve")}}, post,
               intent_for);
}

void draw_revocation_confirm(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                             const IntentSink& post) {
  const float y =
      draw_message(l, f, c.text("tx.revoke.title"), c.text("tx.revoke.body"), c.text("tx.revoke.hint"), l.px(140));
  draw_buttons(l, f, targets, bottom_row(l, y + l.px(40)),
               {{"revoke.cancel", c.text("tx.revoke.cancel")}, {"revoke.confirm", c.text("tx.revoke.confirm")}}, post,
               intent_for);
}

void draw_choose_reason(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                        TouchTargets& targets, const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("tx.reason.title"), cx, l.px(60), l.width - l.px(240), kText);
  const ImVec2 size(l.px(900), l.px(104));
  y += l.px(40);
  for (const std::string& code : state.reason_codes) {
    const std::string id = "reason." + code;
    if (touch_button(targets, id.c_str(), c.text("tx.reason." + code), ImVec2(cx - size.x / 2, y), size,
                     secondary(f.large))) {
      post(event::ChooseReason{code});
    }
    y += size.y + l.px(24);
  }
  draw_buttons(l, f, targets, bottom_row(l, y), {{"back", c.text("tx.back")}}, post, intent_for);
}

// The token drawn as a USB stick going into the kiosk's port.
void draw_token_picture(const Layout& l, float cx, float top, bool inserted) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const ImVec2 port(cx - l.px(90), top + l.px(150));
  draw.AddRectFilled(port, ImVec2(port.x + l.px(180), port.y + l.px(60)), kCard, 8);
  draw.AddRect(port, ImVec2(port.x + l.px(180), port.y + l.px(60)), kLine, 8, 0, 3);
  const float body_top = inserted ? top + l.px(20) : top - l.px(40);
  draw.AddRectFilled(ImVec2(cx - l.px(60), body_top), ImVec2(cx + l.px(60), body_top + l.px(130)), kAccent, 16);
  draw.AddRectFilled(ImVec2(cx - l.px(40), body_top + l.px(130)), ImVec2(cx + l.px(40), body_top + l.px(170)), kLine,
                     4);
}

void draw_insert_token(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f) {
  draw_token_picture(l, l.width / 2, l.px(110), false);
  const std::string body = state.token_reinsert ? c.text("tx.token.insert.reinsert")
                                                : c.text("tx.token.insert." + std::string(to_string(*state.operation)));
  draw_message(l, f, c.text("tx.token.insert.title"), body, c.text("tx.token.insert.hint"), l.px(380));
}

bool pin_length_ok(const std::string& pin, const PinRequest& request) {
  return pin.size() >= request.min_length && pin.size() <= request.max_length;
}

void draw_token_pin(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                    const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  if (!state.pin_request || view.input == nullptr) return;
  const PinRequest& request = *state.pin_request;
  KioskInput& input = *view.input;
  const bool setting = request.kind == PinEntryKind::initial_then_new;
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text(setting ? "tx.pin.set.title" : "tx.pin.current.title"), cx, l.px(40),
                         l.width - l.px(240), kText);
  y = draw_centred(draw, f.base, c.text("tx.pin.private"), cx, y + l.px(8), l.width - l.px(240), kTextSecondary);
  if (request.final_try) {
    y = draw_centred(draw, f.base, c.text("tx.pin.final_try"), cx, y + l.px(8), l.width - l.px(240), kAccent);
  } else if (request.count_low) {
    y = draw_centred(draw, f.base, c.text("tx.pin.count_low"), cx, y + l.px(8), l.width - l.px(240), kAccent);
  }
  if (input.pins_differ) {
    y = draw_centred(draw, f.base, c.text("tx.pin.differ"), cx, y + l.px(8), l.width - l.px(240), kAccent);
  }
  // The fields: one for the current PIN, or initial + new + again.
  std::vector<std::pair<std::string, std::string*>> fields{
      {c.text(setting ? "tx.pin.initial" : "tx.pin.current"), &input.pin}};
  if (setting) {
    fields.emplace_back(c.text("tx.pin.new"), &input.new_pin);
    fields.emplace_back(c.text("tx.pin.again"), &input.new_pin_again);
  }
  const float field_w = l.px(440);
  const float gap = l.px(32);
  float x = cx - (static_cast<float>(fields.size()) * (field_w + gap) - gap) / 2;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string id = "pin.field." + std::to_string(i);
    draw_field(l, f, targets, id.c_str(), fields[i].first, dots(c, fields[i].second->size()),
               input.focus == static_cast<int>(i), ImVec2(x, y + l.px(16)), field_w, static_cast<int>(i), input);
    x += field_w + gap;
  }
  if (input.focus >= static_cast<int>(fields.size())) input.focus = 0;
  std::string& field = *fields[static_cast<std::size_t>(input.focus)].second;

  // The keypad: 3 x 4, digits in `keypad_order` (shuffled when configured, so that someone
  // watching the hand learns nothing), delete and OK at the bottom.
  const ImVec2 size(l.px(180), l.px(96));
  const float kgap = l.px(16);
  const float top = y + l.px(200);
  const float left = cx - (3 * size.x + 2 * kgap) / 2;
  for (int i = 0; i < 10; ++i) {
    const int digit = input.keypad_order[static_cast<std::size_t>(i)];
    const int cell = i < 9 ? i : 10;  // the tenth digit sits in the middle of the last row
    const ImVec2 pos(left + static_cast<float>(cell % 3) * (size.x + kgap),
                     top + static_cast<float>(cell / 3) * (size.y + kgap));
    const std::string label = std::to_string(digit);
    if (key(l, f, targets, "key." + label, label, pos, size) && field.size() < request.max_length) {
      field.push_back(static_cast<char>('0' + digit));
      input.pins_differ = false;
    }
  }
  const float last = top + 3 * (size.y + kgap);
  if (key(l, f, targets, "key.del", c.text("tx.key.delete"), ImVec2(left, last), size) && !field.empty()) {
    field.pop_back();
  }
  if (key(l, f, targets, "key.ok", c.text("tx.pin.ok"), ImVec2(left + 2 * (size.x + kgap), last), size, true)) {
    if (static_cast<std::size_t>(input.focus) + 1 < fields.size()) {
      input.focus += 1;  // OK moves on to the next field first
    } else if (pin_length_ok(input.pin, request) &&
               (!setting || (pin_length_ok(input.new_pin, request) && input.new_pin == input.new_pin_again))) {
      if (view.submit_pin) view.submit_pin(input.pin, input.new_pin);
      std::fill(input.new_pin_again.begin(), input.new_pin_again.end(), '\0');
      input.new_pin_again.clear();
      input.focus = 0;
      post(event::PinSubmitted{});
    } else if (setting && input.new_pin != input.new_pin_again) {
      std::fill(input.new_pin.begin(), input.new_pin.end(), '\0');
      std::fill(input.new_pin_again.begin(), input.new_pin_again.end(), '\0');
      input.new_pin.clear();
      input.new_pin_again.clear();
      input.pins_differ = true;
      input.focus = 1;
    }
  }
}

void draw_token_working(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f) {
  if (state.medium == Medium::hard) draw_token_picture(l, l.width / 2, l.px(110), true);
  draw_message(l, f, c.text("tx.working.title"), c.text("tx.stage." + std::string(to_string(state.token_stage))),
               c.text("tx.working.hint"), l.px(380));
}

void draw_remove_token(const Layout& l, const Catalog& c, const KioskFonts& f) {
  draw_token_picture(l, l.width / 2, l.px(110), true);
  draw_message(l, f, c.text("tx.token.remove.title"), c.text("tx.token.remove.body"), "", l.px(380));
}

void draw_soft_grant(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                     const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  if (!state.soft_grant) return;
  const SoftGrant& grant = *state.soft_grant;
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  float y = draw_centred(draw, f.title, c.text("tx.soft.title"), cx, l.px(40), l.width - l.px(240), kText);
  y = draw_centred(draw, f.base, c.text("tx.soft.body"), cx, y + l.px(8), l.width - l.px(240), kTextSecondary);
  const float qr_side = l.px(380);
  const ImVec2 qr_pos(cx - qr_side - l.px(60), y + l.px(40));
  void* qr =
      view.qr_texture ? view.qr_texture("CSDC-SOFTCERT;REF=" + grant.reference + ";CODE=" + grant.code) : nullptr;
  if (qr != nullptr) draw.AddImage(qr, qr_pos, ImVec2(qr_pos.x + qr_side, qr_pos.y + qr_side));
  const float fx = cx + l.px(20);
  float fy = draw_left(draw, f.base, c.text("tx.soft.reference"), fx, qr_pos.y, l.px(760), kTextSecondary);
  fy = draw_left(draw, f.title, grant.reference, fx, fy + l.px(4), l.px(760), kText);
  fy = draw_left(draw, f.base, c.text("tx.soft.code"), fx, fy + l.px(24), l.px(760), kTextSecondary);
  fy = draw_left(draw, f.title, grant.code, fx, fy + l.px(4), l.px(760), kAccent);
  draw_left(draw, f.base, c.text("tx.soft.expires", {{"time", grant.expires_at}}), fx, fy + l.px(24), l.px(760),
            kTextSecondary);
  draw_buttons(l, f, targets, bottom_row(l, qr_pos.y + qr_side), {{"tx.finish", c.text("tx.finish")}}, post,
               intent_for);
}

void draw_done(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
               const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const ImVec2 centre(l.width / 2, l.px(170));
  draw.AddCircleFilled(centre, l.px(56), kOnline, 48);
  draw.AddPolyline(
      std::vector<ImVec2>{ImVec2(centre.x - l.px(26), centre.y), ImVec2(centre.x - l.px(6), centre.y + l.px(22)),
                          ImVec2(centre.x + l.px(28), centre.y - l.px(20))}
          .data(),
      3, kWhite, 0, l.px(10));
  const std::string op = state.operation ? std::string(to_string(*state.operation)) : "apply";
  std::string body;
  if (state.outcome) {
    body = c.text("tx.done.certificate",
                  {{"serial", state.outcome->serial}, {"state", c.text("tx.cert_state." + state.outcome->state)}});
    if (!state.outcome->not_after.empty())
      body += "\n" + c.text("tx.done.valid_until", {{"date", state.outcome->not_after}});
  }
  const float y = draw_message(l, f, c.text("tx.done." + op), body, c.text("tx.done.hint"), l.px(260));
  draw_buttons(l, f, targets, bottom_row(l, y + l.px(40)), {{"tx.finish", c.text("tx.finish")}}, post, intent_for);
}

void draw_failed(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f, TouchTargets& targets,
                 const IntentSink& post) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const ImVec2 centre(l.width / 2, l.px(170));
  draw.AddCircleFilled(centre, l.px(56), kAccent, 48);
  const ImVec2 mark = text_size(f.title, "!");
  draw.AddText(f.title, f.title->FontSize, ImVec2(centre.x - mark.x / 2, centre.y - mark.y / 2), kWhite, "!");
  const std::string problem = state.token_problem ? "token.problem." + std::string(to_string(*state.token_problem))
                                                  : std::string("tx.failed.generic");
  const float y = draw_message(l, f, c.text(problem + ".title"), c.text(problem + ".action"),
                               c.text("identity.problem.code", {{"code", state.failure_code}}), l.px(260));
  draw_buttons(l, f, targets, bottom_row(l, y + l.px(40)), {{"tx.finish", c.text("tx.finish")}}, post, intent_for);
}

}  // namespace

bool draw_transaction_screen(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                             const KioskView& view, TouchTargets& targets, const IntentSink& post) {
  switch (state.screen) {
    case Screen::choose_medium: draw_choose_medium(l, c, f, targets, post); return true;
    case Screen::consent: draw_consent(l, c, f, targets, post); return true;
    case Screen::terms: draw_terms(l, c, f, targets, post); return true;
    case Screen::staff_sign_in: draw_staff_sign_in(l, state, c, f, view, targets, post); return true;
    case Screen::staff_verifying: draw_message(l, f, c.text("tx.staff.verifying"), "", "", l.px(380)); return true;
    case Screen::staff_decision: draw_staff_decision(l, state, c, f, view, targets, post); return true;
    case Screen::revocation_confirm: draw_revocation_confirm(l, c, f, targets, post); return true;
    case Screen::choose_reason: draw_choose_reason(l, state, c, f, targets, post); return true;
    case Screen::insert_token:
      if (state.operation) draw_insert_token(l, state, c, f);
      return true;
    case Screen::token_pin: draw_token_pin(l, state, c, f, view, targets, post); return true;
    case Screen::token_working: draw_token_working(l, state, c, f); return true;
    case Screen::remove_token: draw_remove_token(l, c, f); return true;
    case Screen::soft_grant: draw_soft_grant(l, state, c, f, view, targets, post); return true;
    case Screen::transaction_done: draw_done(l, state, c, f, targets, post); return true;
    case Screen::transaction_failed: draw_failed(l, state, c, f, targets, post); return true;
    default: return false;
  }
}

void draw_staff_credentials(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets, float top,
                            KioskInput& input) {
  const float cx = l.width / 2;
  const float field_w = l.px(560);
  const float left = cx - field_w - l.px(24);
  draw_field(l, f, targets, "staff.id", c.text("tx.staff.id"), input.staff_id, input.focus == 0,
             ImVec2(left, top + l.px(16)), field_w, 0, input);
  draw_field(l, f, targets, "staff.password", c.text("tx.staff.password"), dots(c, input.staff_password.size()),
             input.focus == 1, ImVec2(cx + l.px(24), top + l.px(16)), field_w, 1, input);
  draw_staff_keyboard(l, c, f, targets, top + l.px(176), input);
}

}  // namespace kiosk::ui
