// ISA-L's erasure code for PGMISAL (Debian/Ubuntu: libisal-dev). Only PGMISAL imports this module.
#ifndef SWIFT_PGM_CISAL_SHIM_H
#define SWIFT_PGM_CISAL_SHIM_H
#include <isa-l/erasure_code.h>

// ISA-L's AVX-512 erasure code returns with the upper halves of the vector registers dirty (no VZEROUPPER):
// every legacy-SSE instruction after it, which is all of our baseline-x86-64 Swift, then runs 3-4x slower
// (measured with Tools/fec-benchmark on AMD EPYC). PGMISAL calls this after each ec_encode_data.
#if defined(__x86_64__)
#include <cpuid.h>
static inline int swift_pgm_cpu_has_avx(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & (1u << 28)) != 0 && (ecx & (1u << 27)) != 0;  // AVX, and OSXSAVE: the OS saves the state
}
static inline void swift_pgm_zero_upper(void) { __asm__ volatile("vzeroupper" ::: "memory"); }
#else
static inline int swift_pgm_cpu_has_avx(void) { return 0; }
static inline void swift_pgm_zero_upper(void) {}
#endif
#endif
