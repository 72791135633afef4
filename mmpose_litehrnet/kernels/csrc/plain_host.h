// What the hosts without PyTorch (lite_hrnet_ort.cpp, lite_hrnet_openvino.cpp,
// lite_hrnet_standalone.cpp) give lite_hrnet_kernels.h alike: an image type, a check that
// throws, and the inputs as the kernels take them (already channels-last). Each adds its
// own parallel_for, num_threads and empty_channels_last, then includes the kernels.
#pragma once

#include <array>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <vector>

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

namespace {

// The hosts' images are channels-last already.
std::vector<Tensor> channels_last_inputs(const std::vector<Tensor>& xs, const char* op) {
  LH_CHECK(!xs.empty(), op, ": expects at least one branch");
  return xs;
}

}  // namespace
