/*
 * The environment FAISS's OpenMP and OpenBLAS need, set before they read
 * it: by the engine and by the benchmark programs that link its objects,
 * so that their figures are the engine's.
 */
#ifndef PRT_MATHENV_H
#define PRT_MATHENV_H

/* Re-executes the program once with the settings when they are missing;
 * returns (without them: slower, still correct) if that fails. */
void prt_math_environment(char **argv);

#endif
