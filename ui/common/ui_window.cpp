#include "ui/common/ui_window.hpp"

#include <SDL.h>
#include <backends/imgui_impl_sdl.h>
#include <backends/imgui_impl_sdlrenderer.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <vector>

namespace kiosk::ui {

Result<std::unique_ptr<UiWindow>> UiWindow::create(const WindowOptions& options) {
  std::unique_ptr<UiWindow> ui(new UiWindow());
  SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
  // A touch must not be lost to "first click only focuses the window".
  SDL_SetHint(SDL_HINT_MOUSE_FOCUS_CLICKTHROUGH, "1");
  if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_EVENTS) != 0) {
    return fail("UI_INIT_FAILED", std::string("SDL could not start its video subsystem: ") + SDL_GetError() +
                                      " (is DISPLAY or WAYLAND_DISPLAY set, or SDL_VIDEODRIVER?)");
  }
  ui->sdl_started_ = true;
  Uint32 flags = SDL_WINDOW_SHOWN | SDL_WINDOW_ALLOW_HIGHDPI;
  if (options.fullscreen) flags |= SDL_WINDOW_FULLSCREEN_DESKTOP;
  ui->window_ = SDL_CreateWindow(options.title.c_str(), SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, options.width,
                                 options.height, flags);
  if (ui->window_ == nullptr) {
    return fail("UI_INIT_FAILED", std::string("SDL could not create the window: ") + SDL_GetError());
  }
  if (!options.software_renderer) ui->renderer_ = SDL_CreateRenderer(ui->window_, -1, SDL_RENDERER_ACCELERATED);
  if (ui->renderer_ == nullptr) ui->renderer_ = SDL_CreateRenderer(ui->window_, -1, SDL_RENDERER_SOFTWARE);
  if (ui->renderer_ == nullptr) {
    return fail("UI_INIT_FAILED", std::string("SDL could not create a renderer: ") + SDL_GetError());
  }
  SDL_RendererInfo info{};
  if (SDL_GetRendererInfo(ui->renderer_, &info) == 0 && info.name != nullptr) ui->renderer_name_ = info.name;

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ui->imgui_started_ = true;
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // no imgui.ini: the layout is code, and the kiosk's disk is not a scratchpad
  io.LogFilename = nullptr;
  if (!ImGui_ImplSDL2_InitForSDLRenderer(ui->window_)) {
    return fail("UI_INIT_FAILED", "the ImGui SDL2 platform backend did not start");
  }
  ui->platform_started_ = true;
  if (!ImGui_ImplSDLRenderer_Init(ui->renderer_)) {
    return fail("UI_INIT_FAILED", "the ImGui SDL_Renderer backend did not start");
  }
  ui->renderer_backend_started_ = true;
  return ui;
}

UiWindow::~UiWindow() {
  if (renderer_backend_started_) ImGui_ImplSDLRenderer_Shutdown();
  if (platform_started_) ImGui_ImplSDL2_Shutdown();
  if (imgui_started_) ImGui::DestroyContext();
  if (renderer_ != nullptr) SDL_DestroyRenderer(renderer_);
  if (window_ != nullptr) SDL_DestroyWindow(window_);
  if (sdl_started_) SDL_Quit();
}

void UiWindow::process_event(const SDL_Event& event) {
  switch (event.type) {
    case SDL_MOUSEMOTION: pointer_ = {static_cast<float>(event.motion.x), static_cast<float>(event.motion.y)}; break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
      pointer_ = {static_cast<float>(event.button.x), static_cast<float>(event.button.y)};
      if (event.button.button == SDL_BUTTON_LEFT) left_button_down_ = event.type == SDL_MOUSEBUTTONDOWN;
      break;
    default: break;
  }
  ImGui_ImplSDL2_ProcessEvent(&event);
}

void UiWindow::begin_frame() {
  ImGui_ImplSDLRenderer_NewFrame();
  ImGui_ImplSDL2_NewFrame();
  if (pointer_) ImGui::GetIO().MousePos = ImVec2(pointer_->first, pointer_->second);
  // The SDL backend reads a held button from SDL's device state, which pushed (scripted) events
  // do not change: keep a press held until its release arrives, as a real touch would.
  if (left_button_down_) ImGui::GetIO().MouseDown[0] = true;
  ImGui::NewFrame();
}

void UiWindow::render(unsigned char red, unsigned char green, unsigned char blue) {
  ImGui::Render();
  SDL_SetRenderDrawColor(renderer_, red, green, blue, 255);
  SDL_RenderClear(renderer_);
  ImGui_ImplSDLRenderer_RenderDrawData(ImGui::GetDrawData());
}

void UiWindow::present() { SDL_RenderPresent(renderer_); }

Result<void> UiWindow::screenshot(const std::filesystem::path& file) const {
  int width = 0;
  int height = 0;
  if (SDL_GetRendererOutputSize(renderer_, &width, &height) != 0 || width <= 0 || height <= 0) {
    return fail("SCREENSHOT_FAILED", std::string("cannot get the frame size: ") + SDL_GetError());
  }
  const std::size_t stride = static_cast<std::size_t>(width) * 4;
  std::vector<unsigned char> pixels(stride * static_cast<std::size_t>(height));
  // ABGR8888 is R, G, B, A in memory order on little-endian machines: what stb expects.
  if (SDL_RenderReadPixels(renderer_, nullptr, SDL_PIXELFORMAT_ABGR8888, pixels.data(), static_cast<int>(stride)) !=
      0) {
    return fail("SCREENSHOT_FAILED", std::string("cannot read the frame: ") + SDL_GetError());
  }
  // Some renderers leave alpha at 0; a screenshot is an opaque picture of the screen.
  for (std::size_t i = 3; i < pixels.size(); i += 4) pixels[i] = 255;
  if (stbi_write_png(file.c_str(), width, height, 4, pixels.data(), static_cast<int>(stride)) == 0) {
    return fail("SCREENSHOT_FAILED", "cannot write \"" + file.string() + "\"; does the screenshot directory exist?");
  }
  return {};
}

void UiWindow::push_key(KeyChord chord) const {
  if (chord == KeyChord::close) {
    SDL_Event quit{};
    quit.type = SDL_QUIT;
    SDL_PushEvent(&quit);
    return;
  }
  SDL_Keycode sym = SDLK_ESCAPE;
  Uint16 mod = KMOD_NONE;
  if (chord == KeyChord::alt_f4) {
    sym = SDLK_F4;
    mod = KMOD_LALT;
  } else if (chord == KeyChord::ctrl_alt_shift_q) {
    sym = SDLK_q;
    mod = KMOD_LCTRL | KMOD_LALT | KMOD_LSHIFT;
  }
  for (const Uint32 type : {Uint32{SDL_KEYDOWN}, Uint32{SDL_KEYUP}}) {
    SDL_Event key{};
    key.type = type;
    key.key.windowID = SDL_GetWindowID(window_);
    key.key.state = type == SDL_KEYDOWN ? SDL_PRESSED : SDL_RELEASED;
    key.key.keysym.sym = sym;
    key.key.keysym.scancode = SDL_GetScancodeFromKey(sym);
    key.key.keysym.mod = mod;
    SDL_PushEvent(&key);
  }
}

void UiWindow::push_tap(float x, float y) const {
  push_press(x, y, true);
  push_press(x, y, false);
}

void UiWindow::push_press(float x, float y, bool down) const {
  const Uint32 window_id = SDL_GetWindowID(window_);
  const int ix = static_cast<int>(x);
  const int iy = static_cast<int>(y);
  if (down) {
    SDL_Event motion{};
    motion.type = SDL_MOUSEMOTION;
    motion.motion.windowID = window_id;
    motion.motion.x = ix;
    motion.motion.y = iy;
    SDL_PushEvent(&motion);
  }
  SDL_Event button{};
  button.type = down ? SDL_MOUSEBUTTONDOWN : SDL_MOUSEBUTTONUP;
  button.button.windowID = window_id;
  button.button.button = SDL_BUTTON_LEFT;
  button.button.state = down ? SDL_PRESSED : SDL_RELEASED;
  button.button.clicks = 1;
  button.button.x = ix;
  button.button.y = iy;
  SDL_PushEvent(&button);
}

bool UiWindow::recreate_font_texture() {
  ImGui_ImplSDLRenderer_DestroyFontsTexture();
  return ImGui_ImplSDLRenderer_CreateFontsTexture();
}

}  // namespace kiosk::ui
