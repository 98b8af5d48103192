// Bytes that are not UTF-8 become \xNN, so any text can go into a JSON reply.
#include "text/utf8_escape.hpp"

#include <gtest/gtest.h>

namespace verdictd {
namespace {

using Json = nlohmann::ordered_json;

TEST(Utf8Escape, WellFormedTextIsUnchanged) {
  const std::string text = "ASCII, \xc3\xa9 (U+00E9), \xe2\x82\xac (U+20AC), \xf0\x9f\x94\xa5";
  EXPECT_EQ(escape_invalid_utf8(text), text);
  EXPECT_EQ(escape_invalid_utf8(""), "");
}

TEST(Utf8Escape, EachStrayByteBecomesItsHexValue) {
  EXPECT_EQ(escape_invalid_utf8("\xff"), "\\xff");
  EXPECT_EQ(escape_invalid_utf8("ACC\xc9PT"), "ACC\\xc9PT");  // Latin-1 É
  // Half of é (C3 A9): the lead byte alone, at the end and before ASCII.
  EXPECT_EQ(escape_invalid_utf8("got '\xc3'"), "got '\\xc3'");
  EXPECT_EQ(escape_invalid_utf8("\xc3"), "\\xc3");
  // A continuation byte without its lead.
  EXPECT_EQ(escape_invalid_utf8("\xa9z"), "\\xa9z");
}

TEST(Utf8Escape, OverlongSurrogateAndOutOfRangeFormsAreEscaped) {
  EXPECT_EQ(escape_invalid_utf8("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(escape_invalid_utf8("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong, 3 bytes
  EXPECT_EQ(escape_invalid_utf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // U+D800
  EXPECT_EQ(escape_invalid_utf8("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // U+110000
  EXPECT_EQ(escape_invalid_utf8("\xf5"), "\\xf5");
  // The last of each range is still well-formed.
  EXPECT_EQ(escape_invalid_utf8("\xed\x9f\xbf\xf4\x8f\xbf\xbf"), "\xed\x9f\xbf\xf4\x8f\xbf\xbf");
}

TEST(Utf8Escape, ATruncatedSequenceKeepsWhatFollows) {
  // E2 82 starts a three-byte sequence that "x" cuts short.
  EXPECT_EQ(escape_invalid_utf8("\xe2\x82x\xe2\x82\xac"), "\\xe2\\x82x\xe2\x82\xac");
}

TEST(Utf8Escape, EveryStringAndKeyOfAJsonValueDumps) {
  Json value = {{"ok", false},
                {"error", "bad request: '\xff'"},
                {"nested", {{"list", {"\xc3", 1, "fine"}}, {"k\xe9y", "v"}}}};
  EXPECT_THROW((void)value.dump(), Json::type_error);  // what the control server hit
  escape_invalid_utf8(value);
  EXPECT_EQ(value.dump(), R"({"ok":false,"error":"bad request: '\\xff'",)"
                          R"("nested":{"list":["\\xc3",1,"fine"],"k\\xe9y":"v"}})");
}

}  // namespace
}  // namespace verdictd
