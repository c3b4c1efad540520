// Compares kiosk screenshots for the end-to-end tests, so that a test can say "the title area is
// not blank" and "it shows the expected Chinese title" without a human looking at it.
//
//   screenshot_check nonblank SHOT.png X Y W H MIN_INK_PERCENT
//       passes when at least MIN_INK_PERCENT of the region's pixels differ clearly from the
//       region's most common colour (the background): text was drawn there.
//   screenshot_check match SHOT.png X Y W H GOLDEN.png MAX_MEAN_DIFF
//       crops the region and compares it with GOLDEN.png (same W×H); passes when the mean absolute
//       difference per channel (0..255) is at most MAX_MEAN_DIFF.
//   screenshot_check crop SHOT.png X Y W H OUT.png
//       writes the region, for making or refreshing a golden image.
//
// Exit status: 0 pass, 1 check failed, 2 usage or unreadable image.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>

namespace {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<unsigned char> rgb;  // 3 bytes a pixel
};

bool load(const char* path, Image& image) {
  int channels = 0;
  unsigned char* pixels = stbi_load(path, &image.width, &image.height, &channels, 3);
  if (pixels == nullptr) {
    std::fprintf(stderr, "screenshot_check: cannot read %s: %s\n", path, stbi_failure_reason());
    return false;
  }
  image.rgb.assign(pixels, pixels + static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3);
  stbi_image_free(pixels);
  return true;
}

bool crop(const Image& in, int x, int y, int w, int h, Image& out) {
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > in.width || y + h > in.height) {
    std::fprintf(stderr, "screenshot_check: region %d,%d %dx%d is outside the %dx%d image\n", x, y, w, h, in.width,
                 in.height);
    return false;
  }
  out.width = w;
  out.height = h;
  out.rgb.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
  for (int row = 0; row < h; ++row) {
    const auto* src =
        &in.rgb[(static_cast<std::size_t>(y + row) * static_cast<std::size_t>(in.width) + static_cast<std::size_t>(x)) *
                3];
    std::copy(src, src + static_cast<std::size_t>(w) * 3,
              &out.rgb[static_cast<std::size_t>(row) * static_cast<std::size_t>(w) * 3]);
  }
  return true;
}

int nonblank(const Image& region, double min_ink_percent) {
  std::map<unsigned, std::size_t> counts;
  const std::size_t pixels = region.rgb.size() / 3;
  for (std::size_t i = 0; i < pixels; ++i) {
    const unsigned colour =
        (unsigned{region.rgb[i * 3]} << 16) | (unsigned{region.rgb[i * 3 + 1]} << 8) | region.rgb[i * 3 + 2];
    ++counts[colour];
  }
  unsigned background = 0;
  std::size_t most = 0;
  for (const auto& [colour, count] : counts) {
    if (count > most) {
      most = count;
      background = colour;
    }
  }
  std::size_t ink = 0;
  for (std::size_t i = 0; i < pixels; ++i) {
    const int dr = std::abs(int{region.rgb[i * 3]} - static_cast<int>((background >> 16) & 0xFF));
    const int dg = std::abs(int{region.rgb[i * 3 + 1]} - static_cast<int>((background >> 8) & 0xFF));
    const int db = std::abs(int{region.rgb[i * 3 + 2]} - static_cast<int>(background & 0xFF));
    if (dr + dg + db > 96) ++ink;
  }
  const double percent = 100.0 * static_cast<double>(ink) / static_cast<double>(pixels);
  std::printf("nonblank: %.2f%% of the region is ink (need >= %.2f%%), %zu distinct colours\n", percent,
              min_ink_percent, counts.size());
  return percent >= min_ink_percent ? 0 : 1;
}

int match(const Image& region, const Image& golden, double max_mean_diff) {
  if (region.width != golden.width || region.height != golden.height) {
    std::fprintf(stderr, "match: region is %dx%d but the golden image is %dx%d\n", region.width, region.height,
                 golden.width, golden.height);
    return 1;
  }
  double total = 0;
  for (std::size_t i = 0; i < region.rgb.size(); ++i) total += std::abs(int{region.rgb[i]} - int{golden.rgb[i]});
  const double mean = total / static_cast<double>(region.rgb.size());
  std::printf("match: mean absolute difference %.3f (allowed %.3f)\n", mean, max_mean_diff);
  return mean <= max_mean_diff ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr,
                 "usage: screenshot_check nonblank SHOT X Y W H MIN_INK_PERCENT\n"
                 "       screenshot_check match SHOT X Y W H GOLDEN MAX_MEAN_DIFF\n"
                 "       screenshot_check crop SHOT X Y W H OUT\n");
    return 2;
  }
  const std::string mode = argv[1];
  Image shot;
  Image region;
  if (!load(argv[2], shot)) return 2;
  if (!crop(shot, std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]), region)) return 2;
  if (mode == "nonblank") return nonblank(region, std::atof(argv[7]));
  if (mode == "crop") {
    return stbi_write_png(argv[7], region.width, region.height, 3, region.rgb.data(), region.width * 3) != 0 ? 0 : 2;
  }
  if (mode == "match" && argc >= 9) {
    Image golden;
    if (!load(argv[7], golden)) return 2;
    return match(region, golden, std::atof(argv[8]));
  }
  std::fprintf(stderr, "screenshot_check: unknown mode '%s'\n", mode.c_str());
  return 2;
}
