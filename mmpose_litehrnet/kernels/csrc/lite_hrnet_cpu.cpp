// Lite-HRNet's deploy-form CPU kernels (lite_hrnet_kernels.h) as the implementations of
// the PyTorch operators torch.ops.mmpose_litehrnet.*, whose schemas (and fake kernels)
// mmpose_litehrnet/kernels/ops.py defines from its table. Built at first use by
// mmpose_litehrnet/kernels/build.py (torch.utils.cpp_extension, -march=native).
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

namespace {

using at::Tensor;

template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  at::parallel_for(begin, end, grain, fn);
}

inline int64_t num_threads() { return at::get_num_threads(); }

}  // namespace

#define LH_CHECK(...) TORCH_CHECK(__VA_ARGS__)

#include "lite_hrnet_kernels.h"

namespace {

std::vector<Tensor> channels_last_inputs(const std::vector<Tensor>& xs, const char* op) {
  std::vector<Tensor> out;
  for (const auto& x : xs) {
    TORCH_CHECK(x.dim() == 4 && x.scalar_type() == at::kFloat && x.device().is_cpu(), op,
                ": expects 4-D float32 CPU tensors");
    out.push_back(x.contiguous(at::MemoryFormat::ChannelsLast));
  }
  return out;
}

// An uninitialized float32 CPU tensor of that shape and strides whose memory comes from
// the BlockCache and goes back to it when the tensor is freed.
Tensor empty_cached(at::IntArrayRef sizes, at::IntArrayRef strides, int64_t numel,
                    const Tensor& like) {
  const size_t bytes = std::max<int64_t>(1, numel) * sizeof(float);
  void* data = BlockCache::instance().get(bytes);
  return at::from_blob(data, sizes, strides,
                       [bytes](void* p) { BlockCache::instance().put(p, bytes); },
                       like.options().memory_format(c10::nullopt));
}

// While one is alive on a thread, the outputs that empty_channels_last makes there are
// carved in order from one flat tensor of the outputs' total size (see packed()).
class PackedOutputs {
 public:
  PackedOutputs(int64_t numel, const Tensor& like)
      : flat_(empty_cached({numel}, {1}, numel, like)) {
    current() = this;
  }
  ~PackedOutputs() { current() = nullptr; }
  PackedOutputs(const PackedOutputs&) = delete;
  PackedOutputs& operator=(const PackedOutputs&) = delete;

  Tensor take(int64_t n, int64_t c, int64_t h, int64_t w) {
    const int64_t numel = n * c * h * w;
    TORCH_CHECK(used_ + numel <= flat_.numel(), "mmpose_litehrnet: packed outputs overflow");
    // A view for the operator's own use (it returns flat_): no deleter, no dispatch.
    Tensor out = at::from_blob(flat_.data_ptr<float>() + used_, {n, c, h, w},
                               {h * w * c, 1, w * c, c}, flat_.options());
    used_ += numel;
    return out;
  }

  Tensor finish(const char* op) const {
    TORCH_CHECK(used_ == flat_.numel(), op, ": packed outputs of ", used_, " values, expected ",
                flat_.numel());
    return flat_;
  }

  static PackedOutputs*& current() {
    thread_local PackedOutputs* packed = nullptr;
    return packed;
  }

 private:
  Tensor flat_;
  int64_t used_ = 0;
};

// An uninitialized (n, c, h, w) channels-last float32 CPU tensor from the BlockCache (or
// the PackedOutputs alive on this thread).
Tensor empty_channels_last(int64_t n, int64_t c, int64_t h, int64_t w, const Tensor& like) {
  if (PackedOutputs* packed = PackedOutputs::current()) return packed->take(n, c, h, w);
  return empty_cached({n, c, h, w}, {h * w * c, 1, w * c, c}, n * c * h * w, like);
}

// The outputs of op(), an operator that returns a list of branches of numel values in
// all, packed in order into one flat tensor (each output channels-last), for
// torch.compile: Inductor's C++ wrapper calls an operator that returns a tensor
// directly, one that returns a list through Python (about 150 us a call).
template <typename F>
Tensor packed(const char* op, const std::vector<Tensor>& xs, int64_t numel, const F& fn) {
  TORCH_CHECK(!xs.empty(), op, ": expects at least one branch");
  PackedOutputs outputs(numel, xs[0]);
  fn();
  return outputs.finish(op);
}

int64_t numel_of(const std::vector<Tensor>& xs) {
  int64_t numel = 0;
  for (const auto& x : xs) numel += x.numel();
  return numel;
}

// The operands of one call (see the core unpack_operands), from the tensors
// pack_operands made.
std::vector<Operand> unpack_operands(const Tensor& operands, const Tensor& layout,
                                     const char* op) {
  TORCH_CHECK(operands.dim() == 1 && operands.is_contiguous() &&
                  operands.scalar_type() == at::kFloat && operands.device().is_cpu(),
              op, ": expected the operands as a contiguous 1-D float32 CPU tensor");
  TORCH_CHECK(layout.dim() == 1 && layout.is_contiguous() && layout.scalar_type() == at::kLong &&
                  layout.device().is_cpu(),
              op, ": expected the operands' layout as a 1-D int64 CPU tensor");
  return unpack_operands(operands.data_ptr<float>(), operands.numel(),
                         layout.data_ptr<int64_t>(), layout.numel(), op);
}

}  // namespace

// The registered operators: each takes its operands packed (see unpack_operands).
std::vector<Tensor> conditional_channel_weighting_op(const std::vector<Tensor>& xs,
                                                     const Tensor& operands,
                                                     const Tensor& layout) {
  const char* op = "conditional_channel_weighting";
  return conditional_channel_weighting(xs, unpack_operands(operands, layout, op));
}

std::vector<Tensor> multi_resolution_fusion_op(const std::vector<Tensor>& xs,
                                               const Tensor& operands, const Tensor& layout) {
  const char* op = "multi_resolution_fusion";
  return multi_resolution_fusion(xs, unpack_operands(operands, layout, op));
}

Tensor shuffle_unit_op(const Tensor& x, const Tensor& operands, const Tensor& layout) {
  return shuffle_unit(x, unpack_operands(operands, layout, "shuffle_unit"));
}

Tensor stem_op(const Tensor& x, const Tensor& operands, const Tensor& layout, int64_t passed,
               int64_t out_channels) {
  return stem(x, unpack_operands(operands, layout, "stem"), passed, out_channels);
}

Tensor depthwise_separable_op(const Tensor& x, int64_t stride, int64_t out_channels,
                              const Tensor& operands, const Tensor& layout) {
  return depthwise_separable(x, stride, out_channels,
                             unpack_operands(operands, layout, "depthwise_separable"));
}

std::vector<Tensor> iterative_head_op(const std::vector<Tensor>& xs, const Tensor& operands,
                                      const Tensor& layout) {
  return iterative_head(xs, unpack_operands(operands, layout, "iterative_head"));
}

// The list operators as packed() gives their outputs.
Tensor conditional_channel_weighting_packed(const std::vector<Tensor>& xs,
                                            const Tensor& operands, const Tensor& layout) {
  return packed("conditional_channel_weighting", xs, numel_of(xs),
                [&] { conditional_channel_weighting_op(xs, operands, layout); });
}

Tensor multi_resolution_fusion_packed(const std::vector<Tensor>& xs, const Tensor& operands,
                                      const Tensor& layout) {
  return packed("multi_resolution_fusion", xs, numel_of(xs),
                [&] { multi_resolution_fusion_op(xs, operands, layout); });
}

Tensor iterative_head_packed(const std::vector<Tensor>& xs, const Tensor& operands,
                             const Tensor& layout) {
  int64_t numel = 0;
  for (size_t k = 0; k < xs.size(); ++k)
    numel += xs[k].numel() / std::max<int64_t>(1, xs[k].size(1)) * head_width(xs, k);
  return packed("iterative_head", xs, numel, [&] { iterative_head_op(xs, operands, layout); });
}

// The schemas come from KERNEL_OPS in kernels/ops.py (defined before this library loads);
// an implementation whose signature differs from its schema fails the load.
TORCH_LIBRARY_IMPL(mmpose_litehrnet, CPU, m) {
  m.impl("conditional_channel_weighting", &conditional_channel_weighting_op);
  m.impl("multi_resolution_fusion", &multi_resolution_fusion_op);
  m.impl("shuffle_unit", &shuffle_unit_op);
  m.impl("stem", &stem_op);
  m.impl("depthwise_separable", &depthwise_separable_op);
  m.impl("iterative_head", &iterative_head_op);
  m.impl("conditional_channel_weighting_packed", &conditional_channel_weighting_packed);
  m.impl("multi_resolution_fusion_packed", &multi_resolution_fusion_packed);
  m.impl("iterative_head_packed", &iterative_head_packed);
}
