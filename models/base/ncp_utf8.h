/* ncp_utf8: UTF-8 validation (RFC 3629), for every program: the control
 * protocol's lines, file names, JSON strings written and read.
 *
 * Valid means: no overlong forms, no encoded surrogates (U+D800-DFFF),
 * nothing above U+10FFFF, no stray continuation bytes, no truncated
 * sequences.
 */
#ifndef NCP_UTF8_H
#define NCP_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the valid UTF-8 sequence that starts s, of which
 * n bytes (at least 1) are available; 0 when it is not valid. */
size_t ncp_utf8_len(const char *s, size_t n);

/* The offset of the first byte of s[0..n) that does not start a valid
 * sequence, or n when all of it is valid. */
size_t ncp_utf8_check(const char *s, size_t n);

#endif
