#include "set/page_buffer.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <new>

namespace verdictd {

void advise_huge_pages(void* data, std::size_t bytes) {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = (begin + bytes) & ~(kHugePage - 1);
  if (first < end) madvise(static_cast<char*>(data) + (first - begin), end - first, MADV_HUGEPAGE);
}

PageBuffer::PageBuffer(std::size_t bytes)
    : bytes_(bytes),
      data_(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) {
  if (data_ == MAP_FAILED) throw std::bad_alloc();
  advise_huge_pages(data_, bytes_);  // a hint: without it, small pages
}

PageBuffer::PageBuffer(const PageBuffer& other) : PageBuffer(other.bytes_) {
  std::memcpy(data_, other.data_, bytes_);
}

PageBuffer::~PageBuffer() { munmap(data_, bytes_); }

}  // namespace verdictd
