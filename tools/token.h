/*
 * `pattern-rt-engine token`: mints (and checks) the HMAC-SHA256 tokens the
 * nginx module verifies. Token format: include/pattern_rt_token.h; the
 * directives and the operator's side: docs/auth.md.
 */
#ifndef PRT_TOKEN_CMD_H
#define PRT_TOKEN_CMD_H

#include <stddef.h>
#include <stdint.h>

/* Longest --ttl: a year and a day, so a yearly renewal always overlaps. */
#define PRT_TOKEN_TTL_MAX  (366 * 86400)

/* Read when --secret-file is not given. */
#define PRT_TOKEN_SECRET_ENV  "PATTERN_RT_SECRET_FILE"

/*
 *   token --secret-file F --scope read[,feed,admin] [--ttl 1h]
 *   token --secret-file F --check [--scope S] < token
 * argv[0] is "token". Returns the exit code: 0, 1 (failed, or --check found
 * the token invalid), 2 (usage).
 */
int prt_token_command(int argc, char **argv);

/* "90", "90s", "15m", "1h", "7d" -> seconds in 1..PRT_TOKEN_TTL_MAX.
 * Returns 0, or -1. */
int prt_token_parse_ttl(const char *s, int64_t *seconds);

/* "read,feed", "feed-read", "admin": names joined by ',' or '-' in any
 * order -> PRT_TOKEN_SCOPE_* bits. Returns 0, or -1 (unknown, repeated or
 * empty name). */
int prt_token_parse_scope_list(const char *s, unsigned *scopes);

/* Reads the secret file into buf (size >= PRT_TOKEN_SECRET_FILE_MAX) with
 * the module's rules. Returns 0 and its length, or -1 after printing why
 * (the message names the file, never its content). */
int prt_token_read_secret(const char *path, unsigned char *buf, size_t size,
                          size_t *len);

#endif
