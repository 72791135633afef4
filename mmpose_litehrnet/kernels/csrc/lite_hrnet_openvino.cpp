// Lite-HRNet's deploy-form CPU kernels (lite_hrnet_kernels.h) as OpenVINO operations: an
// extension library that ov::Core::add_extension loads. Its ONNX frontend extensions
// convert the nodes of the domain "mmpose_litehrnet" that an ONNX export with cpu_kernels
// writes (the ONNX Runtime host's, lite_hrnet_ort.cpp, take the same files); its op
// extensions read them back from an IR that holds them. It needs the openvino wheel's
// headers and libraries (libopenvino, TBB), no PyTorch. Built by
// mmpose_litehrnet/kernels/openvino.py.
//
// Every operation takes (operands, layout, x_1, ..., x_B) as the ONNX node does: the
// packed operands, their layout (int64, or int32 where the CPU plugin narrowed it), then
// the branches, each (N, H, W, C); it returns its outputs alike. The kernels' threads are
// the calling TBB arena's: OpenVINO's own inference threads.
#include <openvino/core/extension.hpp>
#include <openvino/core/op_extension.hpp>
#include <openvino/frontend/onnx/extension/op.hpp>
#include <openvino/op/op.hpp>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "plain_host.h"

namespace {

// ATen's parallel_for on the caller's TBB arena: at most one chunk per thread, none
// smaller than grain.
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  if (begin >= end) return;
  const int64_t n = end - begin;
  const int64_t threads = std::min<int64_t>(tbb::this_task_arena::max_concurrency(),
                                            (n + grain - 1) / grain);
  if (threads <= 1) {
    fn(begin, end);
    return;
  }
  const int64_t chunk = (n + threads - 1) / threads;
  tbb::parallel_for(
      int64_t{0}, threads,
      [&](int64_t t) {
        const int64_t b0 = begin + t * chunk;
        if (b0 < end) fn(b0, std::min(end, b0 + chunk));
      },
      tbb::static_partitioner{});
}

inline int64_t num_threads() { return tbb::this_task_arena::max_concurrency(); }

}  // namespace

#include "lite_hrnet_kernels.h"

namespace {

// The outputs of the evaluate call on this thread, which empty_channels_last hands out
// in order.
struct Call {
  ov::TensorVector* outputs;
  size_t made = 0;
};
thread_local Call* current_call = nullptr;

Tensor empty_channels_last(int64_t n, int64_t c, int64_t h, int64_t w, const Tensor&) {
  LH_CHECK(current_call != nullptr, "mmpose_litehrnet: an output outside an OpenVINO call");
  LH_CHECK(current_call->made < current_call->outputs->size(),
           "mmpose_litehrnet: more outputs than the operation has");
  ov::Tensor& out = (*current_call->outputs)[current_call->made++];
  const ov::Shape shape{static_cast<size_t>(n), static_cast<size_t>(h), static_cast<size_t>(w),
                        static_cast<size_t>(c)};
  if (!out || out.get_shape() != shape) {
    if (out && out.get_size() >= shape_size(shape))
      out.set_shape(shape);
    else
      out = ov::Tensor(ov::element::f32, shape);
  }
  return Tensor{out.data<float>(), {n, c, h, w}};
}

// An output dimension of a stride-s 3x3 convolution with padding 1.
ov::Dimension down(const ov::Dimension& d, int64_t stride) {
  if (d.is_dynamic()) return ov::Dimension::dynamic();
  return (d.get_length() - 1) / stride + 1;
}

// The output shapes (N, H, W, C) given the branches' and the int attributes (as
// KERNEL_OPS in kernels/ops.py gives them, there in (N, C, H, W)).
using ShapeRule = std::vector<ov::PartialShape> (*)(const std::vector<ov::PartialShape>&,
                                                    const int64_t*);

struct Spec {
  const char* kernel;  // as torch.ops.mmpose_litehrnet.<kernel>
  std::vector<std::string> attributes;
  ShapeRule shapes;
};

class KernelOperation : public ov::op::Op {
 public:
  explicit KernelOperation(const Spec& spec) : spec_(spec), run_(named_kernel(spec.kernel)) {}

  bool visit_attributes(ov::AttributeVisitor& visitor) override {
    for (size_t i = 0; i < spec_.attributes.size(); ++i)
      visitor.on_attribute(spec_.attributes[i], attributes_[i]);
    return true;
  }

  void validate_and_infer_types() override {
    const size_t inputs = get_input_size();
    NODE_VALIDATION_CHECK(this, inputs >= 3, "expects operands, their layout and branches");
    NODE_VALIDATION_CHECK(this, get_input_element_type(1).is_integral_number(),
                          "the operand layout must be integers");
    std::vector<ov::PartialShape> xs;
    for (size_t i = 2; i < inputs; ++i) {
      NODE_VALIDATION_CHECK(this, get_input_partial_shape(i).rank().compatible(4),
                            "expects (N, H, W, C) branches");
      xs.push_back(get_input_partial_shape(i).rank().is_static() ? get_input_partial_shape(i)
                                                                 : ov::PartialShape::dynamic(4));
    }
    const auto outs = spec_.shapes(xs, attributes_.data());
    set_output_size(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) set_output_type(i, ov::element::f32, outs[i]);
  }

  bool has_evaluate() const override { return true; }

  bool evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const override {
    const char* name = spec_.kernel;
    std::vector<Tensor> xs;
    for (size_t i = 2; i < inputs.size(); ++i) {
      const auto& s = inputs[i].get_shape();
      LH_CHECK(s.size() == 4, name, ": expects (N, H, W, C) branches");
      xs.push_back(Tensor{const_cast<float*>(inputs[i].data<const float>()),
                          {static_cast<int64_t>(s[0]), static_cast<int64_t>(s[3]),
                           static_cast<int64_t>(s[1]), static_cast<int64_t>(s[2])}});
    }
    const ov::Tensor& layout = inputs[1];
    std::vector<int64_t> wide;
    const int64_t* l = nullptr;
    if (layout.get_element_type() == ov::element::i64) {
      l = layout.data<const int64_t>();
    } else {
      const int32_t* narrow = layout.data<const int32_t>();
      wide.assign(narrow, narrow + layout.get_size());
      l = wide.data();
    }
    const auto v = unpack_operands(inputs[0].data<const float>(),
                                   static_cast<int64_t>(inputs[0].get_size()), l,
                                   static_cast<int64_t>(layout.get_size()), name);
    Call call{&outputs};
    current_call = &call;
    try {
      run_(xs, v, attributes_.data());
    } catch (...) {
      current_call = nullptr;
      throw;
    }
    current_call = nullptr;
    LH_CHECK(call.made == outputs.size(), name, ": made ", call.made, " outputs, the node has ",
             outputs.size());
    return true;
  }

 protected:
  const Spec& spec_;
  KernelRun run_;
  std::array<int64_t, 2> attributes_{};
};

std::vector<ov::PartialShape> same_shapes(const std::vector<ov::PartialShape>& xs,
                                          const int64_t*) {
  return xs;
}

const Spec kStem{"stem",
                 {"passed", "out_channels"},
                 [](const std::vector<ov::PartialShape>& xs, const int64_t* a) {
                   const auto& x = xs.at(0);
                   return std::vector<ov::PartialShape>{
                       {x[0], down(down(x[1], 2), 2), down(down(x[2], 2), 2), a[1]}};
                 }};
const Spec kDepthwiseSeparable{"depthwise_separable",
                               {"stride", "out_channels"},
                               [](const std::vector<ov::PartialShape>& xs, const int64_t* a) {
                                 const auto& x = xs.at(0);
                                 return std::vector<ov::PartialShape>{
                                     {x[0], down(x[1], a[0]), down(x[2], a[0]), a[1]}};
                               }};
const Spec kShuffleUnit{"shuffle_unit", {}, same_shapes};
const Spec kConditionalChannelWeighting{"conditional_channel_weighting", {}, same_shapes};
const Spec kMultiResolutionFusion{"multi_resolution_fusion", {}, same_shapes};
// Output k has the channels of branch k - 1 (the first its own).
const Spec kIterativeHead{"iterative_head",
                          {},
                          [](const std::vector<ov::PartialShape>& xs, const int64_t*) {
                            std::vector<ov::PartialShape> outs;
                            for (size_t k = 0; k < xs.size(); ++k)
                              outs.push_back({xs[k][0], xs[k][1], xs[k][2], xs[k > 0 ? k - 1 : 0][3]});
                            return outs;
                          }};

// One class per ONNX node type: OpenVINO knows an operation by its class's type info.
#define LH_OPERATION(Name)                                                                \
  class Name : public KernelOperation {                                                   \
   public:                                                                                \
    OPENVINO_OP(#Name, "mmpose_litehrnet");                                               \
    Name() : KernelOperation(k##Name) {}                                                  \
    std::shared_ptr<ov::Node> clone_with_new_inputs(                                      \
        const ov::OutputVector& inputs) const override {                                  \
      auto copy = std::make_shared<Name>();                                               \
      copy->attributes_ = attributes_;                                                    \
      copy->set_arguments(inputs);                                                        \
      copy->validate_and_infer_types();                                                   \
      return copy;                                                                        \
    }                                                                                     \
  }

LH_OPERATION(Stem);
LH_OPERATION(DepthwiseSeparable);
LH_OPERATION(ShuffleUnit);
LH_OPERATION(ConditionalChannelWeighting);
LH_OPERATION(MultiResolutionFusion);
LH_OPERATION(IterativeHead);

// For each operation: its op extension (IR) and its ONNX frontend extension.
template <typename Name>
void add(std::vector<ov::Extension::Ptr>& extensions) {
  extensions.push_back(std::make_shared<ov::OpExtension<Name>>());
  const char* type = Name::get_type_info_static().name;
  extensions.push_back(
      std::make_shared<ov::frontend::onnx::OpExtension<Name>>(type, "mmpose_litehrnet"));
}

std::vector<ov::Extension::Ptr> extensions() {
  std::vector<ov::Extension::Ptr> all;
  add<Stem>(all);
  add<DepthwiseSeparable>(all);
  add<ShuffleUnit>(all);
  add<ConditionalChannelWeighting>(all);
  add<MultiResolutionFusion>(all);
  add<IterativeHead>(all);
  return all;
}

}  // namespace

OPENVINO_CREATE_EXTENSIONS(extensions());
