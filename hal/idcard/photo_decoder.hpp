// The chip photo is 1024 bytes of the proprietary "WLT" format, which only licensed vendor
// libraries decode (reference/hal.md §1.7). The decoder is therefore a plug-in: a vendor .so
// loaded at run time from a configured path, never a link dependency. Without one the kiosk keeps
// working and says the decoder is not installed; it never shows a picture it made up.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard {

// A decoded chip photo: 102 x 126 pixels, RGB, rows top to bottom.
struct DecodedPhoto {
  static constexpr int kWidth = 102;
  static constexpr int kHeight = 126;
  std::vector<std::uint8_t> rgb;  // kWidth * kHeight * 3 bytes
};

// The vendor ABI this loader speaks, as vendors' Linux SDKs export it (libwlt2bmp.so and kin):
//   int <symbol>(const unsigned char* wlt /*1024 bytes*/, unsigned char* bmp /*38862 bytes*/, int save_file /*0*/)
// returning 1 on success and writing a 24-bit bottom-up BMP file image of 102 x 126 pixels.
struct PhotoDecoderConfig {
  std::string library_path;       // empty: no decoder installed
  std::string symbol = "unpack";  // the vendor's entry point
};

class PhotoDecoder {
 public:
  // PHOTO_DECODER_NOT_INSTALLED (no path configured, or no file there), PHOTO_DECODER_LOAD_FAILED
  // (dlopen failed: wrong architecture, missing dependency), PHOTO_DECODER_SYMBOL_MISSING.
  static Result<PhotoDecoder> load(const PhotoDecoderConfig& config);

  // PHOTO_WLT_LENGTH (not 1024 bytes), PHOTO_DECODE_FAILED (the vendor said no),
  // PHOTO_DECODE_BAD_OUTPUT (what came back is not the documented 102 x 126 24-bit BMP).
  Result<DecodedPhoto> decode(std::span<const std::uint8_t> wlt) const;

  PhotoDecoder(PhotoDecoder&&) noexcept;
  PhotoDecoder& operator=(PhotoDecoder&&) noexcept;
  ~PhotoDecoder();

 private:
  struct Library;
  explicit PhotoDecoder(std::unique_ptr<Library> library);
  std::unique_ptr<Library> library_;
};

// Checks and converts a BMP file image of the documented shape to top-down RGB (exposed for tests
// and the fuzzer: the bytes come from a vendor library we do not control).
Result<DecodedPhoto> photo_from_bmp(std::span<const std::uint8_t> bmp);

}  // namespace kiosk::hal::idcard
