// A CPU emulation of the CUDA features kernels.cu uses, so that its kernels run here as C++
// (tests/cuda_emulated.rs): every block runs after the previous one; a block's threads are
// std::threads; __syncthreads is a barrier of the block, and a warp's collectives (__shfl_sync,
// __ballot_sync, __match_any_sync, __syncwarp) exchange values through slots between barriers
// of its 32 threads; __shared__ arrays are statics (one block at a time); integer atomics are
// std::atomic_ref; float4 is a 16-byte aligned struct and __fmaf_rn is std::fma (correctly
// rounded, as the GPU's). Compiled with -ffp-contract=off, as NVRTC compiles with --fmad=false.
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

struct Dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local Dim3 threadIdx, blockIdx;
Dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct alignas(16) float4 { float x, y, z, w; };

struct Warp {
    std::barrier<> bar{32};
    uint64_t slots[32];
};
std::unique_ptr<std::barrier<>> g_block;
std::vector<std::unique_ptr<Warp>> g_warps;

inline Warp& my_warp() { return *g_warps[threadIdx.x / 32]; }
inline int my_lane() { return threadIdx.x % 32; }

inline void __syncthreads() { g_block->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { my_warp().bar.arrive_and_wait(); }

template <class T> uint64_t to_bits(T v) { uint64_t b = 0; std::memcpy(&b, &v, sizeof(T)); return b; }
template <class T> T from_bits(uint64_t b) { T v; std::memcpy(&v, &b, sizeof(T)); return v; }

template <class T> T shfl_from(T v, int src) {
    Warp& w = my_warp();
    w.slots[my_lane()] = to_bits(v);
    w.bar.arrive_and_wait();
    T r = from_bits<T>(w.slots[src & 31]);
    w.bar.arrive_and_wait();
    return r;
}
template <class T> T __shfl_sync(unsigned, T v, int src) { return shfl_from(v, src); }
template <class T> T __shfl_xor_sync(unsigned, T v, int offset) { return shfl_from(v, my_lane() ^ offset); }

inline unsigned __ballot_sync(unsigned, bool pred) {
    Warp& w = my_warp();
    w.slots[my_lane()] = pred ? 1 : 0;
    w.bar.arrive_and_wait();
    unsigned mask = 0;
    for (int l = 0; l < 32; ++l) mask |= (w.slots[l] ? 1u : 0u) << l;
    w.bar.arrive_and_wait();
    return mask;
}
inline unsigned __match_any_sync(unsigned, unsigned v) {
    Warp& w = my_warp();
    w.slots[my_lane()] = v;
    w.bar.arrive_and_wait();
    unsigned mask = 0;
    for (int l = 0; l < 32; ++l) mask |= (w.slots[l] == v ? 1u : 0u) << l;
    w.bar.arrive_and_wait();
    return mask;
}

inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }
inline int __ffs(unsigned v) { return __builtin_ffs((int)v); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
using std::fmax;
using std::fmin;
using std::min;
using std::sqrt;

// Runs `kernel` on a grid of grid_x × grid_y blocks (row by row) of `block` threads (a multiple
// of 32).
inline void launch(unsigned grid_x, unsigned grid_y, unsigned block, const std::function<void()>& kernel) {
    gridDim.x = grid_x;
    gridDim.y = grid_y;
    blockDim.x = block;
    for (unsigned by = 0; by < grid_y; ++by) {
        for (unsigned b = 0; b < grid_x; ++b) {
            g_block = std::make_unique<std::barrier<>>(block);
            g_warps.clear();
            for (unsigned w = 0; w < block / 32; ++w) g_warps.push_back(std::make_unique<Warp>());
            std::vector<std::thread> threads;
            threads.reserve(block);
            for (unsigned t = 0; t < block; ++t) {
                threads.emplace_back([&, b, by, t] {
                    blockIdx.x = b;
                    blockIdx.y = by;
                    threadIdx.x = t;
                    kernel();
                    // A thread that has finished leaves its barriers (whole warps finish together).
                    my_warp().bar.arrive_and_drop();
                    g_block->arrive_and_drop();
                });
            }
            for (auto& th : threads) th.join();
        }
    }
}

// Runs `kernel` on a grid of `grid` blocks of `block` threads (block a multiple of 32).
inline void launch(unsigned grid, unsigned block, const std::function<void()>& kernel) {
    launch(grid, 1, block, kernel);
}
