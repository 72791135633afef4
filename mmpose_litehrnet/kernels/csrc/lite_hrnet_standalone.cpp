// Lite-HRNet's deploy-form CPU kernels (lite_hrnet_kernels.h) in a plain program, with no
// PyTorch and no ONNX Runtime: the third host, for checking the kernels on targets this
// machine cannot run natively (aarch64 under qemu-user). Built and driven by
// tools/check_kernels_cross.py.
//
//   lite_hrnet_standalone CASES OUTPUTS
//
// CASES holds kernel calls one after another, every number little-endian int64 unless
// said: the operator's name (its length, then its bytes); its int arguments (their
// count, then each); its branches (their count, then per branch N, C, H, W and its
// N * H * W * C float32 values, channels last); the packed operands (their count, then
// float32 values) and their layout (its count, then its values). OUTPUTS gets, per call,
// the outputs: their count, then per output N, C, H, W and its float32 values. The
// kernels run on one thread.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "plain_host.h"

namespace {

template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t, const F& fn) {
  if (begin < end) fn(begin, end);
}

inline int64_t num_threads() { return 1; }

}  // namespace

#include "lite_hrnet_kernels.h"

namespace {

// The memory of every image of the call being run (its inputs and outputs).
std::vector<std::unique_ptr<std::vector<float>>> images;

Tensor new_image(int64_t n, int64_t c, int64_t h, int64_t w) {
  images.push_back(std::make_unique<std::vector<float>>(n * c * h * w));
  return Tensor{images.back()->data(), {n, c, h, w}};
}

Tensor empty_channels_last(int64_t n, int64_t c, int64_t h, int64_t w, const Tensor&) {
  return new_image(n, c, h, w);
}

struct Reader {
  FILE* f;
  bool more() {
    const int c = std::fgetc(f);
    if (c == EOF) return false;
    std::ungetc(c, f);
    return true;
  }
  template <typename T>
  void read(T* out, int64_t n) {
    LH_CHECK(std::fread(out, sizeof(T), n, f) == static_cast<size_t>(n), "truncated cases");
  }
  int64_t integer() {
    int64_t v;
    read(&v, 1);
    return v;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CASES OUTPUTS\n", argv[0]);
    return 2;
  }
  FILE* in = std::fopen(argv[1], "rb");
  FILE* out = std::fopen(argv[2], "wb");
  if (in == nullptr || out == nullptr) {
    std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  Reader r{in};
  try {
    while (r.more()) {
      images.clear();
      std::string op(r.integer(), '\0');
      r.read(&op[0], static_cast<int64_t>(op.size()));
      std::vector<int64_t> ints(r.integer());
      r.read(ints.data(), static_cast<int64_t>(ints.size()));
      std::vector<Tensor> xs(r.integer());
      for (auto& x : xs) {
        int64_t s[4];
        r.read(s, 4);
        x = new_image(s[0], s[1], s[2], s[3]);
        r.read(x.data, s[0] * s[1] * s[2] * s[3]);
      }
      std::vector<float> operands(r.integer());
      r.read(operands.data(), static_cast<int64_t>(operands.size()));
      std::vector<int64_t> layout(r.integer());
      r.read(layout.data(), static_cast<int64_t>(layout.size()));
      const auto v = unpack_operands(operands.data(), static_cast<int64_t>(operands.size()),
                                     layout.data(), static_cast<int64_t>(layout.size()),
                                     op.c_str());
      const std::vector<Tensor> outs = named_kernel(op)(xs, v, ints.data());
      const int64_t count = static_cast<int64_t>(outs.size());
      std::fwrite(&count, sizeof(count), 1, out);
      for (const auto& o : outs) {
        std::fwrite(o.sizes.data(), sizeof(int64_t), 4, out);
        std::fwrite(o.data, sizeof(float), o.sizes[0] * o.sizes[1] * o.sizes[2] * o.sizes[3],
                    out);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
  std::fclose(out);
  return 0;
}
