// -m helper: the packet's connection was expected by a conntrack helper of a
// given name (the FTP data connection its control connection announced), as
// xt_helper's helper_mt tests it.
#include <array>
#include <cstring>

#include "conntrack/flow.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

// xt_helper_info's name is 30 bytes, NUL included.
constexpr std::size_t kNameLength = 29;

class HelperMatch final : public Match {
 public:
  HelperMatch(std::string name, bool negated) : name_(std::move(name)), negated_(negated) {}

  // helper_mt: only a connection with a master whose helper is set passes;
  // "" takes any helper, else the rule's name must begin with the helper's
  // (the kernel compares over the length of the helper's name).
  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const PacketConntrack* ct = state.conntrack;
    if (ct == nullptr || !ct->has_flow || (ct->flow.status & ctstatus::kExpected) == 0) {
      return negated_;
    }
    const HelperName& name = ct->flow.helper;
    const std::string_view helper(name.data(), strnlen(name.data(), name.size()));
    if (helper.empty()) return negated_;
    return (name_.empty() || name_.starts_with(helper)) != negated_;
  }

  // helper match "ftp", helper match ! "ftp"
  void list(ListRow& row) const override {
    row.add_extra(std::string("helper match ") + (negated_ ? "! " : "") + "\"" + name_ + "\"");
  }

  void save(SaveLine& line) const override {
    line.matches +=
        std::string(" -m helper") + (negated_ ? " !" : "") + " --helper " + save_string(name_);
  }

 private:
  std::string name_;
  bool negated_;
};

std::unique_ptr<Match> build_helper(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<HelperMatch>(options.get<std::string>("helper"),
                                       options.negated("helper"));
}

const std::array<OptionSpec, 1> kHelperOptions = {
    {{.key = "helper",
      .flag = "--helper",
      .type = &value_types::text(kNameLength),
      .negatable = true,
      .mandatory = true,
      .doc = "the conntrack helper that expected the packet's connection (\"ftp\"); it passes "
             "when this name begins with the helper's, and \"\" passes any helper. Only "
             "expected (RELATED) connections have one"}}};

const MatchRegistrar kHelper({.name = "helper",
                              .summary = "the conntrack helper that expected the connection",
                              .options = kHelperOptions,
                              .needs = kNeedsTracking,
                              .build = build_helper});

}  // namespace

}  // namespace verdictd
