/*
 * Verifications another node made (docs/scale-out.md, "Events across
 * nodes"): read back from their `verification` events, which carry the
 * verified prediction as GET /job shows it, so that every node's
 * calibrator learns every node's outcomes and the nodes' maps, and so
 * their scans' prob_up_calibrated, stay the same.
 */
#ifndef PRT_VERIFY_HEARD_H
#define PRT_VERIFY_HEARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t  id;
    int       horizon_idx;
    int64_t   verified_at_ms;
    double    prob_up;                 /* raw, as the calibrator bins it */
    double    actual_return;
} prt_heard_t;

/* From the JSON of a verification event: 1 with *out filled for a
 * verified prediction, 0 for an unverifiable one, -1 for anything else. */
int prt_heard_parse(const char *json, size_t len, prt_heard_t *out);

#endif
