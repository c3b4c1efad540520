// The kiosk screens drawn for real (SDL dummy video driver, software renderer, 1920x1080):
// touch-size rules on every screen, and a scripted tap path through the touch-target registry.
#include "ui/kiosk/kiosk_screens.hpp"

#include <SDL.h>
#include <imgui.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "ui/common/fonts.hpp"
#include "ui/common/script_runner.hpp"
#include "ui/common/ui_window.hpp"
#include "ui/kiosk/engineer_screens.hpp"

namespace kiosk::ui {
namespace {

KioskView test_view() {
  KioskView view;
  view.device_id = "SIM-0001";
  return view;
}

class KioskScreens : public testing::Test {
 protected:
  void SetUp() override {
    setenv("SDL_VIDEODRIVER", "dummy", 1);
    auto catalogs = load_catalogs(KIOSK_I18N_DIR);
    ASSERT_TRUE(catalogs) << catalogs.error().to_string();
    catalogs_ = std::move(*catalogs);
    auto window =
        UiWindow::create(WindowOptions{.title = "test", .width = 1920, .height = 1080, .software_renderer = true});
    ASSERT_TRUE(window) << window.error().to_string();
    window_ = std::move(*window);
    auto fonts = build_font_atlas(
        *ImGui::GetIO().Fonts,
        FontSpec{.file = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", .index = 2, .base_px = 32},
        catalogs_.all_texts());
    ASSERT_TRUE(fonts) << fonts.error().to_string();
    fonts_ = KioskFonts{fonts->base, fonts->large, fonts->title};
    apply_kiosk_style();
  }

  // One turn of the kiosk loop: input, draw, then the intents into the session.
  void frame(ScriptRunner* script = nullptr) { frame_of(session_, test_view(), script); }
  void frame_of(KioskSession& session, const KioskView& view, ScriptRunner* script = nullptr) {
    SDL_Event e;
    while (SDL_PollEvent(&e) != 0) window_->process_event(e);
    window_->begin_frame();
    targets_.begin_frame();
    std::vector<Event> intents;
    draw_kiosk(session.state(), catalogs_.get(session.state().language), fonts_, view, targets_,
               [&intents](const Event& ev) { intents.push_back(ev); });
    targets_.end_frame();
    window_->render(255, 255, 255);
    if (script != nullptr) {
      const ScriptHost host{.current_screen = [&session] { return std::string(to_string(session.state().screen)); },
                            .set_text = {}};
      script->after_frame(*window_, targets_, host);
    }
    window_->present();
    for (const Event& ev : intents) session.handle(ev);
  }

  void expect_touch_rules() {
    const auto problems = check_touch_rules(targets_.targets());
    EXPECT_TRUE(problems.empty()) << problems.front();
  }

  CatalogSet catalogs_;
  std::unique_ptr<UiWindow> window_;
  KioskFonts fonts_;
  TouchTargets targets_;
  ManualClock clock_;
  KioskSession session_{KioskSettings{}, clock_};
};

TEST_F(KioskScreens, ScriptedTapsReachTheIdentityCheck) {
  auto script = parse_script(R"(wait_frames 1
expect_screen attract
tap start
wait_frames 3
expect_screen choose_operation
tap op.freeze
wait_frames 3
expect_screen place_card
quit
)",
                             "test.script");
  ASSERT_TRUE(script) << script.error().to_string();
  ScriptRunner runner(std::move(*script), std::filesystem::temp_directory_path());
  for (int i = 0; i < 60 && runner.active(); ++i) frame(&runner);
  EXPECT_EQ(runner.status(), ScriptRunner::Status::quit);
  EXPECT_EQ(runner.exit_code(), kScriptExitQuit);
  EXPECT_EQ(session_.state().screen, Screen::place_card);
  ASSERT_TRUE(session_.state().operation);
  EXPECT_EQ(*session_.state().operation, Operation::freeze);
}

TEST_F(KioskScreens, ExpectScreenMismatchFailsWithExitCode3) {
  auto script = parse_script("wait_frames 1\nexpect_screen choose_operation\n", "test.script");
  ASSERT_TRUE(script);
  ScriptRunner runner(std::move(*script), std::filesystem::temp_directory_path());
  for (int i = 0; i < 10 && runner.active(); ++i) frame(&runner);
  EXPECT_EQ(runner.status(), ScriptRunner::Status::failed);
  EXPECT_EQ(runner.exit_code(), kScriptExitExpectationFailed);
}

TEST_F(KioskScreens, EveryScreenMeetsTheTouchRules) {
  frame();
  frame();
  EXPECT_TRUE(targets_.find("start"));
  EXPECT_TRUE(targets_.find("lang.toggle"));
  EXPECT_FALSE(targets_.find("end_session"));  // nothing to end on the attract screen
  expect_touch_rules();

  session_.handle(event::Start{});
  frame();
  for (const Operation op : kAllOperations) EXPECT_TRUE(targets_.find("op." + std::string(to_string(op))));
  EXPECT_TRUE(targets_.find("end_session"));
  expect_touch_rules();

  session_.handle(event::SetLanguage{Language::en});  // longer English labels
  frame();
  expect_touch_rules();

  session_.handle(event::ChooseOperation{Operation::revoke});
  frame();
  EXPECT_TRUE(targets_.find("back"));
  expect_touch_rules();

  clock_.advance(std::chrono::seconds{91});
  session_.handle(event::Tick{});
  ASSERT_TRUE(session_.state().idle_warning);
  frame();
  EXPECT_TRUE(targets_.find("still_here"));
  EXPECT_FALSE(targets_.find("back"));  // under the overlay: not tappable
  expect_touch_rules();
}

// The identity screens in both languages, every failure with its own title and action, and the
// retry button only where a retry is allowed (REQ-06, REQ-07).
TEST_F(KioskScreens, IdentityScreensMeetTheTouchRules) {
  for (const Language language : {Language::zh_CN, Language::en}) {
    session_.handle(event::EndSession{});
    session_.handle(event::Start{});
    session_.handle(event::SetLanguage{language});
    session_.handle(event::ChooseOperation{Operation::apply});
    frame();
    EXPECT_TRUE(targets_.find("back"));
    expect_touch_rules();
    session_.handle(event::CardReaderStatus{false, "IDCARD_NO_DEVICE"});
    frame();
    expect_touch_rules();
    const auto attempt = session_.state().identity_attempt;
    session_.handle(event::CardDetected{attempt});
    frame();
    EXPECT_EQ(session_.state().screen, Screen::reading_card);
    session_.handle(event::IdentityVerified{attempt, IdentitySummary{.document_type = "foreign-pr-2023",
                                                                     .masked_name = "T*** *****",
                                                                     .masked_number = "9310**********0023",
                                                                     .valid_until = "2033-03-14",
                                                                     .nciis_result = "",
                                                                     .photo = {}}});
    frame();
    EXPECT_TRUE(targets_.find("identity.continue"));
    expect_touch_rules();

    for (int p = 0; p <= static_cast<int>(IdentityProblem::nciis_unavailable); ++p) {
      const auto problem = static_cast<IdentityProblem>(p);
      session_.handle(event::EndSession{});
      session_.handle(event::Start{});
      session_.handle(event::SetLanguage{language});
      session_.handle(event::ChooseOperation{Operation::apply});
      session_.handle(event::IdentityFailed{session_.state().identity_attempt, problem, "CODE"});
      frame();
      ASSERT_EQ(session_.state().screen, Screen::identity_failed);
      EXPECT_EQ(targets_.find("identity.retry").has_value(), identity_retry_allowed(problem)) << to_string(problem);
      const auto& catalog = catalogs_.get(language);
      const std::string key = "identity.problem." + std::string(to_string(problem));
      EXPECT_NE(catalog.text(key + ".title"), key + ".title") << "missing text for " << key;
      EXPECT_NE(catalog.text(key + ".action"), key + ".action") << "missing text for " << key;
      expect_touch_rules();
    }
  }
}

TEST_F(KioskScreens, ScreenshotWritesAPng) {
  frame();
  const auto file = std::filesystem::temp_directory_path() / "kiosk_screens_test_attract.png";
  std::filesystem::remove(file);
  window_->begin_frame();
  targets_.begin_frame();
  draw_kiosk(session_.state(), catalogs_.get(Language::zh_CN), fonts_, test_view(), targets_, [](const Event&) {});
  targets_.end_frame();
  window_->render(255, 255, 255);
  ASSERT_TRUE(window_->screenshot(file));
  window_->present();
  EXPECT_GT(std::filesystem::file_size(file), 10'000u);
  std::filesystem::remove(file);
}

// The engineer entry needs the staff check, which comes with the transaction services; the
// engineer screens never use them for a transaction.
class NoTransactions : public TransactionPort {
 public:
  [[nodiscard]] std::vector<Medium> media_allowed(Operation) const override { return {}; }
  Result<OpenedTransaction> open(Operation, Medium) override { return fail("TEST_PORT_UNUSED", "not used"); }
  Result<workflow::Transaction::Completion> complete(StepId, StepInput) override {
    return fail("TEST_PORT_UNUSED", "not used");
  }
  void abort(std::string_view) override {}
};

TEST_F(KioskScreens, HoldingTheHiddenCornerOpensTheEngineerEntry) {
  frame();
  frame();
  const auto corner = targets_.find("engineer.corner");
  ASSERT_TRUE(corner);
  expect_touch_rules();
  window_->push_press(corner->centre_x(), corner->centre_y(), true);
  for (int i = 0; i < 3; ++i) frame();
  EXPECT_EQ(session_.state().screen, Screen::attract);  // held, not tapped: nothing starts
  clock_.advance(std::chrono::seconds{3});
  session_.handle(event::Tick{});
  // This session has no staff check with head office: nobody gets in.
  EXPECT_EQ(session_.state().screen, Screen::engineer_unavailable);
  window_->push_press(corner->centre_x(), corner->centre_y(), false);
  for (int i = 0; i < 3; ++i) frame();
  EXPECT_EQ(session_.state().screen, Screen::engineer_unavailable);
  EXPECT_FALSE(targets_.find("staff.submit"));
  expect_touch_rules();
  const auto exit = targets_.find("back");
  ASSERT_TRUE(exit);
  window_->push_tap(exit->centre_x(), exit->centre_y());
  for (int i = 0; i < 3; ++i) frame();
  EXPECT_EQ(session_.state().screen, Screen::attract);
}

TEST_F(KioskScreens, AShortTouchOnTheCornerStartsLikeAnywhereElse) {
  auto script = parse_script("wait_frames 2\ntap engineer.corner\nwait_frames 3\nexpect_screen choose_operation\n",
                             "corner.script");
  ASSERT_TRUE(script);
  ScriptRunner runner(std::move(*script), std::filesystem::temp_directory_path());
  for (int i = 0; i < 20 && runner.active(); ++i) frame(&runner);
  EXPECT_EQ(runner.status(), ScriptRunner::Status::done);
}

TEST_F(KioskScreens, ScriptedHoldKeepsThePressDownUntilItsTimeIsUp) {
  auto script = parse_script("wait_frames 2\nhold engineer.corner 300\nwait_frames 3\n", "hold.script");
  ASSERT_TRUE(script);
  ScriptRunner runner(std::move(*script), std::filesystem::temp_directory_path());
  const auto start = std::chrono::steady_clock::now();
  while (runner.active() && std::chrono::steady_clock::now() - start < std::chrono::milliseconds{150}) frame(&runner);
  ASSERT_TRUE(runner.active());
  EXPECT_EQ(session_.state().screen, Screen::attract);  // still held: no tap
  clock_.advance(std::chrono::seconds{3});
  session_.handle(event::Tick{});
  EXPECT_EQ(session_.state().screen, Screen::engineer_unavailable);
  for (int i = 0; i < 1000 && runner.active(); ++i) frame(&runner);
  EXPECT_EQ(runner.status(), ScriptRunner::Status::done);
  EXPECT_EQ(session_.state().screen, Screen::engineer_unavailable);  // the release started nothing
}

TEST_F(KioskScreens, EngineerScreensMeetTheTouchRulesAndSubmitTheTypedSecrets) {
  NoTransactions port;
  KioskInput input;
  std::vector<std::string> submitted;
  KioskView view = test_view();
  view.input = &input;
  view.submit_staff = [&submitted](std::string& id, std::string& password) {
    submitted = {id, password};
    id.clear();
    password.clear();
  };
  for (const Language language : {Language::zh_CN, Language::en}) {
    KioskSession session(KioskSettings{}, clock_, &port);
    session.handle(event::EngineerCornerHold{true});
    clock_.advance(std::chrono::seconds{3});
    session.handle(event::Tick{});
    session.handle(event::SetLanguage{language});
    ASSERT_EQ(session.state().screen, Screen::engineer_sign_in);
    frame_of(session, view);
    frame_of(session, view);
    for (const char* id : {"staff.id", "staff.password", "key.A", "key.del", "back", "staff.submit", "end_session"}) {
      EXPECT_TRUE(targets_.find(id)) << id;
    }
    // The sign-in's fields and keyboard are the transaction's staff sign-in's (smaller than the
    // investor touch rule, for staff); no touch-rule check here, as for that screen.

    input.staff_id = "E1024";
    input.staff_password = "pw";
    const auto submit = targets_.find("staff.submit");
    ASSERT_TRUE(submit);
    window_->push_tap(submit->centre_x(), submit->centre_y());
    for (int i = 0; i < 3; ++i) frame_of(session, view);
    ASSERT_EQ(session.state().screen, Screen::engineer_verifying);
    EXPECT_EQ(submitted, (std::vector<std::string>{"E1024", "pw"}));
    EXPECT_TRUE(input.staff_password.empty());

    session.handle(event::StaffVerified{session.state().flow_attempt, "E1024", "Li Gong", "reviewer"});
    frame_of(session, view);
    ASSERT_EQ(session.state().screen, Screen::engineer_sign_in);  // refused, with its sentence
    EXPECT_EQ(session.state().staff_problem_code, "ENGINEER_ROLE_NOT_ALLOWED");

    session.handle(event::StaffSignInSubmitted{});
    session.handle(event::StaffVerified{session.state().flow_attempt, "E1024", "Li Gong", "operator"});
    frame_of(session, view);
    ASSERT_EQ(session.state().screen, Screen::engineer_status);
    EXPECT_TRUE(targets_.find("back"));
    expect_touch_rules();  // "no report yet"

    session.handle(EvidenceUploadStatus{.sealed = 3,
                                        .uploading = 1,
                                        .uploaded = 2,
                                        .receipted = 40,
                                        .purged = 7,
                                        .rejected = 1,
                                        .current_package = "3f9a1c2b",
                                        .current_offset = 3 << 20,
                                        .current_length = 8 << 20,
                                        .bytes_per_second = 2.5 * 1024 * 1024,
                                        .last_error_code = "UPLOAD_STALLED"});
    frame_of(session, view);
    expect_touch_rules();

    const auto exit = targets_.find("back");
    ASSERT_TRUE(exit);
    window_->push_tap(exit->centre_x(), exit->centre_y());
    for (int i = 0; i < 3; ++i) frame_of(session, view);
    EXPECT_EQ(session.state().screen, Screen::attract);
    EXPECT_TRUE(session.state().staff_id.empty());
  }
}

TEST_F(KioskScreens, UploadProgressIsFormattedFromTheCatalogs) {
  EXPECT_EQ(upload_percent(0, 0), 0);
  EXPECT_EQ(upload_percent(512, 1024), 50);
  EXPECT_EQ(upload_percent(1023, 1024), 99);  // 100 only when every byte is sent
  EXPECT_EQ(upload_percent(4096, 1024), 100);
  const Catalog& en = catalogs_.get(Language::en);
  EXPECT_EQ(size_text(en, 512), "512 B");
  EXPECT_EQ(size_text(en, 1536), "1.5 KiB");
  EXPECT_EQ(size_text(en, 5u << 20), "5.0 MiB");
  EXPECT_EQ(size_text(en, 3ull << 30), "3.0 GiB");
  EXPECT_EQ(throughput_text(en, 2048), "2.0 KiB/s");
  EXPECT_EQ(throughput_text(en, 3.5 * 1024 * 1024), "3.5 MiB/s");
  EXPECT_EQ(throughput_text(en, -1), "0.0 KiB/s");
  const Catalog& zh = catalogs_.get(Language::zh_CN);
  EXPECT_EQ(zh.text("engineer.upload.progress", {{"sent", "1"}, {"total", "2"}, {"percent", "50"}}),
            "已发送 1 / 2（50%）");
}

}  // namespace
}  // namespace kiosk::ui
