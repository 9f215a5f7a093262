#pragma once
// Shared by the security tests: a temporary directory that writes files
// with a given mode, and gtest parameter names.

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>

namespace isthmus::security_testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isthmus-security-XXXXXX";
    const char* made = mkdtemp(tmpl);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `text` to `name` and sets `mode` (after writing: the umask
  // does not matter).
  std::string Write(const std::string& name, const std::string& text, mode_t mode) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    chmod(file.c_str(), mode);
    return file;
  }

 private:
  std::string path_;
};

inline std::string Name(std::string description) {
  std::replace_if(
      description.begin(), description.end(),
      [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return description;
}

}  // namespace isthmus::security_testing
