#include "hal/idcard/photo_decoder.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <utility>

#include "hal/idcard/id_document.hpp"

namespace kiosk::hal::idcard {
namespace {

using VendorUnpack = int (*)(const unsigned char*, unsigned char*, int);

constexpr std::size_t kBmpHeaderBytes = 54;
constexpr std::size_t kBmpRowBytes = (DecodedPhoto::kWidth * 3 + 3) / 4 * 4;  // rows padded to 4 bytes: 308
constexpr std::size_t kBmpFileBytes = kBmpHeaderBytes + kBmpRowBytes * DecodedPhoto::kHeight;  // 38862

std::uint32_t le32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint32_t>(bytes[at]) | static_cast<std::uint32_t>(bytes[at + 1]) << 8 |
         static_cast<std::uint32_t>(bytes[at + 2]) << 16 | static_cast<std::uint32_t>(bytes[at + 3]) << 24;
}
std::uint16_t le16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] | bytes[at + 1] << 8);
}

}  // namespace

struct PhotoDecoder::Library {
  void* handle = nullptr;
  VendorUnpack unpack = nullptr;
  ~Library() {
    if (handle != nullptr) ::dlclose(handle);
  }
};

PhotoDecoder::PhotoDecoder(std::unique_ptr<Library> library) : library_(std::move(library)) {}
PhotoDecoder::PhotoDecoder(PhotoDecoder&&) noexcept = default;
PhotoDecoder& PhotoDecoder::operator=(PhotoDecoder&&) noexcept = default;
PhotoDecoder::~PhotoDecoder() = default;

Result<PhotoDecoder> PhotoDecoder::load(const PhotoDecoderConfig& config) {
  if (config.library_path.empty()) {
    return fail("PHOTO_DECODER_NOT_INSTALLED", "no ID-card photo decoder is configured (the vendor's WLT library)");
  }
  std::error_code ignored;
  if (!std::filesystem::exists(config.library_path, ignored)) {
    return fail("PHOTO_DECODER_NOT_INSTALLED",
                "the configured photo decoder " + config.library_path + " is not installed");
  }
  auto library = std::make_unique<Library>();
  library->handle = ::dlopen(config.library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library->handle == nullptr) {
    const char* reason = ::dlerror();
    return fail("PHOTO_DECODER_LOAD_FAILED",
                "cannot load the photo decoder " + config.library_path + ": " + (reason ? reason : "unknown reason"));
  }
  library->unpack = reinterpret_cast<VendorUnpack>(::dlsym(library->handle, config.symbol.c_str()));
  if (library->unpack == nullptr) {
    return fail("PHOTO_DECODER_SYMBOL_MISSING",
                "the photo decoder " + config.library_path + " has no entry point '" + config.symbol + "'");
  }
  return PhotoDecoder(std::move(library));
}

Result<DecodedPhoto> PhotoDecoder::decode(std::span<const std::uint8_t> wlt) const {
  if (wlt.size() != kPhotoBytes) {
    return fail("PHOTO_WLT_LENGTH", "a chip photo is 1024 bytes, got " + std::to_string(wlt.size()));
  }
  // A guard band after the documented size catches a vendor library that writes past it.
  std::vector<std::uint8_t> bmp(kBmpFileBytes + 4096, 0);
  const int status = library_->unpack(wlt.data(), bmp.data(), 0);
  if (status != 1)
    return fail("PHOTO_DECODE_FAILED", "the vendor decoder refused the photo (status " + std::to_string(status) + ")");
  bmp.resize(kBmpFileBytes);
  return photo_from_bmp(bmp);
}

Result<DecodedPhoto> photo_from_bmp(std::span<const std::uint8_t> bmp) {
  const auto bad = [](const std::string& what) -> Result<DecodedPhoto> {
    return fail("PHOTO_DECODE_BAD_OUTPUT", "the decoded photo is not a 102 x 126 24-bit BMP: " + what);
  };
  if (bmp.size() < kBmpFileBytes) return bad("too short");
  if (bmp[0] != 'B' || bmp[1] != 'M') return bad("no BM signature");
  const std::uint32_t pixel_offset = le32(bmp, 10);
  const auto width = static_cast<std::int32_t>(le32(bmp, 18));
  const auto height = static_cast<std::int32_t>(le32(bmp, 22));
  if (width != DecodedPhoto::kWidth || (height != DecodedPhoto::kHeight && height != -DecodedPhoto::kHeight)) {
    return bad("wrong size");
  }
  if (le16(bmp, 28) != 24 || le32(bmp, 30) != 0) return bad("not uncompressed 24-bit");
  if (pixel_offset < kBmpHeaderBytes || pixel_offset + kBmpRowBytes * DecodedPhoto::kHeight > bmp.size()) {
    return bad("pixel data out of range");
  }
  DecodedPhoto photo;
  photo.rgb.resize(static_cast<std::size_t>(DecodedPhoto::kWidth) * DecodedPhoto::kHeight * 3);
  const bool bottom_up = height > 0;
  for (int row = 0; row < DecodedPhoto::kHeight; ++row) {
    const int source_row = bottom_up ? DecodedPhoto::kHeight - 1 - row : row;
    const std::size_t source = pixel_offset + static_cast<std::size_t>(source_row) * kBmpRowBytes;
    for (int x = 0; x < DecodedPhoto::kWidth; ++x) {
      const std::size_t in = source + static_cast<std::size_t>(x) * 3;
      const std::size_t out = (static_cast<std::size_t>(row) * DecodedPhoto::kWidth + x) * 3;
      photo.rgb[out] = bmp[in + 2];  // BMP stores blue, green, red
      photo.rgb[out + 1] = bmp[in + 1];
      photo.rgb[out + 2] = bmp[in];
    }
  }
  return photo;
}

}  // namespace kiosk::hal::idcard
