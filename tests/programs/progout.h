/* Output for the test programs: "key value [value]" lines written with write(2), so that the
 * programs' own allocations are exactly the ones they make on purpose (no stdio buffers). */
#ifndef MT_TEST_PROGOUT_H
#define MT_TEST_PROGOUT_H

#include <string.h>
#include <unistd.h>

/* Writes v in decimal at buf (at most 20 bytes, no NUL); returns how many bytes. */
static inline size_t put_digits(char *buf, unsigned long v)
{
    char digits[24];
    size_t d = 0, n = 0;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (d)
        buf[n++] = digits[--d];
    return n;
}

static inline void out_values(const char *key, const unsigned long *vals, int nvals)
{
    char buf[128];
    size_t n = strlen(key);
    if (n > 64) n = 64;
    memcpy(buf, key, n);
    for (int k = 0; k < nvals; k++) {
        buf[n++] = ' ';
        n += put_digits(buf + n, vals[k]);
    }
    buf[n++] = '\n';
    if (write(1, buf, n) < 0) _exit(99);
}

/* "key value" with a signed value (the C API's error codes are negative). */
static inline void put(const char *key, long v)
{
    char buf[400];
    size_t n = strlen(key);
    if (n > 300) n = 300;
    memcpy(buf, key, n);
    buf[n++] = ' ';
    if (v < 0) buf[n++] = '-';
    n += put_digits(buf + n, v < 0 ? 0ul - (unsigned long)v : (unsigned long)v);
    buf[n++] = '\n';
    if (write(1, buf, n) < 0) _exit(99);
}

/* "key_rc value": the error a C API call returned instead of the figures under "key". */
static inline void put_rc(const char *key, long rc)
{
    char k[320];
    size_t n = strnlen(key, 300);
    memcpy(k, key, n);
    memcpy(k + n, "_rc", 4);
    put(k, rc);
}

/* "key string" (the string cut at 4096 bytes). */
static inline void put_str(const char *key, const char *s)
{
    char buf[4400];
    size_t n = strnlen(key, 256), m = strnlen(s, 4096);
    memcpy(buf, key, n);
    buf[n++] = ' ';
    memcpy(buf + n, s, m);
    n += m;
    buf[n++] = '\n';
    if (write(1, buf, n) < 0) _exit(99);
}

static inline void out_kv(const char *key, unsigned long v)
{
    out_values(key, &v, 1);
}

static inline void out_line(const char *key, unsigned long a, unsigned long b)
{
    unsigned long vals[2] = {a, b};
    out_values(key, vals, 2);
}

#endif
