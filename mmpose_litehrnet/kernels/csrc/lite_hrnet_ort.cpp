// Lite-HRNet's deploy-form CPU kernels (lite_hrnet_kernels.h) as ONNX Runtime custom
// operators of the domain "mmpose_litehrnet": a library that an ORT session loads with
// SessionOptions.register_custom_ops_library (RegisterCustomOps below). It needs ORT's C
// headers to build, no PyTorch. Built by mmpose_litehrnet/kernels/ort.py.
//
// Every operator takes (operands, layout, x_1, ..., x_B): the packed operands and their
// layout as the PyTorch operators take them, then the branches, each (N, H, W, C)
// (channels-last, which ONNX sees as its own layout); it returns its outputs alike. Int
// attributes: Stem passed and out_channels; DepthwiseSeparable stride and out_channels.
// The kernels' threads are OpenMP's (OMP_NUM_THREADS), not the session's.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>
#include <omp.h>

#include "plain_host.h"

namespace {

// ATen's parallel_for on OpenMP: at most one chunk per thread, none smaller than grain,
// inline inside a parallel region.
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  if (begin >= end) return;
  const int64_t n = end - begin;
  const int64_t threads = omp_in_parallel() ? 1 : std::min<int64_t>(omp_get_max_threads(),
                                                                    (n + grain - 1) / grain);
  if (threads <= 1) {
    fn(begin, end);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t chunk = (n + threads - 1) / threads;
    const int64_t b0 = begin + omp_get_thread_num() * chunk;
    if (b0 < end) fn(b0, std::min(end, b0 + chunk));
  }
}

inline int64_t num_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

}  // namespace

#include "lite_hrnet_kernels.h"

namespace {

// The ORT call whose outputs empty_channels_last makes, in order, on this thread.
struct Call {
  Ort::KernelContext context;
  size_t outputs = 0;
};
thread_local Call* current_call = nullptr;

Tensor empty_channels_last(int64_t n, int64_t c, int64_t h, int64_t w, const Tensor&) {
  LH_CHECK(current_call != nullptr, "mmpose_litehrnet: an output outside an ORT call");
  const int64_t shape[4] = {n, h, w, c};
  auto out = current_call->context.GetOutput(current_call->outputs++, shape, 4);
  return Tensor{out.GetTensorMutableData<float>(), {n, c, h, w}};
}

using Attributes = std::array<int64_t, 2>;

struct Kernel {
  const char* name;
  KernelRun run;
  Attributes attributes;

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    Call call{Ort::KernelContext(raw)};
    try {
      const auto operands = call.context.GetInput(0);
      const auto layout = call.context.GetInput(1);
      std::vector<Tensor> xs;
      for (size_t i = 2; i < call.context.GetInputCount(); ++i) {
        const auto x = call.context.GetInput(i);
        const auto shape = x.GetTensorTypeAndShapeInfo().GetShape();
        LH_CHECK(shape.size() == 4, name, ": expects (N, H, W, C) branches");
        xs.push_back(Tensor{const_cast<float*>(x.GetTensorData<float>()),
                            {shape[0], shape[3], shape[1], shape[2]}});
      }
      const auto v = unpack_operands(
          operands.GetTensorData<float>(), operands.GetTensorTypeAndShapeInfo().GetElementCount(),
          layout.GetTensorData<int64_t>(), layout.GetTensorTypeAndShapeInfo().GetElementCount(),
          name);
      current_call = &call;
      run(xs, v, attributes.data());
      current_call = nullptr;
      LH_CHECK(call.outputs == call.context.GetOutputCount(), name, ": made ", call.outputs,
               " outputs, the node has ", call.context.GetOutputCount());
      return nullptr;
    } catch (const std::exception& error) {
      current_call = nullptr;
      return Ort::GetApi().CreateStatus(ORT_RUNTIME_EXCEPTION, error.what());
    }
  }
};

struct Op : Ort::CustomOpBase<Op, Kernel, true> {
  // name: the ONNX node's; kernel: the PyTorch operator's (kNamedKernels).
  Op(const char* name, const char* kernel, std::vector<const char*> attributes)
      : name(name), run(named_kernel(kernel)), attribute_names(std::move(attributes)) {}

  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const {
    try {
      Attributes attributes{};
      for (size_t i = 0; i < attribute_names.size(); ++i)
        attributes[i] = Ort::ConstKernelInfo(info).GetAttribute<int64_t>(attribute_names[i]);
      *kernel = new Kernel{name, run, attributes};
      return nullptr;
    } catch (const std::exception& error) {
      return Ort::GetApi().CreateStatus(ORT_INVALID_ARGUMENT, error.what());
    }
  }

  const char* GetName() const { return name; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t i) const {
    return i == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t i) const {
    return i == 2 ? INPUT_OUTPUT_VARIADIC : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetOutputCharacteristic(size_t) const {
    return INPUT_OUTPUT_VARIADIC;
  }

  const char* name;
  KernelRun run;
  std::vector<const char*> attribute_names;
};

// The ONNX nodes: their names, the kernels they run and their int attributes, in the
// order of the kernels' int arguments (KERNEL_OPS in kernels/ops.py).
const std::vector<Op>& operators() {
  static const auto* ops = new std::vector<Op>{
      {"Stem", "stem", {"passed", "out_channels"}},
      {"DepthwiseSeparable", "depthwise_separable", {"stride", "out_channels"}},
      {"ShuffleUnit", "shuffle_unit", {}},
      {"ConditionalChannelWeighting", "conditional_channel_weighting", {}},
      {"MultiResolutionFusion", "multi_resolution_fusion", {}},
      {"IterativeHead", "iterative_head", {}},
  };
  return *ops;
}

}  // namespace

// ORT's entry point for a custom-op library: adds the domain to the session's options.
// The domain outlives every session (ORT keeps a pointer to it).
extern "C" OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options,
                                                     const OrtApiBase* api) {
  const OrtApi* ort = api->GetApi(ORT_API_VERSION);
  if (ort == nullptr) return nullptr;  // an ORT older than these headers: no operators
  Ort::InitApi(ort);
  static std::mutex mutex;
  static auto* domains = new std::vector<Ort::CustomOpDomain>();
  try {
    Ort::CustomOpDomain domain("mmpose_litehrnet");
    for (const Op& op : operators()) domain.Add(&op);
    Ort::UnownedSessionOptions(options).Add(domain);
    std::lock_guard<std::mutex> lock(mutex);
    domains->push_back(std::move(domain));
    return nullptr;
  } catch (const std::exception& error) {
    return ort->CreateStatus(ORT_FAIL, error.what());
  }
}
