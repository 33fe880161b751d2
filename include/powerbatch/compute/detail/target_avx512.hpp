// compute::detail — the function attributes that let AVX-512 intrinsics compile in a TU built without -mavx512*.
//
// Everything marked with one may only run after kernel_isa.hpp found that kernel set on the CPU. All include
// AVX2 and FMA, so the AVX2 helpers (activations, masked stores) inline into them.
#pragma once

#include <powerbatch/compute/kernel_isa.hpp>

#if POWERBATCH_COMPUTE_X86_DISPATCH
#include <immintrin.h>
#define POWERBATCH_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#define POWERBATCH_TARGET_AVX512_VNNI \
  __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define POWERBATCH_TARGET_AVX512_BF16 \
  __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16")))

// Around AVX-512 kernel code: GCC 12's AVX-512 intrinsics pass self-initialised "undefined" vectors as the unused
// merge operand, which -Wmaybe-uninitialized reports once they are inlined; nothing uninitialised is read.
#if defined(__GNUC__) && !defined(__clang__)
#define POWERBATCH_AVX512_KERNELS_BEGIN                                            \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"") \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define POWERBATCH_AVX512_KERNELS_END _Pragma("GCC diagnostic pop")
#else
#define POWERBATCH_AVX512_KERNELS_BEGIN
#define POWERBATCH_AVX512_KERNELS_END
#endif
#endif
