/*
 * Job ids: 16 random bytes shown as a UUID (version 4 text form). The
 * store keys jobs by the bytes, the events name their streams by them, and
 * requests and answers carry the text (pattern_rt_msg.h).
 */
#ifndef PRT_JOBID_H
#define PRT_JOBID_H

#include <stdint.h>

#include "pattern_rt_msg.h"

#define PRT_JOB_UUID_LEN   16

void prt_job_id_new(uint8_t id[PRT_JOB_UUID_LEN]);
void prt_job_id_format(const uint8_t id[PRT_JOB_UUID_LEN],
    char out[PRT_JOB_ID_SIZE]);
int  prt_job_id_parse(const char *text, uint8_t id[PRT_JOB_UUID_LEN]);

#endif
