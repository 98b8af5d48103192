// -j NOTRACK and -j CT --notrack: the packet is not tracked, and rules see it
// as UNTRACKED (xt_CT). Only the raw table, which runs before tracking, may
// use them; both let the packet go on to the next rule.
#include "conntrack/flow.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class NotrackTarget final : public Target {
 public:
  // `alias`: written NOTRACK, which iptables keeps as such but lists as CT.
  explicit NotrackTarget(bool alias) : alias_(alias) {}

  // As the kernel, a packet that already has a connection keeps it.
  TargetAction apply(const PacketView& /*packet*/, EvalState& state) const override {
    PacketConntrack* ct = state.conntrack;
    if (ct != nullptr && !ct->has_flow) ct->notrack = true;
    return TargetAction::kContinue;
  }

  [[nodiscard]] std::string_view name() const override { return "CT"; }
  [[nodiscard]] std::string list_extra() const override {
    return alias_ ? "NOTRACK" : "CT notrack";
  }
  [[nodiscard]] std::string save() const override {
    return alias_ ? "-j NOTRACK" : "-j CT --notrack";
  }
  [[nodiscard]] bool needs_conntrack() const override { return true; }
  [[nodiscard]] bool allowed_in(TableId table) const override { return table == TableId::kRaw; }

 private:
  bool alias_;
};

std::unique_ptr<Target> make_notrack(const TargetArgs& args) {
  if (!args.options.is_null()) {
    throw_expected("no options (write \"NOTRACK\" as a string)", args.options);
  }
  return std::make_unique<NotrackTarget>(true);
}

// Of CT's options only --notrack is supported.
std::unique_ptr<Target> make_ct(const TargetArgs& args) {
  constexpr std::string_view kWhat = R"({"notrack": true})";
  if (args.options.is_null()) {
    throw FieldError("CT needs its options: {\"CT\": " + std::string(kWhat) + "}");
  }
  expect_object_keys(args.options, {"notrack"}, kWhat);
  if (!args.options.contains("notrack")) throw_expected(kWhat, args.options);
  if (args.options["notrack"] != true) {
    throw FieldError("expected true, got " + args.options["notrack"].dump(), "/notrack");
  }
  return std::make_unique<NotrackTarget>(false);
}

const TargetRegistrar kNotrack("NOTRACK", make_notrack);
const TargetRegistrar kCt("CT", make_ct);

}  // namespace

}  // namespace verdictd
