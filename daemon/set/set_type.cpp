#include "set/set_type.hpp"

#include <algorithm>

namespace verdictd {

namespace {

using D = Dimension;

const std::array<SetType, 8> kTypes = {{
    {"hash:ip", {D::kAddress}, 1},
    {"hash:net", {D::kAddress}, 1, true},
    {"hash:ip,port", {D::kAddress, D::kPort}, 2},
    {"hash:net,port", {D::kAddress, D::kPort}, 2, true},
    {"hash:ip,port,ip", {D::kAddress, D::kPort, D::kAddress}, 3},
    {"hash:net,iface", {D::kAddress, D::kInterface}, 2, true},
    {"hash:mac", {D::kMac}, 1, false, false},
    {"bitmap:port", {D::kBarePort}, 1, false, false},
}};

}  // namespace

const SetType* find_set_type(std::string_view name) {
  const auto found = std::find_if(kTypes.begin(), kTypes.end(),
                                  [name](const SetType& t) { return t.name == name; });
  return found == kTypes.end() ? nullptr : &*found;
}

std::string_view set_type_names() {
  return "hash:ip, hash:net, hash:ip,port, hash:net,port, hash:ip,port,ip, hash:net,iface, "
         "hash:mac, bitmap:port or list:set";
}

}  // namespace verdictd
