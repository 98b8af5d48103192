#include "service/private_directory.hpp"

namespace verdictd {

void make_private_directory(const std::filesystem::path& directory) {
  if (directory.empty() || std::filesystem::exists(directory)) return;
  std::filesystem::create_directories(directory);
  std::filesystem::permissions(directory, std::filesystem::perms::owner_all);
}

}  // namespace verdictd
