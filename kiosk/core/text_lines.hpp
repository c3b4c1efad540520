// Reads text one line at a time ("\n" or "\r\n" endings), counting lines from 1, for the parsers
// whose errors name the line (catalogs, scripts).
#pragma once

#include <string_view>

namespace kiosk {

class TextLines {
 public:
  explicit TextLines(std::string_view text) : text_(text) {}

  // The next line without its ending; false when the text is used up.
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    ++number_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
  }

  // The number of the line `next` returned last (1-based).
  [[nodiscard]] int number() const { return number_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  int number_ = 0;
};

}  // namespace kiosk
