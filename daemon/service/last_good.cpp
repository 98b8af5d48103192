#include "service/last_good.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "service/private_directory.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kMarker = "verdictd_last_good";
constexpr int kFormat = 1;

[[noreturn]] void fail(const std::string& step, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), step + " " + path);
}

class File {
 public:
  File(const std::string& path, int flags, mode_t mode = 0) : fd_(open(path.c_str(), flags, mode)) {
    if (fd_ < 0) fail("cannot open", path);
  }
  ~File() { close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  File(File&&) = delete;
  File& operator=(File&&) = delete;
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string last_good_envelope(const LastGoodCopy& copy) {
  Json envelope;
  envelope[kMarker] = kFormat;
  envelope["source"] = copy.source;
  envelope["saved"] = copy.saved;
  envelope["text"] = copy.text;
  return envelope.dump(1) + "\n";
}

LastGoodCopy parse_last_good_envelope(const std::string& bytes) {
  const Json envelope = Json::parse(bytes, nullptr, false);
  if (!envelope.is_object() || envelope.value(kMarker, 0) != kFormat ||
      !envelope.contains("source") || !envelope["source"].is_string() ||
      !envelope.contains("saved") || !envelope["saved"].is_string() || !envelope.contains("text") ||
      !envelope["text"].is_string()) {
    throw std::runtime_error("not a last-good ruleset verdictd wrote");
  }
  return {envelope["source"].get<std::string>(), envelope["saved"].get<std::string>(),
          envelope["text"].get<std::string>()};
}

std::string utc_time_text(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  std::array<char, 32> text{};
  const std::size_t length =
      std::strftime(text.data(), text.size(), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return {text.data(), length};
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path directory =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  make_private_directory(directory);
  const std::string temporary = path + ".tmp";
  {
    const File file(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = write(file.fd(), bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot write", temporary);
      written += static_cast<std::size_t>(n);
    }
    if (fsync(file.fd()) != 0) fail("cannot fsync", temporary);
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) fail("cannot rename to " + path, temporary);
  // The rename itself is durable once the directory is.
  const File dir(directory.string(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fsync(dir.fd()) != 0) fail("cannot fsync", directory.string());
}

std::optional<LastGoodCopy> read_last_good(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot open", path);
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  try {
    return parse_last_good_envelope(bytes.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

std::string last_good_name(const std::string& path, const LastGoodCopy& copy) {
  return path + " (copy of " + copy.source + ")";
}

}  // namespace verdictd
