// compute::detail — the function attribute that lets AVX2/FMA intrinsics compile in a TU built without -mavx2.
//
// Everything marked with it may only run after kernel_isa.hpp found AVX2 and FMA on the CPU.
#pragma once

#include <powerbatch/compute/kernel_isa.hpp>

#if POWERBATCH_COMPUTE_X86_DISPATCH
#include <immintrin.h>
#define POWERBATCH_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif
