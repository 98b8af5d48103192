#include "ctl/offline.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "iptables/arguments.hpp"
#include "iptables/import.hpp"
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

namespace {

std::string read_input(const std::string& file) {
  if (file == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int write_text_file(const std::string& file, const std::string& text) {
  const std::string temporary = file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::cerr << "verdictctl: cannot write " << temporary << "\n";
      return 1;
    }
  }
  if (std::rename(temporary.c_str(), file.c_str()) != 0) {
    std::cerr << "verdictctl: cannot rename " << temporary << " to " << file << "\n";
    return 1;
  }
  return 0;
}

int import_rulesets(const std::vector<std::string>& ipv4_files,
                    const std::vector<std::string>& ipv6_files,
                    const std::vector<std::string>& scripts,
                    const std::vector<std::string>& ipset_files) {
  try {
    std::vector<ImportInput> inputs;
    inputs.reserve(ipv4_files.size() + ipv6_files.size() + scripts.size() + ipset_files.size());
    const auto name = [](const std::string& file) {
      return file == "-" ? std::string("<stdin>") : file;
    };
    for (const std::string& file : ipv4_files) {
      inputs.push_back({ImportInput::Kind::kRestore, Family::kIPv4, name(file), read_input(file)});
    }
    for (const std::string& file : ipv6_files) {
      inputs.push_back({ImportInput::Kind::kRestore, Family::kIPv6, name(file), read_input(file)});
    }
    for (const std::string& file : scripts) {
      inputs.push_back({ImportInput::Kind::kScript, Family::kIPv4, name(file), read_input(file)});
    }
    for (const std::string& file : ipset_files) {
      inputs.push_back({ImportInput::Kind::kIpset, Family::kIPv4,
                        std::filesystem::absolute(file).string(), read_input(file)});
    }
    const Imported imported = import_rules(inputs);
    const std::string text = format_ruleset(imported.ruleset);
    static_cast<void>(load_ruleset_text(text, "<imported ruleset>"));
    for (const auto& [file, line] : imported.skipped) {
      std::cerr << file << ":" << line.line << ": skipped (" << line.reason << "): " << line.text
                << "\n";
    }
    std::cout << text;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

}  // namespace verdictd
