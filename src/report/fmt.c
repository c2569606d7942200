/* Number formatting shared by the reports and `memtrack run`: sizes in binary units and times
 * in milliseconds, computed with integers so every machine prints the same digits. */
#include "report/report.h"

#include <inttypes.h>

void mt__fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (len == 0) return;
    if (bytes < 1024) {
        snprintf(buf, len, "%" PRIu64 " B", bytes);
        return;
    }
    /* Tenths of the unit, rounded half up; move to the next unit when rounding reaches 1024.0
     * so that "1024.0 KiB" is printed as "1.0 MiB". */
    unsigned __int128 b = bytes;
    size_t u = 0;
    unsigned __int128 div = 1024;
    uint64_t tenths = (uint64_t)((b * 10 + div / 2) / div);
    while (tenths >= 10240 && u + 1 < sizeof units / sizeof units[0]) {
        u++;
        div *= 1024;
        tenths = (uint64_t)((b * 10 + div / 2) / div);
    }
    snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " %s", tenths / 10, tenths % 10, units[u]);
}

void mt__fmt_ms(uint64_t ns, char *buf, size_t len)
{
    if (len == 0) return;
    uint64_t frac = ns % 1000000;
    if (frac == 0) {
        snprintf(buf, len, "%" PRIu64, ns / 1000000);
        return;
    }
    int digits = 6;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64, ns / 1000000, digits, frac);
}

void mt__fmt_xml(FILE *out, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<')
            fputs("&lt;", out);
        else if (c == '>')
            fputs("&gt;", out);
        else if (c == '&')
            fputs("&amp;", out);
        else if (c == '"')
            fputs("&quot;", out);
        else if (c == '\'')
            fputs("&apos;", out);
        else if (c >= 0x20 && c != 0x7f)
            fputc(c, out);
    }
}
