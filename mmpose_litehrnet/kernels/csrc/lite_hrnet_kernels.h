// The CPU kernels of Lite-HRNet's deploy form, for two hosts: PyTorch operators
// (lite_hrnet_cpu.cpp) and ONNX Runtime custom operators (lite_hrnet_ort.cpp). One call
// for the stem, per transition path, per conditional channel weighting block, per
// multi-resolution fusion, for the iterative head and per stride-1 shuffle unit (batch-1
// latency is mostly a fixed cost per operator call there). Inputs and outputs are
// float32, channels-last (every pixel's channels adjacent); the vector type below is
// lowered by the compiler to whatever the CPU has (one AVX-512 register, two AVX2 ones,
// ...).
//
// The host defines, before including this file, in an unnamed namespace: `Tensor` (an
// (N, C, H, W) image with its channels adjacent: size(i), data_ptr<float>()),
// `parallel_for(begin, end, grain, fn)` and `num_threads()` with ATen's meaning, and the
// macro LH_CHECK(condition, message parts...), which throws; after it, the two functions
// declared below that take and make its tensors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace {

// What the Python side pads every operand and each weight's rows to, in floats
// (mmpose_litehrnet/kernels/operands.py LANES, passed by the build as this macro).
#ifndef MMPOSE_LITEHRNET_LANES
#error "build with -DMMPOSE_LITEHRNET_LANES=<LANES of mmpose_litehrnet/kernels/operands.py>"
#endif
constexpr int64_t kPad = MMPOSE_LITEHRNET_LANES;

// The target's vector width in floats and its number of vector registers, as the
// compiler builds for it (-march): the vectors below are one register, and the
// register-blocked loops hold as many values as the registers do. A vector of 16 floats
// on AVX2 is two registers, and the tiles made for 32 AVX-512 registers spilled there
// (2.4x the operators' time).
#if defined(__AVX512F__)
constexpr int64_t kLanes = 16;
constexpr int kRegisters = 32;
#elif defined(__AVX__)
constexpr int64_t kLanes = 8;
constexpr int kRegisters = 16;
#elif defined(__aarch64__)
constexpr int64_t kLanes = 4;
constexpr int kRegisters = 32;
#else  // SSE (x86-64), and any other target: vectors of four
constexpr int64_t kLanes = 4;
constexpr int kRegisters = 16;
#endif
static_assert(kPad % kLanes == 0, "operands must be padded to whole vectors");
// Half a vector: Lite-HRNet's 40 channels are 2.5 AVX-512 vectors.
constexpr int64_t kHalf = kLanes / 2;
// Output pixels a register-blocked depthwise loop computes at once: with 32 registers
// four (their windows' columns, the nine taps and four sums stay in registers), else two.
constexpr int kBlock = kRegisters >= 32 ? 4 : 2;
template <int L>
struct Lanes {
  typedef float type __attribute__((vector_size(L * sizeof(float))));
};
typedef Lanes<kLanes>::type Vec;

template <typename V>
inline V splat(float v) { return V{} + v; }
inline Vec splat(float v) { return splat<Vec>(v); }

template <typename V = Vec>
inline V load(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V = Vec>
inline void store(float* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }

// 1 / (1 + exp(-v)) per lane: exp as 2^(integer part) times 2^(fraction part) by its
// Taylor polynomial of degree 8 (relative error below 1e-7).
template <typename V>
inline V sigmoid(V v) {
  typedef int32_t IVec __attribute__((vector_size(sizeof(V))));
  V t = -v * 1.44269504f;  // -v / ln 2
  t = t < -126.f ? splat<V>(-126.f) : t;
  t = t > 126.f ? splat<V>(126.f) : t;
  V whole = __builtin_convertvector(__builtin_convertvector(t, IVec), V);
  whole = whole > t ? whole - 1.f : whole;  // floor
  const V f = (t - whole) * 0.693147181f;  // 2^fraction = e^f
  V p = splat<V>(1.f / 40320.f);
  for (float c : {1.f / 5040.f, 1.f / 720.f, 1.f / 120.f, 1.f / 24.f, 1.f / 6.f, 0.5f, 1.f, 1.f}) p = p * f + c;
  const IVec bits = (__builtin_convertvector(whole, IVec) + 127) << 23;
  V scale;
  __builtin_memcpy(&scale, &bits, sizeof(V));
  return 1.f / (1.f + p * scale);
}

// Memory blocks of the kernels' outputs and scratch buffers, kept for reuse when freed
// (up to kMaxCached bytes in all). A block freshly taken from the system costs a page
// fault per 4 KiB page at its first use; PyTorch's CPU allocator caches nothing, and in
// a process that runs other models between passes the allocator returned the memory of
// each pass to the system: about 6 ms of a 14 ms Lite-HRNet-18 pass went to page faults.
class BlockCache {
 public:
  static constexpr size_t kMaxCached = size_t(64) << 20;

  void* get(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    LH_CHECK(p != nullptr, "mmpose_litehrnet: out of memory (", bytes, " bytes)");
    return p;
  }

  void put(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + bytes <= kMaxCached) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  // Never destroyed: tensors may be freed during the process's exit.
  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache();
    return *cache;
  }

 private:
  std::mutex mutex_;
  // Per size, the blocks freed last on top: the most recently used memory, the likeliest
  // to be in cache still, is reused first.
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// A float array from the BlockCache, left uninitialized (a std::vector<float> is zeroed
// first: one more pass over memory, which is what the kernels are bound by). resize()
// does not keep the values.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(int64_t n) { resize(n); }
  Buffer(Buffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release();
      std::swap(data_, other.data_);
      std::swap(size_, other.size_);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }
  void resize(int64_t n) {
    if (n > size_) {
      release();
      data_ = static_cast<float*>(BlockCache::instance().get(n * sizeof(float)));
      size_ = n;
    }
  }
  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

 private:
  void release() {
    if (data_ != nullptr) BlockCache::instance().put(data_, size_ * sizeof(float));
    data_ = nullptr;
    size_ = 0;
  }
  float* data_ = nullptr;
  int64_t size_ = 0;
};

inline float sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

inline int64_t grain(int64_t work_per_item, int64_t target = 4096) {
  return std::max<int64_t>(1, target / std::max<int64_t>(1, work_per_item));
}

// max(v, 0) per lane, NaN kept as ATen's relu keeps it (v > 0 ? v : 0 would make it 0).
template <typename V>
inline V relu(V v) { return v < 0.f ? splat<V>(0.f) : v; }

// What a matrix product does with its result a (bias included) before storing it.
enum class Epilogue { kStore, kRelu, kAdd, kTwice, kSigmoid };  // a, relu(a), out + a, a + a, sigmoid(a)

// What the epilogue e does to a result vector (bias included), before it is stored.
template <typename V>
inline V finish(V a, Epilogue e) {
  if (e == Epilogue::kRelu) a = relu(a);
  if (e == Epilogue::kTwice) a = a + a;
  if (e == Epilogue::kSigmoid) a = sigmoid(a);
  return a;
}

// Stores the first min(n, lanes) values of the result a at o (kAdd: adds them).
template <typename V>
inline void store_result(float* o, V a, int64_t n, Epilogue e) {
  constexpr int64_t L = sizeof(V) / sizeof(float);
  if (n >= L) {
    store<V>(o, e == Epilogue::kAdd ? a + load<V>(o) : a);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = e == Epilogue::kAdd ? o[i] + a[i] : a[i];
  }
}

// Rows p0 .. p0 + NP of out = epilogue(bias + X @ WT) for the outputs n0 .. n0 + kLanes
// * NV + kHalf * H (fewer at the end of N): NV whole vectors and, with H, a half vector
// (Lite-HRNet's 40 channels are 2.5 AVX-512 vectors). WT and bias are padded with zeros
// to ldw, a multiple of kPad.
template <int NP, int NV, int H>
void pointwise_tile(const float* X, int64_t p0, int64_t K, const float* WT, int64_t ldw,
                    const float* bias, int64_t N, int64_t n0, float* out, Epilogue e) {
  typedef Lanes<kHalf>::type Half;
  constexpr int kV = NV > 0 ? NV : 1, kH = H > 0 ? H : 1;
  const int64_t h0 = n0 + kLanes * NV;  // the half vector's first output
  Vec acc[NP][kV];
  Half half[NP][kH];
  for (int v = 0; v < NV; ++v) {
    const Vec b = load(bias + n0 + kLanes * v);
    for (int r = 0; r < NP; ++r) acc[r][v] = b;
  }
  for (int r = 0; r < NP && H; ++r) half[r][0] = load<Half>(bias + h0);
  const float* x = X + p0 * K;
  for (int64_t k = 0; k < K; ++k) {
    Vec w[kV];
    for (int v = 0; v < NV; ++v) w[v] = load(WT + k * ldw + n0 + kLanes * v);
    const Half wh = H ? load<Half>(WT + k * ldw + h0) : Half{};
    for (int r = 0; r < NP; ++r) {
      const float xr = x[r * K + k];
      const Vec xv = splat(xr);
      for (int v = 0; v < NV; ++v) acc[r][v] += xv * w[v];
      if (H) half[r][0] += splat<Half>(xr) * wh;
    }
  }
  for (int r = 0; r < NP; ++r) {
    float* o = out + (p0 + r) * N;
    for (int v = 0; v < NV; ++v)
      store_result(o + n0 + kLanes * v, finish(acc[r][v], e), N - n0 - kLanes * v, e);
    if (H) store_result(o + h0, finish(half[r][0], e), N - h0, e);
  }
}

// Rows p0 .. p0 + NP of pointwise(): tiles of three vectors, then what is left (up to
// 2.5 vectors) in one tile.
template <int NP>
void pointwise_rows(const float* X, int64_t p0, int64_t K, const float* WT, int64_t ldw,
                    const float* bias, int64_t N, float* out, Epilogue e) {
  int64_t n0 = 0;
  for (; N - n0 > 2 * kLanes + kHalf; n0 += 3 * kLanes)
    pointwise_tile<NP, 3, 0>(X, p0, K, WT, ldw, bias, N, n0, out, e);
  const int64_t rest = N - n0;
  if (rest > 2 * kLanes) pointwise_tile<NP, 2, 1>(X, p0, K, WT, ldw, bias, N, n0, out, e);
  else if (rest > kLanes + kHalf) pointwise_tile<NP, 2, 0>(X, p0, K, WT, ldw, bias, N, n0, out, e);
  else if (rest > kLanes) pointwise_tile<NP, 1, 1>(X, p0, K, WT, ldw, bias, N, n0, out, e);
  else if (rest > kHalf) pointwise_tile<NP, 1, 0>(X, p0, K, WT, ldw, bias, N, n0, out, e);
  else if (rest > 0) pointwise_tile<NP, 0, 1>(X, p0, K, WT, ldw, bias, N, n0, out, e);
}

inline int64_t padded(int64_t n) { return (n + kPad - 1) / kPad * kPad; }

// A 1x1 convolution over P pixels: out[p, :N] = e(bias + X[p, :K] @ WT), with WT the
// (K, N) transposed weight, its rows and the bias padded with zeros to whole vectors
// (padded(N)), so that the inner loop loads no partial vector.
void pointwise(const float* X, int64_t P, int64_t K, const float* WT, const float* bias,
               int64_t N, float* out, Epilogue e) {
  // Rows per tile: with AVX-512's 32 registers, 8 rows of 3 vectors (24 accumulators)
  // ran the deploy form about 6% faster than 4 rows (2 threads, processes alternated).
  constexpr int64_t rows = kLanes >= 16 ? 8 : 4;
  const int64_t ldw = padded(N);
  parallel_for(0, (P + rows - 1) / rows, grain(rows * K * ldw / kLanes, 8192),
                   [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t p0 = b * rows;
      if (P - p0 >= rows) {
        pointwise_rows<rows>(X, p0, K, WT, ldw, bias, N, out, e);
      } else {
        for (int64_t p = p0; p < P; ++p) pointwise_rows<1>(X, p, K, WT, ldw, bias, N, out, e);
      }
    }
  });
}

// One operand of a kernel (a weight or bias in the layout the kernels read): a view of
// the packed operands (see unpack_operands).
struct Operand {
  const float* ptr = nullptr;
  std::vector<int64_t> sizes;

  int64_t dim() const { return static_cast<int64_t>(sizes.size()); }
  int64_t size(int64_t i) const { return sizes.at(i < 0 ? i + dim() : i); }
  template <typename T>
  T* data_ptr() const { return const_cast<T*>(ptr); }
};

// A kernel's operands as the Python side packs them (pack_operands): one contiguous
// float32 array of `size` values holding each operand in turn from a multiple of kPad
// values, and an int64 layout of n values giving each operand's number of dimensions,
// then its sizes. One tensor and its layout per call, not a list: each tensor of a call
// costs the compiled graph a conversion and a guard.
std::vector<Operand> unpack_operands(const float* base, int64_t size, const int64_t* l,
                                     int64_t n, const char* op) {
  std::vector<Operand> out;
  int64_t offset = 0;
  for (int64_t i = 0; i < n;) {
    const int64_t dim = l[i++];
    LH_CHECK(dim >= 0 && i + dim <= n, op, ": malformed operand layout");
    Operand t;
    t.ptr = base + offset;
    t.sizes.assign(l + i, l + i + dim);
    i += dim;
    int64_t numel = 1;
    for (int64_t d : t.sizes) {
      LH_CHECK(d >= 0, op, ": malformed operand layout");
      numel *= d;
    }
    offset += padded(numel);
    LH_CHECK(offset <= size, op, ": the layout describes more than the ", size,
             " operand values");
    out.push_back(std::move(t));
  }
  LH_CHECK(offset == size, op, ": the layout describes ", offset, " of the ", size,
           " operand values");
  return out;
}

// A shape as text, for error messages.
inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Checks an operand's shape: the kernels read raw memory.
void check_operand(const Operand& t, std::vector<int64_t> shape, const char* op) {
  LH_CHECK(t.sizes == shape, op, ": expected an operand of shape ", shape_string(shape),
           ", got ", shape_string(t.sizes));
}

// Checks that a kernel got exactly `count` operands.
void check_count(const std::vector<Operand>& operands, size_t count, const char* op) {
  LH_CHECK(operands.size() == count, op, ": expected ", count, " operands, got ",
           operands.size());
}

// Channels c0 .. c0 + L of one output pixel of depthwise_stride2.
template <int L>
inline void depthwise_stride2_lanes(const float* in, int64_t H, int64_t W, int64_t C,
                                    const float* w9, const float* bias, float* out,
                                    int64_t oy, int64_t ox, int64_t c0) {
  typedef typename Lanes<L>::type V;
  V acc = load<V>(bias + c0);
  for (int64_t ky = 0; ky < 3; ++ky) {
    const int64_t iy = 2 * oy - 1 + ky;
    if (iy < 0 || iy >= H) continue;
    for (int64_t kx = 0; kx < 3; ++kx) {
      const int64_t ix = 2 * ox - 1 + kx;
      if (ix < 0 || ix >= W) continue;
      acc += load<V>(w9 + (ky * 3 + kx) * C + c0) * load<V>(in + (iy * W + ix) * C + c0);
    }
  }
  store<V>(out + c0, acc);
}

// Output row oy of depthwise_stride2 for C a multiple of L, L channels at a time: the
// nine taps of one vector held in registers, kBlock output pixels at a time sharing the
// loads of their windows' 2 kBlock + 1 columns; the first column and (for odd W) the last one of
// each output row read the padding.
template <int L>
void depthwise_stride2_row(const float* in, int64_t H, int64_t W, int64_t C, const float* w9,
                           const float* bias, float* out, int64_t oy) {
  typedef typename Lanes<L>::type V;
  const int64_t OW = (W - 1) / 2 + 1;
  for (int64_t cv = 0; cv < C; cv += L) {
    V t[9];
    for (int k = 0; k < 9; ++k) t[k] = load<V>(w9 + k * C + cv);
    const V b = load<V>(bias + cv);
    const float* rows[3];
    int nr = 0, first_tap[3];
    for (int r = 0; r < 3; ++r) {
      const int64_t iy = 2 * oy - 1 + r;
      if (iy >= 0 && iy < H) {
        rows[nr] = in + iy * W * C + cv;
        first_tap[nr++] = 3 * r;
      }
    }
    float* o = out + oy * OW * C + cv;
    auto single = [&](int64_t ox) {
      V acc = b;
      for (int r = 0; r < nr; ++r)
        for (int kx = 0; kx < 3; ++kx) {
          const int64_t ix = 2 * ox - 1 + kx;
          if (ix >= 0 && ix < W) acc += t[first_tap[r] + kx] * load<V>(rows[r] + ix * C);
        }
      store<V>(o + ox * C, acc);
    };
    single(0);
    const int64_t end = W % 2 == 1 ? OW - 1 : OW;  // outputs whose window fits
    int64_t ox = 1;
    for (; ox + kBlock <= end; ox += kBlock) {
      V acc[kBlock];
      for (int q = 0; q < kBlock; ++q) acc[q] = b;
      for (int r = 0; r < nr; ++r) {
        V x[2 * kBlock + 1];
        for (int j = 0; j < 2 * kBlock + 1; ++j) x[j] = load<V>(rows[r] + (2 * ox - 1 + j) * C);
        const V* tr = t + first_tap[r];
        for (int q = 0; q < kBlock; ++q)
          acc[q] += tr[0] * x[2 * q] + tr[1] * x[2 * q + 1] + tr[2] * x[2 * q + 2];
      }
      for (int q = 0; q < kBlock; ++q) store<V>(o + (ox + q) * C, acc[q]);
    }
    for (; ox < OW; ++ox) single(ox);
  }
}

// Depthwise 3x3 convolution, stride 2, padding 1, with bias: (H, W, C) -> (OH, OW, C).
// w9 is (9, C), tap-major.
void depthwise_stride2(const float* in, int64_t H, int64_t W, int64_t C, const float* w9,
                       const float* bias, float* out) {
  const int64_t OH = (H - 1) / 2 + 1, OW = (W - 1) / 2 + 1;
  if (C % kHalf == 0) {  // whole vectors, or (Lite-HRNet's 40 channels) half vectors
    parallel_for(0, OH, grain(OW * C), [&](int64_t b0, int64_t b1) {
      for (int64_t oy = b0; oy < b1; ++oy) {
        if (C % kLanes == 0) depthwise_stride2_row<kLanes>(in, H, W, C, w9, bias, out, oy);
        else depthwise_stride2_row<kHalf>(in, H, W, C, w9, bias, out, oy);
      }
    });
    return;
  }
  parallel_for(0, OH, grain(OW * C), [&](int64_t b0, int64_t b1) {
    for (int64_t oy = b0; oy < b1; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        float* o = out + (oy * OW + ox) * C;
        int64_t c0 = 0;
        for (; c0 + kLanes <= C; c0 += kLanes)
          depthwise_stride2_lanes<kLanes>(in, H, W, C, w9, bias, o, oy, ox, c0);
        for (; c0 + 4 <= C; c0 += 4) depthwise_stride2_lanes<4>(in, H, W, C, w9, bias, o, oy, ox, c0);
        for (; c0 < C; ++c0) {  // fewer than 4 channels left
          float acc = bias[c0];
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = 2 * oy - 1 + ky, ix = 2 * ox - 1 + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                acc += w9[(ky * 3 + kx) * C + c0] * in[(iy * W + ix) * C + c0];
            }
          o[c0] = acc;
        }
      }
  });
}

// A 3x3 depthwise convolution's weights (9, C) tap-major and bias (C) repeated along
// Q = lcm(C, kLanes) values (at most a row's W * C), so that each output row is nine
// multiply-adds over runs of Q pixels x channels, with the weights in L1 cache.
struct RowTaps {
  int64_t C, L, Q;
  Buffer taps, bias;
  RowTaps(const float* w9, const float* b, int64_t W, int64_t C_)
      : C(C_), L(W * C_), Q(std::min(L, C_ / std::gcd(C_, kLanes) * kLanes)), taps(9 * Q),
        bias(Q) {
    for (int64_t tap = 0; tap < 9; ++tap)
      for (int64_t i = 0; i < Q; ++i) taps[tap * Q + i] = w9[tap * C + i % C];
    for (int64_t i = 0; i < Q; ++i) bias[i] = b[i % C];
  }
  // Output row o (L values) of the depthwise convolution (stride 1, padding 1) from
  // the input rows above, at and below it, each zero-padded by one pixel on both ends.
  void row(const float* r0, const float* r1, const float* r2, float* o) const {
    const float* tp = taps.data();
    const float* b = bias.data();
    for (int64_t i0 = 0; i0 < L; i0 += Q) {  // Q divides W * C but at the end of a row
      const int64_t n = std::min(Q, L - i0);
      const float *a0 = r0 + i0, *a1 = r1 + i0, *a2 = r2 + i0;
      float* out = o + i0;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i)
        out[i] = b[i] + tp[i] * a0[i] + tp[Q + i] * a0[i + C] + tp[2 * Q + i] * a0[i + 2 * C] +
                 tp[3 * Q + i] * a1[i] + tp[4 * Q + i] * a1[i + C] +
                 tp[5 * Q + i] * a1[i + 2 * C] + tp[6 * Q + i] * a2[i] +
                 tp[7 * Q + i] * a2[i + C] + tp[8 * Q + i] * a2[i + 2 * C];
    }
  }
};

// Weights (9, C) tap-major and bias (C) of a 3x3 depthwise convolution zero-padded to
// Cp channels, a multiple of half a vector (Lite-HRNet's 20-channel halves run as 24
// on AVX-512, not 32), for images whose pixels are Cp values apart (row()).
struct PaddedTaps {
  int64_t C, Cp;
  std::vector<float> w9, bias;
  PaddedTaps(const float* w, const float* b, int64_t C_)
      : C(C_), Cp((C_ + kHalf - 1) / kHalf * kHalf), w9(9 * Cp, 0.f), bias(Cp, 0.f) {
    for (int64_t tap = 0; tap < 9; ++tap) std::copy(w + tap * C, w + (tap + 1) * C, &w9[tap * Cp]);
    std::copy(b, b + C, bias.begin());
  }
  // One output row (W pixels of Cp values) of the depthwise convolution (stride 1,
  // padding 1) from the input rows above, at and below it (W + 2 pixels of Cp values:
  // a zero pixel at both ends); sums, if given, accumulates its pixels (Cp values).
  void row(const float* r0, const float* r1, const float* r2, int64_t W, float* o,
           float* sums) const {
    int64_t cv = 0;
    for (; cv + kLanes <= Cp; cv += kLanes) row_lanes<Vec>(r0, r1, r2, W, o, sums, cv);
    if (cv < Cp) row_lanes<Lanes<kHalf>::type>(r0, r1, r2, W, o, sums, cv);
  }
  // Channels cv .. cv + lanes of row(), register-blocked: the nine taps of a vector of
  // channels stay in registers while kBlock output pixels at a time share the input
  // loads of their windows.
  template <typename V>
  void row_lanes(const float* r0, const float* r1, const float* r2, int64_t W, float* o,
                 float* sums, int64_t cv) const {
    V t[9];
    for (int k = 0; k < 9; ++k) t[k] = load<V>(&w9[k * Cp + cv]);
    const V b = load<V>(&bias[cv]);
    const float* rows[3] = {r0 + cv, r1 + cv, r2 + cv};
    V s = splat<V>(0.f);
    int64_t ox = 0;
    for (; ox + kBlock <= W; ox += kBlock) {
      V acc[kBlock];
      for (int q = 0; q < kBlock; ++q) acc[q] = b;
      for (int r = 0; r < 3; ++r) {
        V in[kBlock + 2];
        for (int j = 0; j < kBlock + 2; ++j) in[j] = load<V>(rows[r] + (ox + j) * Cp);
        for (int q = 0; q < kBlock; ++q)
          acc[q] += t[3 * r] * in[q] + t[3 * r + 1] * in[q + 1] + t[3 * r + 2] * in[q + 2];
      }
      for (int q = 0; q < kBlock; ++q) {
        store<V>(o + (ox + q) * Cp + cv, acc[q]);
        s += acc[q];
      }
    }
    for (; ox < W; ++ox) {
      V acc = b;
      for (int r = 0; r < 3; ++r) {
        const float* in = rows[r] + ox * Cp;
        acc += t[3 * r] * load<V>(in) + t[3 * r + 1] * load<V>(in + Cp) +
               t[3 * r + 2] * load<V>(in + 2 * Cp);
      }
      store<V>(o + ox * Cp + cv, acc);
      s += acc;
    }
    if (sums != nullptr) store<V>(sums + cv, load<V>(sums + cv) + s);
  }
};

// Depthwise 3x3 convolution, stride 1, padding 1, with bias, of t, the (H + 2, W + 2,
// C) input zero-padded by one pixel: (H, W, C) out.
void depthwise_stride1(const float* t, int64_t H, int64_t W, int64_t C, const float* w9,
                       const float* bias, float* out) {
  const RowTaps taps(w9, bias, W, C);
  const int64_t PL = (W + 2) * C;
  parallel_for(0, H, grain(9 * W * C), [&](int64_t y0, int64_t y1) {
    for (int64_t oy = y0; oy < y1; ++oy)
      taps.row(t + oy * PL, t + (oy + 1) * PL, t + (oy + 2) * PL, out + oy * taps.L);
  });
}

struct Band {
  int64_t k, y0, y1;  // image k, rows y0 .. y1 - 1
};

// Each image k's rows[k] rows cut into bands of about total / pieces values
// (row_work[k] per row), for balanced_for.
std::vector<Band> bands(const std::vector<int64_t>& rows, const std::vector<int64_t>& row_work,
                        int64_t pieces) {
  int64_t total = 0;
  for (size_t k = 0; k < rows.size(); ++k) total += rows[k] * row_work[k];
  std::vector<Band> out;
  for (size_t k = 0; k < rows.size(); ++k) {
    const int64_t step = std::max<int64_t>(1, total / pieces / std::max<int64_t>(1, row_work[k]));
    for (int64_t y = 0; y < rows[k]; y += step)
      out.push_back({static_cast<int64_t>(k), y, std::min(rows[k], y + step)});
  }
  return out;
}

// Runs fn(band, i) for every band i, the bands split into contiguous runs of about
// equal work (row_work[k] per row of image k), one run per thread.
template <typename F>
void balanced_for(const std::vector<Band>& items, const std::vector<int64_t>& row_work,
                  const F& fn) {
  int64_t total = 0;
  for (const auto& b : items) total += (b.y1 - b.y0) * row_work[b.k];
  const int64_t T = std::max<int64_t>(1, std::min<int64_t>(num_threads(), items.size()));
  parallel_for(0, T, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t done = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        const int64_t work = (items[i].y1 - items[i].y0) * row_work[items[i].k];
        if ((done + work / 2) * T / std::max<int64_t>(1, total) == t) fn(items[i], i);
        done += work;
      }
    }
  });
}

// A zero-padded (H + 2, W + 2, C) copy of an image: fill(y, row) writes row y's W * C
// values (the input of depthwise_stride1), rows in parallel.
template <typename F>
Buffer padded_image(int64_t H, int64_t W, int64_t C, const F& fill) {
  const int64_t PL = (W + 2) * C;
  Buffer t((H + 2) * PL);
  std::fill(t.data(), t.data() + PL, 0.f);
  std::fill(t.data() + (H + 1) * PL, t.data() + (H + 2) * PL, 0.f);
  parallel_for(0, H, grain(W * C), [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      float* row = t.data() + (y + 1) * PL + C;
      std::fill(row - C, row, 0.f);
      std::fill(row + W * C, row + (W + 1) * C, 0.f);
      fill(y, row);
    }
  });
  return t;
}

// padded_image of the (H, W, C) image x.
Buffer padded_copy(const float* x, int64_t H, int64_t W, int64_t C) {
  return padded_image(H, W, C, [&](int64_t y, float* row) {
    std::copy(x + y * W * C, x + (y + 1) * W * C, row);
  });
}

// A depthwise separable step of the deploy form on one image: 3x3 depthwise (padding
// 1, bias) with stride 1 or 2, then a 1x1 convolution (WT (C, padded(C_out)), bias) and
// a ReLU. For stride 1, in is the zero-padded (H + 2, W + 2, C) input (padded_image),
// for stride 2 the (H, W, C) one. out: (ceil(H / stride), ceil(W / stride), C_out).
void separable(const float* in, int64_t H, int64_t W, int64_t C, int64_t stride,
               const float* dw, const float* dw_bias, const float* WT, const float* bias,
               int64_t C_out, float* out) {
  const int64_t OH = (H - 1) / stride + 1, OW = (W - 1) / stride + 1;
  Buffer d(OH * OW * C);
  if (stride == 1) depthwise_stride1(in, H, W, C, dw, dw_bias, d.data());
  else depthwise_stride2(in, H, W, C, dw, dw_bias, d.data());
  pointwise(d.data(), OH * OW, C, WT, bias, C_out, out, Epilogue::kRelu);
}

// Source rows (or columns) and weights of a bilinear resize with align_corners=True
// from n to m pixels, as PyTorch's CPU kernel computes them.
struct BilinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> l0, l1;
  BilinearTaps(int64_t n, int64_t m) : i0(m), i1(m), l0(m), l1(m) {
    const float scale = m > 1 ? static_cast<float>(n - 1) / static_cast<float>(m - 1) : 0.f;
    for (int64_t o = 0; o < m; ++o) {
      const float real = scale * static_cast<float>(o);
      const int64_t a = static_cast<int64_t>(real);
      i0[o] = a;
      i1[o] = a + (a < n - 1 ? 1 : 0);
      l1[o] = std::min(std::max(real - static_cast<float>(a), 0.f), 1.f);
      l0[o] = 1.f - l1[o];
    }
  }
};

// Concatenation + channel shuffle of one pixel: out[2c] = a[c], out[2c + 1] = b[c] *
// scale[c] (scale may be null: 1).
inline void interleave(float* out, const float* a, const float* b, const float* scale,
                       int64_t C) {
  if (scale == nullptr) {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      out[2 * c] = a[c];
      out[2 * c + 1] = b[c];
    }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      out[2 * c] = a[c];
      out[2 * c + 1] = b[c] * scale[c];
    }
  }
}

// The host's inputs as channels-last images (a copy where one is not), checked to be
// 4-D float32.
std::vector<Tensor> channels_last_inputs(const std::vector<Tensor>& xs, const char* op);

// A new uninitialized (n, c, h, w) channels-last float32 image: the kernels' outputs,
// made in the order the kernel returns them.
Tensor empty_channels_last(int64_t n, int64_t c, int64_t h, int64_t w, const Tensor& like);

// One conditional channel weighting block of the deploy form (folded norms), all
// branches. xs[k]: (N, 2 C_k, H_k, W_k), each H_k, W_k a multiple of the last branch's.
// Cross-resolution weighting: transposed FC weights cw1t (S, padded(hidden)) and cw2t
// (hidden, padded(S)), S = sum C_k, biases padded alike; depthwise dw_weights[k]
// (9, C_k) tap-major; spatial weighting of branch k: sw1t[k] (C_k, h_k), sw2t[k]
// (h_k, C_k). Returns the shuffled branches.
std::vector<Tensor> conditional_channel_weighting(
    const std::vector<Tensor>& inputs, const Operand& cw1t, const Operand& cb1,
    const Operand& cw2t, const Operand& cb2, const std::vector<Operand>& dw_weights,
    const std::vector<Operand>& dw_biases, const std::vector<Operand>& sw1t,
    const std::vector<Operand>& sb1, const std::vector<Operand>& sw2t,
    const std::vector<Operand>& sb2) {
  const char* op = "conditional_channel_weighting";
  const auto xs = channels_last_inputs(inputs, op);
  const int64_t B = xs.size(), N = xs[0].size(0);
  const int64_t h = xs[B - 1].size(2), w = xs[B - 1].size(3), hw = h * w;
  LH_CHECK(hw > 0, op, ": the smallest branch must not be empty");
  std::vector<int64_t> C(B), H(B), W(B), off(B);
  int64_t S = 0;
  for (int64_t k = 0; k < B; ++k) {
    C[k] = xs[k].size(1) / 2;
    H[k] = xs[k].size(2);
    W[k] = xs[k].size(3);
    LH_CHECK(H[k] % h == 0 && W[k] % w == 0, op, ": branch sizes must divide");
    off[k] = S;
    S += C[k];
  }
  const int64_t hidden = cw2t.size(0);
  check_operand(cw1t, {S, padded(hidden)}, op);
  check_operand(cb1, {padded(hidden)}, op);
  check_operand(cw2t, {hidden, padded(S)}, op);
  check_operand(cb2, {padded(S)}, op);
  LH_CHECK(dw_weights.size() == static_cast<size_t>(B) && dw_biases.size() == dw_weights.size() &&
                  sw1t.size() == dw_weights.size() && sb1.size() == dw_weights.size() &&
                  sw2t.size() == dw_weights.size() && sb2.size() == dw_weights.size(),
              op, ": expected one depthwise and spatial weighting per branch");
  for (int64_t k = 0; k < B; ++k) {
    const int64_t hk = sw1t[k].dim() == 2 ? sw1t[k].size(1) : 0;
    check_operand(dw_weights[k], {9, C[k]}, op);
    check_operand(dw_biases[k], {C[k]}, op);
    check_operand(sw1t[k], {C[k], hk}, op);
    check_operand(sb1[k], {hk}, op);
    check_operand(sw2t[k], {hk, C[k]}, op);
    check_operand(sb2[k], {C[k]}, op);
  }
  std::vector<Tensor> outs;
  for (int64_t k = 0; k < B; ++k) outs.push_back(empty_channels_last(N, 2 * C[k], H[k], W[k], xs[k]));
  Buffer pooled(hw * S), mlp(hw * hidden), weights(hw * S);
  // The work is cut into bands of rows across the branches, of about equal size, and
  // the bands split between the threads (the first branch alone is about half).
  const int64_t pieces = 8 * num_threads();
  std::vector<int64_t> pool_rows(B, h), pool_work(B), row_work(B);
  for (int64_t k = 0; k < B; ++k) {
    pool_work[k] = H[k] / h * W[k] * C[k];
    row_work[k] = W[k] * C[k];
  }
  const std::vector<Band> pool_bands = bands(pool_rows, pool_work, pieces);
  const std::vector<Band> row_bands = bands(H, row_work, pieces);
  std::vector<PaddedTaps> taps;
  std::vector<Buffer> d;  // the depthwise outputs, channels padded (PaddedTaps::Cp)
  for (int64_t k = 0; k < B; ++k) {
    taps.emplace_back(dw_weights[k].data_ptr<float>(), dw_biases[k].data_ptr<float>(), C[k]);
    d.emplace_back(H[k] * W[k] * taps[k].Cp);
  }
  std::vector<std::vector<float>> band_sums(row_bands.size());
  for (int64_t n = 0; n < N; ++n) {
    auto input = [&](int64_t k) { return xs[k].data_ptr<float>() + n * H[k] * W[k] * 2 * C[k]; };
    // Cross-resolution weighting: every second half average-pooled to the smallest size.
    balanced_for(pool_bands, pool_work, [&](const Band& band, size_t) {
      const int64_t k = band.k, Ck = C[k], c2 = 2 * Ck, Wk = W[k], fy = H[k] / h, fx = Wk / w;
      const float* x = input(k);
      const float scale = 1.f / (fy * fx);
      Buffer row(w * Ck);
      for (int64_t py = band.y0; py < band.y1; ++py) {
        std::fill(row.data(), row.data() + w * Ck, 0.f);
        for (int64_t iy = py * fy; iy < (py + 1) * fy; ++iy)
          for (int64_t ix = 0; ix < Wk; ++ix) {
            const float* src = x + (iy * Wk + ix) * c2 + Ck;
            float* dst = row.data() + (ix / fx) * Ck;
#pragma omp simd
            for (int64_t c = 0; c < Ck; ++c) dst[c] += src[c];
          }
        for (int64_t px = 0; px < w; ++px) {
          float* dst = pooled.data() + (py * w + px) * S + off[k];
          const float* src = row.data() + px * Ck;
          for (int64_t c = 0; c < Ck; ++c) dst[c] = src[c] * scale;
        }
      }
    });
    pointwise(pooled.data(), hw, S, cw1t.data_ptr<float>(), cb1.data_ptr<float>(), hidden,
              mlp.data(), Epilogue::kRelu);
    pointwise(mlp.data(), hw, hidden, cw2t.data_ptr<float>(), cb2.data_ptr<float>(), S,
              weights.data(), Epilogue::kSigmoid);
    const float* A = weights.data();
    // Depthwise 3x3 of the weighted second halves, a band of rows at a time: the input
    // rows it reads (one more above and below) weighted into three zero-padded rows
    // (channels padded to whole vectors), and its outputs summed for the spatial
    // weighting's average.
    for (size_t b = 0; b < row_bands.size(); ++b)
      band_sums[b].assign(taps[row_bands[b].k].Cp, 0.f);
    balanced_for(row_bands, row_work, [&](const Band& band, size_t b) {
      const int64_t k = band.k, Ck = C[k], c2 = 2 * Ck, Hk = H[k], Wk = W[k];
      const int64_t fy = Hk / h, fx = Wk / w, Cp = taps[k].Cp, PL = (Wk + 2) * Cp;
      const float* x = input(k);
      std::vector<float> ring(3 * PL, 0.f);
      auto slot = [&](int64_t y) { return ring.data() + (y + 3) % 3 * PL; };
      auto weighted = [&](int64_t iy) {
        float* dst = slot(iy) + Cp;
        if (iy < 0 || iy >= Hk) {
          std::fill(dst, dst + Wk * Cp, 0.f);
          return;
        }
        const float* arow = A + (iy / fy) * w * S + off[k];
        for (int64_t ix = 0; ix < Wk; ++ix) {
          const float* src = x + (iy * Wk + ix) * c2 + Ck;
          const float* a = arow + (ix / fx) * S;
          float* out = dst + ix * Cp;
#pragma omp simd
          for (int64_t c = 0; c < Ck; ++c) out[c] = src[c] * a[c];
        }
      };
      weighted(band.y0 - 1);
      weighted(band.y0);
      for (int64_t oy = band.y0; oy < band.y1; ++oy) {
        weighted(oy + 1);
        taps[k].row(slot(oy - 1), slot(oy), slot(oy + 1), Wk, d[k].data() + oy * Wk * Cp,
                    band_sums[b].data());
      }
    });
    // Spatial weighting: global average, FC-ReLU, FC-sigmoid.
    std::vector<std::vector<float>> scales(B);
    for (int64_t k = 0; k < B; ++k) {
      const int64_t Ck = C[k], hk = sw1t[k].size(1);
      std::vector<float> mean(Ck, 0.f), hid(hk), scale(Ck);
      for (size_t b = 0; b < row_bands.size(); ++b) {
        if (row_bands[b].k != k) continue;
        for (int64_t c = 0; c < Ck; ++c) mean[c] += band_sums[b][c];
      }
      for (int64_t c = 0; c < Ck; ++c) mean[c] /= static_cast<float>(H[k] * W[k]);
      const float* w1 = sw1t[k].data_ptr<float>();
      const float* w2 = sw2t[k].data_ptr<float>();
      const float* b1 = sb1[k].data_ptr<float>();
      const float* b2 = sb2[k].data_ptr<float>();
      std::copy(b1, b1 + hk, hid.begin());
      for (int64_t c = 0; c < Ck; ++c)
        for (int64_t j = 0; j < hk; ++j) hid[j] += mean[c] * w1[c * hk + j];
      std::copy(b2, b2 + Ck, scale.begin());
      for (int64_t j = 0; j < hk; ++j) {
        const float v = std::max(hid[j], 0.f);
        for (int64_t c = 0; c < Ck; ++c) scale[c] += v * w2[j * Ck + c];
      }
      for (int64_t c = 0; c < Ck; ++c) scale[c] = sigmoid(scale[c]);
      scales[k] = std::move(scale);
    }
    // Concatenation + channel shuffle: channel 2c is the first half's c, 2c + 1 the
    // weighted branch's c.
    balanced_for(row_bands, row_work, [&](const Band& band, size_t) {
      const int64_t k = band.k, Ck = C[k], c2 = 2 * Ck;
      const float* x = input(k);
      float* out = outs[k].data_ptr<float>() + n * H[k] * W[k] * c2;
      for (int64_t p = band.y0 * W[k]; p < band.y1 * W[k]; ++p)
        interleave(out + p * c2, x + p * c2, d[k].data() + p * taps[k].Cp, scales[k].data(), Ck);
    });
  }
  return outs;
}

// The legacy multi-resolution fusion of the deploy form and the ReLU after it, for B
// inputs and B outputs (input j is 2^j times smaller than input 0). params, in the
// order output i, input j: j > i: [WT (C_j, padded(C_i)), bias]; j < i: per stride-2
// step [depthwise (9, C_j), bias, WT (C_j, padded(C_out)), bias]; biases of products
// padded like their weights. The released arithmetic: z0 =
// x0 + x0 + the upsampled paths; output i > 0 = 2 * path(z0) + x_i + the other paths.
std::vector<Tensor> multi_resolution_fusion(const std::vector<Tensor>& inputs,
                                            const std::vector<Operand>& params) {
  const char* op = "multi_resolution_fusion";
  const auto xs = channels_last_inputs(inputs, op);
  const int64_t B = xs.size(), N = xs[0].size(0);
  std::vector<int64_t> C(B), H(B), W(B);
  for (int64_t k = 0; k < B; ++k) {
    C[k] = xs[k].size(1);
    H[k] = xs[k].size(2);
    W[k] = xs[k].size(3);
    LH_CHECK(H[k] << k == H[0] && W[k] << k == W[0], op,
                ": branch k must be 2^k times smaller");
  }
  std::vector<std::vector<int64_t>> first(B, std::vector<int64_t>(B, -1));
  int64_t count = 0;
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j) {
      first[i][j] = count;
      count += j > i ? 2 : j < i ? 4 * (i - j) : 0;
    }
  LH_CHECK(count == static_cast<int64_t>(params.size()), op, ": expected ", count,
              " parameters, got ", params.size());
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j) {
      const int64_t q = first[i][j];
      if (j > i) {
        check_operand(params[q], {C[j], padded(C[i])}, op);
        check_operand(params[q + 1], {padded(C[i])}, op);
      }
      for (int64_t s = 0; j < i && s < i - j; ++s) {
        const int64_t c_out = s == i - j - 1 ? C[i] : C[j];
        check_operand(params[q + 4 * s], {9, C[j]}, op);
        check_operand(params[q + 4 * s + 1], {C[j]}, op);
        check_operand(params[q + 4 * s + 2], {C[j], padded(c_out)}, op);
        check_operand(params[q + 4 * s + 3], {padded(c_out)}, op);
      }
    }
  auto param = [&](int64_t q) { return params[q].data_ptr<float>(); };
  std::vector<Tensor> outs;
  for (int64_t k = 0; k < B; ++k) outs.push_back(empty_channels_last(N, C[k], H[k], W[k], xs[k]));
  // low[i][j], j > i: branch j's product for output i, before its upsampling.
  std::vector<std::vector<Buffer>> low(B);
  for (auto& row : low) row.resize(B);
  Buffer z0(H[0] * W[0] * C[0]), step_in, step_out;
  for (int64_t n = 0; n < N; ++n) {
    auto input = [&](int64_t k) { return xs[k].data_ptr<float>() + n * H[k] * W[k] * C[k]; };
    auto output = [&](int64_t k) { return outs[k].data_ptr<float>() + n * H[k] * W[k] * C[k]; };
    auto downsampled = [&](float* y, const float* src, int64_t i, int64_t j, Epilogue e) {
      int64_t q = first[i][j], h = H[j], w = W[j];
      const int64_t c = C[j];
      for (int64_t s = 0; s < i - j; ++s, q += 4) {
        const int64_t oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        step_out.resize(oh * ow * c);
        depthwise_stride2(src, h, w, c, param(q), param(q + 1), step_out.data());
        if (s == i - j - 1) {
          pointwise(step_out.data(), oh * ow, c, param(q + 2), param(q + 3), C[i], y, e);
        } else {
          step_in.resize(oh * ow * c);
          pointwise(step_out.data(), oh * ow, c, param(q + 2), param(q + 3), c, step_in.data(),
                    Epilogue::kRelu);
          src = step_in.data();
        }
        h = oh;
        w = ow;
      }
    };
    // out = relu(a + b + the upsampled low[i][j > i]), pre = the sum before the ReLU.
    // Each pixel's channels are summed in registers, a vector at a time.
    auto sum_and_relu = [&](int64_t i, const float* a, const float* b, float* pre, float* out) {
      const int64_t c = C[i], w = W[i];
      parallel_for(0, H[i], grain(w * c * B, 8192), [&](int64_t y0, int64_t y1) {
        std::vector<const float*> rows(B);  // the rows of low[i][j > i] that row y reads
        // Channels e .. e + L of the pixel at p, column x, L = lanes.
        auto channels = [&](auto lanes, int64_t p, int64_t x, int64_t e) {
          typedef typename Lanes<decltype(lanes)::value>::type V;
          V v = load<V>(a + p + e) + load<V>(b + p + e);
          for (int64_t j = i + 1; j < B; ++j) v += load<V>(rows[j] + (x >> (j - i)) * c + e);
          if (pre != nullptr) store<V>(pre + p + e, v);
          store<V>(out + p + e, relu(v));
        };
        for (int64_t y = y0; y < y1; ++y) {
          for (int64_t j = i + 1; j < B; ++j) rows[j] = low[i][j].data() + (y >> (j - i)) * W[j] * c;
          for (int64_t x = 0; x < w; ++x) {
            const int64_t p = (y * w + x) * c;
            int64_t e = 0;  // whole vectors, then (Lite-HRNet's 40 channels) halves and quarters
            for (; e + kLanes <= c; e += kLanes) channels(std::integral_constant<int, kLanes>(), p, x, e);
            for (; e + kHalf <= c; e += kHalf) channels(std::integral_constant<int, kHalf>(), p, x, e);
            constexpr int kQuarter = kLanes >= 8 ? kLanes / 4 : kHalf;  // (no 1-lane vectors)
            for (; e + kQuarter <= c; e += kQuarter) channels(std::integral_constant<int, kQuarter>(), p, x, e);
            for (; e < c; ++e) {
              float v = a[p + e] + b[p + e];
              for (int64_t j = i + 1; j < B; ++j) v += rows[j][(x >> (j - i)) * c + e];
              if (pre != nullptr) pre[p + e] = v;
              out[p + e] = std::max(v, 0.f);
            }
          }
        }
      });
    };
    for (int64_t j = 1; j < B; ++j)
      for (int64_t i = 0; i < j; ++i) {
        low[i][j].resize(H[j] * W[j] * C[i]);
        pointwise(input(j), H[j] * W[j], C[j], param(first[i][j]), param(first[i][j] + 1), C[i],
                  low[i][j].data(), Epilogue::kStore);
      }
    // The released order of additions: z0 = x0 + x0 + the upsampled paths; output i > 0
    // = path(z0) + path(z0) + the paths from the higher branches + x_i + the upsampled
    // paths.
    sum_and_relu(0, input(0), input(0), z0.data(), output(0));
    for (int64_t i = 1; i < B; ++i) {
      float* y = output(i);
      downsampled(y, z0.data(), i, 0, Epilogue::kTwice);
      for (int64_t j = 1; j < i; ++j) downsampled(y, input(j), i, j, Epilogue::kAdd);
      sum_and_relu(i, y, input(i), nullptr, y);
    }
  }
  return outs;
}

// A ShuffleNet V2 unit with stride 1 in the deploy form (Naive Lite-HRNet's block): the
// second half of x through 1x1-ReLU, 3x3 depthwise, 1x1-ReLU (folded norms), then
// concatenated with the first half and shuffled. x: (N, 2C, H, W); w1t, w2t (C,
// padded(C)) transposed weights with padded biases; dw (9, C) tap-major, dw_bias (C).
Tensor shuffle_unit(const Tensor& input, const Operand& w1t, const Operand& b1,
                    const Operand& dw, const Operand& dw_bias, const Operand& w2t,
                    const Operand& b2) {
  const char* op = "shuffle_unit";
  const Tensor x = channels_last_inputs({input}, op)[0];
  const int64_t N = x.size(0), C = x.size(1) / 2, H = x.size(2), W = x.size(3), P = H * W;
  check_operand(w1t, {C, padded(C)}, op);
  check_operand(b1, {padded(C)}, op);
  check_operand(dw, {9, C}, op);
  check_operand(dw_bias, {C}, op);
  check_operand(w2t, {C, padded(C)}, op);
  check_operand(b2, {padded(C)}, op);
  LH_CHECK(x.size(1) == 2 * C, op, ": expected an even number of channels");
  Tensor out = empty_channels_last(N, 2 * C, H, W, x);
  Buffer second(P * C), mid(P * C), last(P * C);
  for (int64_t n = 0; n < N; ++n) {
    const float* xn = x.data_ptr<float>() + n * P * 2 * C;
    float* on = out.data_ptr<float>() + n * P * 2 * C;
    for (int64_t p = 0; p < P; ++p) std::copy(xn + p * 2 * C + C, xn + (p + 1) * 2 * C, &second[p * C]);
    pointwise(second.data(), P, C, w1t.data_ptr<float>(), b1.data_ptr<float>(), C, mid.data(), Epilogue::kRelu);
    const Buffer padded_in = padded_copy(mid.data(), H, W, C);
    depthwise_stride1(padded_in.data(), H, W, C, dw.data_ptr<float>(), dw_bias.data_ptr<float>(),
                      second.data());
    pointwise(second.data(), P, C, w2t.data_ptr<float>(), b2.data_ptr<float>(), C, last.data(), Epilogue::kRelu);
    for (int64_t p = 0; p < P; ++p)
      interleave(on + p * 2 * C, xn + p * 2 * C, &last[p * C], nullptr, C);
  }
  return out;
}

// The deploy form's stem (MergedBranchStem): a dense 3x3 stride-2 convolution + ReLU,
// a 1x1 + ReLU, a 3x3 depthwise stride 2, a 1x1 + ReLU. The first `passed` channels of
// the first convolution go through the second unchanged (its identity rows: they are
// not multiplied), which expands the others. params: the first convolution's WT (9
// C_in, padded(C_1)), rows in (ky, kx, c) order, and bias; the expansion's WT (C_1 -
// passed, padded(C_2 - passed)) and bias; the depthwise (9, C_2) and bias; the last WT
// (C_2, padded(out_channels)) and bias.
Tensor stem(const Tensor& input, const std::vector<Operand>& params, int64_t passed,
            int64_t out_channels) {
  const char* op = "stem";
  const Tensor x = channels_last_inputs({input}, op)[0];
  check_count(params, 8, op);
  const int64_t N = x.size(0), C_in = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t C2 = params[4].size(-1), C1 = params[2].size(0) + passed, C3 = out_channels;
  const int64_t K = 9 * C_in, E = C2 - passed;
  LH_CHECK(passed >= 0 && E > 0, op, ": cannot pass ", passed, " of ", C2, " channels");
  check_operand(params[0], {K, padded(C1)}, op);
  check_operand(params[1], {padded(C1)}, op);
  check_operand(params[2], {C1 - passed, padded(E)}, op);
  check_operand(params[3], {padded(E)}, op);
  check_operand(params[4], {9, C2}, op);
  check_operand(params[5], {C2}, op);
  check_operand(params[6], {C2, padded(C3)}, op);
  check_operand(params[7], {padded(C3)}, op);
  auto param = [&](int64_t q) { return params[q].data_ptr<float>(); };
  const int64_t H1 = (H - 1) / 2 + 1, W1 = (W - 1) / 2 + 1;
  const int64_t H2 = (H1 - 1) / 2 + 1, W2 = (W1 - 1) / 2 + 1;
  Tensor out = empty_channels_last(N, C3, H2, W2, x);
  Buffer expanded(H1 * W1 * C2), d(H2 * W2 * C2);
  for (int64_t n = 0; n < N; ++n) {
    const float* xn = x.data_ptr<float>() + n * H * W * C_in;
    // The first two convolutions, an output row at a time (it stays in cache): the
    // first one's 3x3 x C_in windows as the rows of a matrix product.
    parallel_for(0, H1, 1, [&](int64_t b0, int64_t b1) {
      Buffer windows(W1 * K), first(W1 * C1), rest(W1 * (C1 - passed)), expansion(W1 * E);
      for (int64_t oy = b0; oy < b1; ++oy) {
        for (int64_t ky = 0; ky < 3; ++ky) {
          const int64_t iy = 2 * oy - 1 + ky;
          for (int64_t ox = 0; ox < W1; ++ox) {
            float* dst = windows.data() + ox * K + ky * 3 * C_in;
            const int64_t ix = 2 * ox - 1;
            if (iy < 0 || iy >= H) {
              std::fill(dst, dst + 3 * C_in, 0.f);
            } else if (ix >= 0 && ix + 2 < W) {  // three pixels in a row
              std::copy(xn + (iy * W + ix) * C_in, xn + (iy * W + ix + 3) * C_in, dst);
            } else {
              for (int64_t kx = 0; kx < 3; ++kx)
                for (int64_t c = 0; c < C_in; ++c)
                  dst[kx * C_in + c] =
                      ix + kx >= 0 && ix + kx < W ? xn[(iy * W + ix + kx) * C_in + c] : 0.f;
            }
          }
        }
        pointwise(windows.data(), W1, K, param(0), param(1), C1, first.data(), Epilogue::kRelu);
        for (int64_t ox = 0; ox < W1; ++ox)
          std::copy(&first[ox * C1 + passed], &first[(ox + 1) * C1], &rest[ox * (C1 - passed)]);
        pointwise(rest.data(), W1, C1 - passed, param(2), param(3), E, expansion.data(), Epilogue::kRelu);
        float* row = expanded.data() + oy * W1 * C2;
        for (int64_t ox = 0; ox < W1; ++ox) {
          std::copy(&first[ox * C1], &first[ox * C1 + passed], row + ox * C2);
          std::copy(&expansion[ox * E], &expansion[(ox + 1) * E], row + ox * C2 + passed);
        }
      }
    });
    depthwise_stride2(expanded.data(), H1, W1, C2, param(4), param(5), d.data());
    pointwise(d.data(), H2 * W2, C2, param(6), param(7), C3,
              out.data_ptr<float>() + n * H2 * W2 * C3, Epilogue::kRelu);
  }
  return out;
}

// A depthwise separable step and its ReLU (a transition's path; see separable):
// x (N, C, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)); dw (9, C)
// tap-major and dw_bias (C); WT (C, padded(out_channels)) and bias (padded).
Tensor depthwise_separable(const Tensor& input, int64_t stride, int64_t out_channels,
                           const Operand& dw, const Operand& dw_bias, const Operand& WT,
                           const Operand& bias) {
  const char* op = "depthwise_separable";
  LH_CHECK(stride == 1 || stride == 2, op, ": stride must be 1 or 2, got ", stride);
  const Tensor x = channels_last_inputs({input}, op)[0];
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = (H - 1) / stride + 1, OW = (W - 1) / stride + 1, D = out_channels;
  check_operand(dw, {9, C}, op);
  check_operand(dw_bias, {C}, op);
  check_operand(WT, {C, padded(D)}, op);
  check_operand(bias, {padded(D)}, op);
  Tensor out = empty_channels_last(N, D, OH, OW, x);
  for (int64_t n = 0; n < N; ++n) {
    const float* xn = x.data_ptr<float>() + n * H * W * C;
    Buffer t;
    if (stride == 1) t = padded_copy(xn, H, W, C);
    separable(stride == 1 ? t.data() : xn, H, W, C, stride, dw.data_ptr<float>(),
              dw_bias.data_ptr<float>(), WT.data_ptr<float>(), bias.data_ptr<float>(), D,
              out.data_ptr<float>() + n * OH * OW * D);
  }
  return out;
}

// The iterative head's output k has the channels of branch k - 1 (the first its own).
int64_t head_width(const std::vector<Tensor>& xs, size_t k) { return xs[k > 0 ? k - 1 : 0].size(1); }

// Released Lite-HRNet's iterative head (deploy form): from the lowest-resolution branch
// up, each branch plus the previous output (bilinear, align_corners=True) through a
// depthwise separable step and its ReLU, to the next branch's width (the highest keeps
// its own). xs: highest resolution first; params, lowest branch first, four per step:
// dw (9, C_k), bias, WT (C_k, padded(D_k)), bias. Returns the outputs, highest first.
std::vector<Tensor> iterative_head(const std::vector<Tensor>& inputs,
                                   const std::vector<Operand>& params) {
  const char* op = "iterative_head";
  const auto xs = channels_last_inputs(inputs, op);
  const int64_t B = xs.size(), N = xs[0].size(0);
  LH_CHECK(static_cast<int64_t>(params.size()) == 4 * B, op, ": expected ", 4 * B,
              " parameters, got ", params.size());
  std::vector<Tensor> outs(B);
  for (int64_t s = 0; s < B; ++s) {
    const int64_t k = B - 1 - s, C = xs[k].size(1), D = head_width(xs, k);
    check_operand(params[4 * s], {9, C}, op);
    check_operand(params[4 * s + 1], {C}, op);
    check_operand(params[4 * s + 2], {C, padded(D)}, op);
    check_operand(params[4 * s + 3], {padded(D)}, op);
  }
  for (int64_t k = 0; k < B; ++k)  // in order: packed() returns them so
    outs[k] = empty_channels_last(N, head_width(xs, k), xs[k].size(2), xs[k].size(3), xs[k]);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t s = 0; s < B; ++s) {
      const int64_t k = B - 1 - s, C = xs[k].size(1), H = xs[k].size(2), W = xs[k].size(3);
      const float* x = xs[k].data_ptr<float>() + n * H * W * C;
      Buffer t;
      if (s == 0) {
        t = padded_copy(x, H, W, C);
      } else {
        const int64_t h = outs[k + 1].size(2), w = outs[k + 1].size(3);
        const float* prev = outs[k + 1].data_ptr<float>() + n * h * w * C;
        const BilinearTaps ty(h, H), tx(w, W);
        t = padded_image(H, W, C, [&](int64_t y, float* row) {
          const float* r0 = prev + ty.i0[y] * w * C;
          const float* r1 = prev + ty.i1[y] * w * C;
          const float a0 = ty.l0[y], a1 = ty.l1[y];
          for (int64_t ox = 0; ox < W; ++ox) {
            const int64_t c0 = tx.i0[ox] * C, c1 = tx.i1[ox] * C;
            const float b0 = tx.l0[ox], b1 = tx.l1[ox];
            const float* src = x + (y * W + ox) * C;
            float* dst = row + ox * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c)
              dst[c] = src[c] + (a0 * (b0 * r0[c0 + c] + b1 * r0[c1 + c]) +
                                 a1 * (b0 * r1[c0 + c] + b1 * r1[c1 + c]));
          }
        });
      }
      separable(t.data(), H, W, C, 1, params[4 * s].data_ptr<float>(),
                params[4 * s + 1].data_ptr<float>(), params[4 * s + 2].data_ptr<float>(),
                params[4 * s + 3].data_ptr<float>(), outs[k].size(1),
                outs[k].data_ptr<float>() + n * H * W * outs[k].size(1));
    }
  }
  return outs;
}


// The kernels on their operands as unpack_operands gives them.
std::vector<Tensor> conditional_channel_weighting(const std::vector<Tensor>& xs,
                                                  const std::vector<Operand>& v) {
  // cw1t, cb1, cw2t, cb2, then per branch in turn: depthwise weights and biases, the
  // spatial weighting's sw1t, sb1, sw2t, sb2.
  check_count(v, 4 + 6 * xs.size(), "conditional_channel_weighting");
  auto list = [&](size_t i) {
    return std::vector<Operand>(v.begin() + 4 + i * xs.size(), v.begin() + 4 + (i + 1) * xs.size());
  };
  return conditional_channel_weighting(xs, v[0], v[1], v[2], v[3], list(0), list(1), list(2),
                                       list(3), list(4), list(5));
}

Tensor shuffle_unit(const Tensor& x, const std::vector<Operand>& v) {
  check_count(v, 6, "shuffle_unit");
  return shuffle_unit(x, v[0], v[1], v[2], v[3], v[4], v[5]);
}

Tensor depthwise_separable(const Tensor& x, int64_t stride, int64_t out_channels,
                           const std::vector<Operand>& v) {
  check_count(v, 4, "depthwise_separable");
  return depthwise_separable(x, stride, out_channels, v[0], v[1], v[2], v[3]);
}

// Every kernel with one signature: the branches, the operands as unpack_operands gives
// them, and the int arguments in the order of KERNEL_OPS (kernels/ops.py). The hosts
// without PyTorch (ONNX Runtime, the standalone one) call the kernels through it.
using KernelRun = std::vector<Tensor> (*)(const std::vector<Tensor>&,
                                          const std::vector<Operand>&, const int64_t*);
using Branches = std::vector<Tensor>;
using Operands = std::vector<Operand>;

struct NamedKernel {
  const char* name;  // as torch.ops.mmpose_litehrnet.<name>
  KernelRun run;
};

const NamedKernel kNamedKernels[] = {
    {"stem",
     [](const Branches& xs, const Operands& v, const int64_t* a) {
       return Branches{stem(xs.at(0), v, a[0], a[1])};
     }},
    {"depthwise_separable",
     [](const Branches& xs, const Operands& v, const int64_t* a) {
       return Branches{depthwise_separable(xs.at(0), a[0], a[1], v)};
     }},
    {"shuffle_unit",
     [](const Branches& xs, const Operands& v, const int64_t*) {
       return Branches{shuffle_unit(xs.at(0), v)};
     }},
    {"conditional_channel_weighting",
     [](const Branches& xs, const Operands& v, const int64_t*) {
       return conditional_channel_weighting(xs, v);
     }},
    {"multi_resolution_fusion",
     [](const Branches& xs, const Operands& v, const int64_t*) {
       return multi_resolution_fusion(xs, v);
     }},
    {"iterative_head",
     [](const Branches& xs, const Operands& v, const int64_t*) { return iterative_head(xs, v); }},
};

// The kernel called `name` (its PyTorch name).
KernelRun named_kernel(const std::string& name) {
  for (const NamedKernel& kernel : kNamedKernels)
    if (name == kernel.name) return kernel.run;
  LH_CHECK(false, "mmpose_litehrnet: no kernel called ", name);
  return nullptr;
}

}  // namespace
