// A stand-in for a reader vendor's WLT decoder library, built only for the tests: it exports the
// vendor ABI the plug-in loader speaks. It cannot decode WLT (nobody outside the licensees can);
// it writes a BMP whose pixels are a function of the input bytes, so the test can check that the
// loader calls it, passes the bytes and converts the answer. Byte 0 = 0xEE makes it refuse.
#include <cstdint>
#include <cstring>

extern "C" __attribute__((visibility("default"))) int unpack(const unsigned char* wlt, unsigned char* bmp, int) {
  if (wlt[0] == 0xEE) return -1;
  constexpr int kWidth = 102;
  constexpr int kHeight = 126;
  constexpr int kRow = 308;
  std::memset(bmp, 0, 54 + kRow * kHeight);
  const auto put32 = [&](int at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bmp[at + i] = static_cast<unsigned char>(v >> (8 * i));
  };
  bmp[0] = 'B';
  bmp[1] = 'M';
  put32(2, 54 + kRow * kHeight);
  put32(10, 54);
  put32(14, 40);
  put32(18, kWidth);
  put32(22, kHeight);  // bottom-up
  bmp[26] = 1;
  bmp[28] = 24;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      unsigned char* pixel = bmp + 54 + y * kRow + x * 3;
      pixel[0] = wlt[(y * kWidth + x) % 1024];   // blue
      pixel[1] = static_cast<unsigned char>(y);  // green: the row as stored (bottom-up)
      pixel[2] = static_cast<unsigned char>(x);  // red
    }
  }
  return 1;
}
