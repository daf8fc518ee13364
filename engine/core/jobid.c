#include <string.h>
#include <sys/random.h>

#include "core/jobid.h"
#include "core/loop.h"

void
prt_job_id_new(uint8_t id[PRT_JOB_UUID_LEN])
{
    if (getrandom(id, PRT_JOB_UUID_LEN, 0) != PRT_JOB_UUID_LEN) {
        /* unique is what matters; random only makes ids hard to guess */
        uint64_t  t = prt_wall_ms();
        static uint64_t  counter;

        memcpy(id, &t, 8);
        t = ++counter;
        memcpy(id + 8, &t, 8);
    }
    id[6] = (uint8_t) ((id[6] & 0x0f) | 0x40);     /* version 4 */
    id[8] = (uint8_t) ((id[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
}

void
prt_job_id_format(const uint8_t id[PRT_JOB_UUID_LEN],
    char out[PRT_JOB_ID_SIZE])
{
    static const char  hex[] = "0123456789abcdef";
    char              *p = out;

    for (int i = 0; i < PRT_JOB_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int
prt_job_id_parse(const char *text, uint8_t id[PRT_JOB_UUID_LEN])
{
    int  n = 0, hi, lo;

    for (int i = 0; i < PRT_JOB_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return -1;
            }
            continue;
        }
        hi = hexval(text[i]);
        lo = hexval(text[++i]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        id[n++] = (uint8_t) (hi << 4 | lo);
    }
    return text[PRT_JOB_ID_LEN] == '\0' ? 0 : -1;
}
