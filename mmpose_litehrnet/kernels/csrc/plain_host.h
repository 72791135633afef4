// What the two hosts without PyTorch (lite_hrnet_ort.cpp, lite_hrnet_standalone.cpp)
// give lite_hrnet_kernels.h alike: an image type and a check that throws. Each adds its
// own parallel_for and num_threads, then includes the kernels.
#pragma once

#include <array>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace {

// An (N, C, H, W) image stored channels-last: data holds N * H * W * C floats.
struct Tensor {
  float* data = nullptr;
  std::array<int64_t, 4> sizes{};

  int64_t size(int64_t i) const { return sizes.at(i < 0 ? i + 4 : i); }
  template <typename T>
  T* data_ptr() const {
    static_assert(std::is_same<T, float>::value, "the kernels' images are float32");
    return data;
  }
};

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw std::runtime_error(message.str());
}

}  // namespace

#define LH_CHECK(condition, ...)          \
  do {                                    \
    if (!(condition)) fail(__VA_ARGS__); \
  } while (false)
