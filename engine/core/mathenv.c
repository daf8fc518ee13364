#include <cpuid.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mathenv.h"

/* The AVX2 variant of a program is the same objects linked with FAISS's
 * AVX2 library, installed next to it under this suffix (Makefile). */
#define PRT_AVX2_SUFFIX  "-avx2"

/*
 * What FAISS's AVX2 library was compiled for (-mavx2 -mfma -mf16c
 * -mpopcnt), asked of the CPU itself, and whether the operating system
 * saves the 256-bit registers (XCR0 bits 1 and 2): a CPU with AVX2 under an
 * OS or hypervisor that does not enable it must take the generic path.
 */
int
prt_cpu_has_avx2(void)
{
    unsigned int  a, b, c, d;
    unsigned int  xcr0_lo, xcr0_hi;

    if (__get_cpuid_count(1, 0, &a, &b, &c, &d) == 0) {
        return 0;
    }
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX) || !(c & bit_FMA)
        || !(c & bit_F16C) || !(c & bit_POPCNT))
    {
        return 0;
    }
    __asm__ volatile ("xgetbv" : "=a" (xcr0_lo), "=d" (xcr0_hi) : "c" (0));
    if ((xcr0_lo & 6) != 6) {
        return 0;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) {
        return 0;
    }
    return (b & bit_AVX2) != 0;
}

const char *
prt_faiss_isa_wanted(void)
{
    const char  *v = getenv("PRT_FAISS_ISA");

    if (v == NULL || v[0] == '\0' || strcmp(v, "auto") == 0) {
        return prt_cpu_has_avx2() ? "avx2" : "generic";
    }
    if (strcmp(v, "avx2") == 0 && !prt_cpu_has_avx2()) {
        return "generic";
    }
    return strcmp(v, "avx2") == 0 ? "avx2" : "generic";
}

/*
 * The sibling program that links the wanted library: "<self>-avx2" from the
 * generic program, "<self minus -avx2>" from the AVX2 one. 0 and the path
 * when it exists and is executable.
 */
static int
variant_path(int to_avx2, char *path, size_t len)
{
    char     self[PATH_MAX];
    ssize_t  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    size_t   sl = strlen(PRT_AVX2_SUFFIX);

    if (n <= 0) {
        return -1;
    }
    self[n] = '\0';
    if (to_avx2) {
        if ((size_t) snprintf(path, len, "%s%s", self, PRT_AVX2_SUFFIX) >= len) {
            return -1;
        }
    } else {
        if ((size_t) n <= sl || strcmp(self + n - sl, PRT_AVX2_SUFFIX) != 0
            || (size_t) n - sl >= len)
        {
            return -1;
        }
        memcpy(path, self, (size_t) n - sl);
        path[n - sl] = '\0';
    }
    return access(path, X_OK) == 0 ? 0 : -1;
}

/*
 * Three decisions taken before the math libraries start, so the program
 * starts again (once) when any of them changes something:
 * - the FAISS library: the program (engine, bench programs) exists in a
 *   generic build (Debian's libfaiss.a, runs on every x86-64 CPU) and, where
 *   the AVX2 library was built, an AVX2 build; the generic one starts, asks
 *   the CPU (cpuid) and hands over to the AVX2 one when the CPU has AVX2,
 *   unless PRT_FAISS_ISA=generic forces the generic path (PRT_FAISS_ISA=
 *   avx2 forces AVX2 only where the CPU has it). A missing variant keeps the
 *   running program: slower, the same results;
 * - OMP_WAIT_POLICY=PASSIVE: with libgomp's default spinning, FAISS's
 *   OpenMP threads and OpenBLAS's threads burn each other's cores (exact
 *   search measured 10-20x slower);
 * - OPENBLAS_NUM_THREADS=1: FAISS parallelises with OpenMP already, and
 *   OpenBLAS would start its threads before main() with every signal
 *   unblocked, so SIGTERM would kill the daemon instead of reaching its
 *   signalfd. Training measured faster this way too.
 * An operator's own values are kept.
 */
void
prt_math_environment(char **argv, const char *faiss_library)
{
    int          again = 0;
    int          avx2_now = strstr(faiss_library, "AVX2") != NULL;
    int          avx2_want = strcmp(prt_faiss_isa_wanted(), "avx2") == 0;
    char         path[PATH_MAX];
    const char  *exe = "/proc/self/exe";

    if (getenv("OMP_WAIT_POLICY") == NULL) {
        again |= setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
    }
    if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
        again |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    }
    /* the guard: a mislabelled sibling can never bounce back and forth */
    if (avx2_now != avx2_want && getenv("PRT_FAISS_HANDOVER") == NULL
        && variant_path(avx2_want, path, sizeof(path)) == 0
        && setenv("PRT_FAISS_HANDOVER", "1", 1) == 0)
    {
        exe = path;
        again = 1;
    }
    if (again) {
        execv(exe, argv);
        perror("re-executing with the math libraries' settings");
    }
    unsetenv("PRT_FAISS_HANDOVER");
}
