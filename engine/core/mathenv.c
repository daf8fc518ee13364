#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/mathenv.h"

/*
 * Two settings are read by the math libraries before main() runs, so they
 * are set here and the program starts again (once):
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
prt_math_environment(char **argv)
{
    int  again = 0;

    if (getenv("OMP_WAIT_POLICY") == NULL) {
        again |= setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
    }
    if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
        again |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    }
    if (again) {
        execv("/proc/self/exe", argv);
        perror("re-executing with the math libraries' settings");
    }
}
