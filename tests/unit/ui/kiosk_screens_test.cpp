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
  void frame(ScriptRunner* script = nullptr) {
    SDL_Event e;
    while (SDL_PollEvent(&e) != 0) window_->process_event(e);
    window_->begin_frame();
    targets_.begin_frame();
    std::vector<Event> intents;
    draw_kiosk(session_.state(), catalogs_.get(session_.state().language), fonts_, test_view(), targets_,
               [&intents](const Event& ev) { intents.push_back(ev); });
    targets_.end_frame();
    window_->render(255, 255, 255);
    if (script != nullptr) {
      const ScriptHost host{.current_screen = [this] { return std::string(to_string(session_.state().screen)); },
                            .set_text = {}};
      script->after_frame(*window_, targets_, host);
    }
    window_->present();
    for (const Event& ev : intents) session_.handle(ev);
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

}  // namespace
}  // namespace kiosk::ui
