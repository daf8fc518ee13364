/*
 * The environment FAISS's OpenMP and OpenBLAS need, set before they read
 * it, and the FAISS library chosen for the CPU: by the engine and by the
 * benchmark programs that link its objects, so that their figures are the
 * engine's.
 */
#ifndef PRT_MATHENV_H
#define PRT_MATHENV_H

/* Re-executes the program once with the settings when they are missing,
 * or as its AVX2 (or generic) variant when that is the one to run (see
 * mathenv.c); returns (without them: slower, still correct) if that fails. */
/* faiss_library: what the linked FAISS reports (prt_faiss_library()), so
 * that core/ needs nothing of index/ */
void prt_math_environment(char **argv, const char *faiss_library);

/* 1 when the CPU and the OS give what FAISS's AVX2 library needs. */
int prt_cpu_has_avx2(void);

/* "avx2" or "generic": PRT_FAISS_ISA (auto, generic, avx2) against the
 * CPU. */
const char *prt_faiss_isa_wanted(void);

#endif
