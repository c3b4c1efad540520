// Anchor for the kiosk start-up benchmark: the least a program can do to show a first frame on
// this machine with the same stack (SDL2 window + renderer, clear, present) and no ImGui or fonts.
// Prints one JSON line: {"startup_ms":..,"rss_kib":..}. The kiosk's own figure is reported as a
// ratio to this one, so the number means something on any machine.
#include <SDL.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace {

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  const bool software = argc > 1 && std::strcmp(argv[1], "--software") == 0;
  if (SDL_Init(SDL_INIT_VIDEO) != 0) {
    std::fprintf(stderr, "SDL_Init failed: %s\n", SDL_GetError());
    return 1;
  }
  SDL_Window* window = SDL_CreateWindow("anchor", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 1920, 1080, 0);
  SDL_Renderer* renderer =
      window ? SDL_CreateRenderer(window, -1, software ? SDL_RENDERER_SOFTWARE : SDL_RENDERER_ACCELERATED) : nullptr;
  if (renderer == nullptr) {
    std::fprintf(stderr, "window or renderer failed: %s\n", SDL_GetError());
    return 1;
  }
  SDL_SetRenderDrawColor(renderer, 255, 255, 255, 255);
  SDL_RenderClear(renderer);
  SDL_RenderPresent(renderer);
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"startup_ms\":%.1f,\"rss_kib\":%ld}\n", elapsed, resident_kib());
  SDL_DestroyRenderer(renderer);
  SDL_DestroyWindow(window);
  SDL_Quit();
  return 0;
}
