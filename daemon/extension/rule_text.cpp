#include "extension/rule_text.hpp"

namespace verdictd {

std::string SaveLine::str() const {
  std::string line;
  for (const std::string* part : {&source, &destination, &in, &this->out, &protocol, &fragment}) {
    if (!part->empty()) line += ' ' + *part;
  }
  return line + matches + target;
}

}  // namespace verdictd
