// compute::detail — the function attributes that let AVX-512 intrinsics compile in a TU built without -mavx512*.
//
// Everything marked with one may only run after kernel_isa.hpp found that kernel set on the CPU. Both include
// AVX2 and FMA, so the AVX2 helpers (activations, masked stores) inline into them.
#pragma once

#include <powerbatch/compute/kernel_isa.hpp>

#if POWERBATCH_COMPUTE_X86_DISPATCH
#include <immintrin.h>
#define POWERBATCH_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#define POWERBATCH_TARGET_AVX512_VNNI \
  __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#endif
