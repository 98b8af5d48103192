// -m string: occurrences within the from/to window (an occurrence must end
// by `to`, as skb_find_text since Linux 6.7), the kernel's case folding,
// the --hex-string syntax and its positioned errors, and the text iptables
// 1.8.9 lists and saves for the same rules.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

std::unique_ptr<Match> string_match(const std::string& options) {
  const Json object = Json::parse(options);
  return build(options, object.begin().key());
}

// The match over raw bytes (the search does not parse them).
bool hits(const Match& match, std::string_view bytes) {
  EvalState state;
  PacketView packet;
  packet.bytes = {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
  return match.matches(packet, state);
}

TEST(String, FindsThePatternAnywhere) {
  const auto admin = string_match(R"({"string": "GET /admin", "algo": "bm"})");
  EXPECT_TRUE(hits(*admin, "....GET /admin HTTP/1.1"));
  EXPECT_TRUE(hits(*admin, "GET /admin"));
  EXPECT_FALSE(hits(*admin, "GET / HTTP/1.1"));
  EXPECT_FALSE(hits(*admin, "GET /admi"));
  const auto negated = string_match(R"({"!string": "GET /admin", "algo": "kmp"})");
  EXPECT_FALSE(hits(*negated, "xxGET /adminxx"));
  EXPECT_TRUE(hits(*negated, "GET / HTTP/1.1"));
}

TEST(String, TheWindowStartsAtFromAndTheOccurrenceEndsByTo) {
  // "abc" at offsets 4-6 of "0123abc89".
  const std::string packet = "0123abc89";
  auto window = [&](int from, int to) {
    return hits(*string_match(R"({"string": "abc", "algo": "bm", "from": )" + std::to_string(from) +
                              R"(, "to": )" + std::to_string(to) + "}"),
                packet);
  };
  EXPECT_TRUE(window(4, 7));   // ends at offset 7: wholly inside
  EXPECT_FALSE(window(4, 6));  // starts inside, runs past `to`
  EXPECT_FALSE(window(5, 9));  // starts before `from`
  EXPECT_TRUE(window(0, 100));
  EXPECT_FALSE(window(0, 0));
  EXPECT_FALSE(window(9, 9));
  // From past the packet's end: nothing to search.
  EXPECT_FALSE(hits(*string_match(R"({"string": "a", "algo": "bm", "from": 100})"), packet));
}

TEST(String, IcaseFoldsAsTheKernelsToupper) {
  const auto icase = string_match(R"({"string": "get /Admin", "algo": "bm", "icase": true})");
  EXPECT_TRUE(hits(*icase, "GET /ADMIN"));
  EXPECT_TRUE(hits(*icase, "get /admin"));
  EXPECT_FALSE(hits(*string_match(R"({"string": "get", "algo": "bm"})"), "GET"));
  // Latin-1 letters fold too (é 0xe9 is É 0xc9); ÷ (0xf7) and × (0xd7) do not.
  const auto latin = string_match(R"({"hex_string": "|e9|", "algo": "kmp", "icase": true})");
  EXPECT_TRUE(hits(*latin, "\xc9"));
  EXPECT_FALSE(
      hits(*string_match(R"({"hex_string": "|f7|", "algo": "bm", "icase": true})"), "\xd7"));
}

TEST(String, HexStringSyntax) {
  const auto crlf = string_match(R"({"hex_string": "a|0d 0A|b\\|", "algo": "bm"})");
  EXPECT_TRUE(hits(*crlf, "xa\r\nb|x"));
  EXPECT_EQ(saved(*crlf), " -m string --hex-string \"|610d0a627c|\" --algo bm");
  EXPECT_EQ(build_error(R"({"hex_string": "ab|0d0", "algo": "bm"})", "hex_string"),
            ": at character 6 of \"ab|0d0\": expected two hexadecimal digits between pipes");
  EXPECT_EQ(build_error(R"({"hex_string": "ab|0d0a", "algo": "bm"})", "hex_string"),
            ": at character 3 of \"ab|0d0a\": this pipe is never closed");
  EXPECT_EQ(build_error(R"({"hex_string": "|0g|", "algo": "bm"})", "hex_string"),
            ": at character 2 of \"|0g|\": expected two hexadecimal digits between pipes");
  EXPECT_EQ(build_error(R"({"hex_string": "||", "algo": "bm"})", "hex_string"),
            ": expected a pattern of 1-128 bytes, got \"||\"");
}

TEST(String, Errors) {
  EXPECT_EQ(build_error(R"({"string": "", "algo": "bm"})", "string"),
            ": expected a pattern of 1-128 bytes, got \"\"");
  EXPECT_EQ(
      build_error(R"({"string": ")" + std::string(129, 'a') + R"(", "algo": "bm"})", "string"),
      ": expected a pattern of 1-128 bytes, got \"" + std::string(129, 'a') + "\"");
  EXPECT_EQ(build_error(R"({"string": "a"})", "string"), ": -m string needs \"algo\"");
  EXPECT_EQ(build_error(R"({"string": "a", "algo": "rk"})", "string"),
            "/algo: expected \"bm\" or \"kmp\", got \"rk\"");  // NOLINT
  EXPECT_EQ(build_error(R"({"string": "a", "algo": "bm", "from": 10, "to": 5})", "string"),
            ": \"from\" 10 is after \"to\" 5");
}

TEST(String, ListAndSaveAsIptables) {
  // iptables-legacy 1.8.9 -L -n and iptables-save of the same rules.
  const auto admin = string_match(R"({"string": "GET /admin", "algo": "bm"})");
  EXPECT_EQ(listed(*admin), R"(STRING match  "GET /admin" ALGO name bm)");
  EXPECT_EQ(saved(*admin), R"( -m string --string "GET /admin" --algo bm)");
  const auto all =
      string_match(R"({"!string": "a b\"c", "algo": "kmp", "from": 10, "to": 100, "icase": true})");
  EXPECT_EQ(listed(*all), R"(STRING match ! "a b\"c" ALGO name kmp FROM 10 TO 100 ICASE)");
  EXPECT_EQ(saved(*all), R"( -m string ! --string "a b\"c" --algo kmp --from 10 --to 100 --icase)");
  // Printable bytes are shown as text however written; the rest in hex.
  EXPECT_EQ(saved(*string_match(R"({"hex_string": "|414243|", "algo": "bm"})")),
            R"( -m string --string "ABC" --algo bm)");
  EXPECT_EQ(listed(*string_match(R"({"string": "\u00e9", "algo": "bm"})")),
            R"(STRING match  "|c3a9|" ALGO name bm)");
  EXPECT_EQ(saved(*string_match(R"({"string": "x\\y", "algo": "bm", "to": 65535})")),
            R"( -m string --string "x\\y" --algo bm)");
  EXPECT_EQ(saved(*string_match(R"({"string": "abc", "algo": "bm", "from": 0, "to": 0})")),
            R"( -m string --string "abc" --algo bm --to 0)");
}

}  // namespace
}  // namespace verdictd
