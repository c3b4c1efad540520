// One SDL2 window with an SDL_Renderer and an ImGui context on it (backends imgui_impl_sdl +
// imgui_impl_sdlrenderer). The program owns the event loop: it decides which SDL events are
// allowed (a kiosk swallows Alt+F4 and Escape) and hands the rest to process_event().
//
// Frame order: begin_frame(), draw with ImGui, render(), optional screenshot(), present().
// screenshot() reads the frame just rendered, before present() hands the buffer away.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "kiosk/core/error.hpp"
#include "ui/common/script.hpp"

struct SDL_Window;
struct SDL_Renderer;
union SDL_Event;

namespace kiosk::ui {

struct WindowOptions {
  std::string title;
  bool fullscreen = false;  // desktop fullscreen; width/height are ignored then
  int width = 1920;
  int height = 1080;
  bool software_renderer = false;  // SDL's software renderer: identical pixels run to run
};

class UiWindow {
 public:
  // Initialises SDL video (with SDL's own signal handlers off: the program installs its own),
  // creates the window, the renderer and the ImGui context. UI_INIT_FAILED names what failed.
  static Result<std::unique_ptr<UiWindow>> create(const WindowOptions& options);
  UiWindow(const UiWindow&) = delete;
  UiWindow& operator=(const UiWindow&) = delete;
  ~UiWindow();

  // Feeds one SDL event to ImGui and remembers the pointer position of mouse and touch events.
  void process_event(const SDL_Event& event);
  void begin_frame();
  void render(unsigned char red, unsigned char green, unsigned char blue);
  void present();
  // Writes the frame rendered last as a PNG (SCREENSHOT_FAILED when it cannot).
  Result<void> screenshot(const std::filesystem::path& file) const;
  // Pushes pointer motion, press and release at (x, y) into SDL's event queue: the path a real
  // touch takes (SDL turns touches into mouse events), so a script exercises the real input code.
  void push_tap(float x, float y) const;
  // Like push_tap, but only the press (down) or only the release: a touch held in between.
  void push_press(float x, float y, bool down) const;
  // Pushes the chord's key presses (or, for `close`, SDL_QUIT as a window manager sends it).
  void push_key(KeyChord chord) const;

  // Uploads the ImGui font atlas again after it was rebuilt (call between frames).
  bool recreate_font_texture();

  [[nodiscard]] SDL_Window* window() const { return window_; }
  [[nodiscard]] SDL_Renderer* renderer() const { return renderer_; }
  [[nodiscard]] const std::string& renderer_name() const { return renderer_name_; }

 private:
  UiWindow() = default;
  SDL_Window* window_ = nullptr;
  SDL_Renderer* renderer_ = nullptr;
  std::string renderer_name_;
  bool sdl_started_ = false;
  bool imgui_started_ = false;
  bool platform_started_ = false;
  bool renderer_backend_started_ = false;
  // Imgui 1.86's SDL backend reads the position from SDL_GetMouseState(), which synthetic and
  // some touch events never update; the last event's position is authoritative instead.
  std::optional<std::pair<float, float>> pointer_;
  bool left_button_down_ = false;  // likewise for a held press (SDL_GetMouseState() misses pushed events)
};

}  // namespace kiosk::ui
