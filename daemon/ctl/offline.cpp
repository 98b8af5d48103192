#include "ctl/offline.hpp"

#include <iostream>

#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {

int check_rulesets(const std::vector<std::string>& files, std::size_t max_bytes) {
  int status = 0;
  for (const std::string& file : files) {
    try {
      const auto ruleset = load_ruleset_file(file, max_bytes);
      std::cout << file << ": ok (" << rule_count(*ruleset) << " rules)\n";
    } catch (const std::exception& e) {
      std::cout.flush();  // keep the lines in file order when both go to one place
      std::cerr << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

int export_ruleset(const std::string& file, Family family, std::size_t max_bytes) {
  try {
    std::cout << save_ruleset(*load_ruleset_file(file, max_bytes), family);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

}  // namespace verdictd
