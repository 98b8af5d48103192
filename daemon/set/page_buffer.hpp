// A large zero-filled array straight from mmap: no memset (fresh pages are
// zero), and in 2 MiB pages where the kernel gives them (MADV_HUGEPAGE), so
// random reads across it cost no TLB miss each and filling it few faults.
#pragma once

#include <cstddef>

namespace verdictd {

// Asks for 2 MiB pages under the whole 2 MiB pages within [data, data + bytes).
void advise_huge_pages(void* data, std::size_t bytes);

class PageBuffer {
 public:
  explicit PageBuffer(std::size_t bytes);
  PageBuffer(const PageBuffer& other);
  PageBuffer& operator=(const PageBuffer&) = delete;
  ~PageBuffer();

  [[nodiscard]] void* data() const { return data_; }

 private:
  std::size_t bytes_;
  void* data_;
};

}  // namespace verdictd
