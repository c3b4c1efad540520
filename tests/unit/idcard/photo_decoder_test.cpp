// The WLT photo-decoder plug-in: a missing decoder is said plainly, a broken library or a missing
// entry point is refused, and what a vendor library returns is checked before it is shown.
#include "hal/idcard/photo_decoder.hpp"

#include "hal/idcard/id_document.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace kiosk::hal::idcard {
namespace {

TEST(PhotoDecoder, NotConfiguredOrAbsentIsNotInstalled) {
  auto none = PhotoDecoder::load({});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "PHOTO_DECODER_NOT_INSTALLED");
  auto absent = PhotoDecoder::load({.library_path = "/nonexistent/libwlt2bmp.so", .symbol = "unpack"});
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, "PHOTO_DECODER_NOT_INSTALLED");
}

TEST(PhotoDecoder, ABrokenLibraryIsRefused) {
  const auto file = std::filesystem::temp_directory_path() / "photo_decoder_test_not_elf.so";
  std::ofstream(file) << "not a shared library";
  auto broken = PhotoDecoder::load({.library_path = file.string(), .symbol = "unpack"});
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, "PHOTO_DECODER_LOAD_FAILED");
  std::filesystem::remove(file);
}

TEST(PhotoDecoder, AMissingEntryPointIsRefused) {
  auto wrong = PhotoDecoder::load({.library_path = FAKE_WLT_VENDOR_LIBRARY, .symbol = "GetBmp"});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "PHOTO_DECODER_SYMBOL_MISSING");
}

TEST(PhotoDecoder, CallsTheVendorAndConvertsItsBmp) {
  auto decoder = PhotoDecoder::load({.library_path = FAKE_WLT_VENDOR_LIBRARY, .symbol = "unpack"});
  ASSERT_TRUE(decoder) << decoder.error().to_string();
  std::vector<std::uint8_t> wlt(kPhotoBytes);
  for (std::size_t i = 0; i < wlt.size(); ++i) wlt[i] = static_cast<std::uint8_t>(i * 7);
  auto photo = decoder->decode(wlt);
  ASSERT_TRUE(photo) << photo.error().to_string();
  ASSERT_EQ(photo->rgb.size(), 102u * 126u * 3u);
  // Top-left pixel of the picture is the BMP's last stored row (bottom-up), converted to RGB.
  EXPECT_EQ(photo->rgb[0], 0);    // red = x
  EXPECT_EQ(photo->rgb[1], 125);  // green = stored row 125
  EXPECT_EQ(photo->rgb[2], wlt[(125 * 102) % 1024]);

  EXPECT_EQ(decoder->decode(std::vector<std::uint8_t>(100)).error().code, "PHOTO_WLT_LENGTH");
  wlt[0] = 0xEE;
  EXPECT_EQ(decoder->decode(wlt).error().code, "PHOTO_DECODE_FAILED");
}

TEST(PhotoFromBmp, RefusesAnythingButThe102x126x24Shape) {
  std::vector<std::uint8_t> bmp(54 + 308 * 126, 0);
  bmp[0] = 'B';
  bmp[1] = 'M';
  bmp[10] = 54;
  bmp[18] = 102;
  bmp[22] = 126;
  bmp[28] = 24;
  EXPECT_TRUE(photo_from_bmp(bmp));
  auto wrong = bmp;
  wrong[18] = 100;
  EXPECT_EQ(photo_from_bmp(wrong).error().code, "PHOTO_DECODE_BAD_OUTPUT");
  wrong = bmp;
  wrong[28] = 8;
  EXPECT_EQ(photo_from_bmp(wrong).error().code, "PHOTO_DECODE_BAD_OUTPUT");
  wrong = bmp;
  wrong[10] = 0xFF;
  wrong[11] = 0xFF;  // pixel data beyond the end
  EXPECT_EQ(photo_from_bmp(wrong).error().code, "PHOTO_DECODE_BAD_OUTPUT");
  EXPECT_EQ(photo_from_bmp(std::vector<std::uint8_t>(10)).error().code, "PHOTO_DECODE_BAD_OUTPUT");
}

}  // namespace
}  // namespace kiosk::hal::idcard
