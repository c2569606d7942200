/* Which loaded modules keep frame pointers, so that the unwinder (unwind.c) can follow the
 * %rbp chain through their frames instead of running libunwind's DWARF unwinder.
 *
 * Nothing in an ELF file says "built with -fno-omit-frame-pointer"; its unwind tables do. A
 * function that keeps a frame pointer says in its call-frame instructions that its CFA is
 * computed from %rbp (DW_CFA_def_cfa_register 6, or DW_CFA_def_cfa 6, N); one that omits it
 * computes the CFA from %rsp throughout. A module is taken to keep frame pointers when at least
 * MIN_FP_SHARE of the functions its .eh_frame_hdr lists do (up to SCAN_MAX of them, evenly
 * spread), leaving out those whose instructions never move the CFA (leaves that call nothing,
 * like the C runtime's stubs) or compute it with an expression (PLT stubs). The tables are read in
 * place, in the process's own memory, every read checked against the bounds of the segment they lie
 * in; anything unexpected makes the module count as one without frame pointers, which only means
 * the DWARF unwinder is used there.
 *
 * The result is a sorted table of executable segments, published with one atomic pointer, so
 * the unwinder reads it without a lock, and only inside a hook. A table replaced on a refresh
 * is freed once every thread has been seen outside the hooks after a barrier
 * (mt__tracker_grace): at the dlclose that replaced it when no thread is in a hook, else by
 * the background thread. A refresh scans only the modules it has not seen before: a verdict
 * is remembered by the module's load address and a digest of its .eh_frame_hdr. So a program
 * that opens and closes libraries in a loop pays for the scan once per distinct library, not
 * once per library per dlclose, and the tracker does not grow. */
#include <link.h>
#include <sys/auxv.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/lock.h"
#include "native/native.h"

#define SCAN_MAX     4096
#define MIN_FP_SHARE 90 /* percent */
#define MAX_SEGS     4096
#define MAX_KNOWN    1024 /* modules whose verdict a refresh remembers for the next one */

typedef struct bounds_s {
    const uint8_t *lo, *hi;
} bounds_t;

static int in_bounds(const bounds_t *b, const uint8_t *p, size_t n)
{
    return p >= b->lo && p <= b->hi && (size_t)(b->hi - p) >= n;
}

static int read_uleb(const bounds_t *b, const uint8_t **p, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (!in_bounds(b, *p, 1)) return -1;
        uint8_t byte = *(*p)++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int skip(const bounds_t *b, const uint8_t **p, uint64_t n)
{
    if (n > (uint64_t)(b->hi - *p)) return -1;
    *p += n;
    return 0;
}

static int skip_uleb(const bounds_t *b, const uint8_t **p)
{
    uint64_t v;
    return read_uleb(b, p, &v);
}

/* The size of a value in pointer encoding `enc` (DW_EH_PE_*); 0 for a LEB128, -1 if unknown. */
static int enc_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case 0x00:
        return 8; /* absptr */
    case 0x01:
    case 0x09:
        return 0; /* (s)uleb128 */
    case 0x02:
    case 0x0a:
        return 2;
    case 0x03:
    case 0x0b:
        return 4;
    case 0x04:
    case 0x0c:
        return 8;
    default:
        return -1;
    }
}

static int skip_encoded(const bounds_t *b, const uint8_t **p, uint8_t enc)
{
    if (enc == 0xff) return 0; /* DW_EH_PE_omit */
    int n = enc_size(enc);
    if (n < 0) return -1;
    return n ? skip(b, p, (uint64_t)n) : skip_uleb(b, p);
}

/* A value in encoding `enc`, relative to `at` (pcrel) or to `datarel` (datarel); only the
 * forms .eh_frame_hdr uses. */
static int read_encoded(const bounds_t *b, const uint8_t **p, uint8_t enc, uintptr_t datarel,
                        uintptr_t *out)
{
    const uint8_t *at = *p;
    int64_t v;
    switch (enc & 0x0f) {
    case 0x03: {
        uint32_t u;
        if (!in_bounds(b, at, 4)) return -1;
        memcpy(&u, at, 4);
        v = u;
        *p += 4;
        break;
    }
    case 0x0b: {
        int32_t s;
        if (!in_bounds(b, at, 4)) return -1;
        memcpy(&s, at, 4);
        v = s;
        *p += 4;
        break;
    }
    case 0x00:
    case 0x04:
    case 0x0c: {
        if (!in_bounds(b, at, 8)) return -1;
        memcpy(&v, at, 8);
        *p += 8;
        break;
    }
    default:
        return -1;
    }
    switch (enc & 0x70) {
    case 0x00:
        *out = (uintptr_t)v;
        return 0;
    case 0x10:
        *out = (uintptr_t)at + (uintptr_t)v;
        return 0;
    case 0x30:
        *out = datarel + (uintptr_t)v;
        return 0;
    default:
        return -1;
    }
}

typedef struct cie_s {
    const uint8_t *at;
    uint8_t fde_enc;
    int has_aug_data;
    int uses_rbp; /* its initial instructions already define the CFA from %rbp */
} cie_t;

/* What call-frame instructions say of a function's frame. */
enum { CFA_RSP = 0, CFA_RBP = 1, CFA_NONE = 2 };

/* Scans call-frame instructions [p, end): CFA_RBP when they define the CFA from %rbp (register
 * 6), CFA_RSP when they only move it along %rsp, CFA_NONE when they never change it (a leaf
 * that calls nothing) or compute it with an expression (a PLT stub); -1 when an instruction
 * is not understood. */
static int cfa_uses_rbp(const bounds_t *b, const uint8_t *p, const uint8_t *end, uint8_t fde_enc)
{
    bounds_t in = {b->lo, end};
    int moved = 0;
    while (p < end) {
        uint8_t op = *p++;
        uint64_t reg;
        if (op & 0xc0) { /* advance_loc, offset (one ULEB operand), restore */
            if ((op & 0xc0) == 0x80 && skip_uleb(&in, &p)) return -1;
            continue;
        }
        switch (op) {
        case 0x00: /* nop */
        case 0x0a: /* remember_state */
        case 0x0b: /* restore_state */
            break;
        case 0x01: /* set_loc */
            if (skip_encoded(&in, &p, fde_enc)) return -1;
            break;
        case 0x02:
            if (skip(&in, &p, 1)) return -1;
            break;
        case 0x03:
            if (skip(&in, &p, 2)) return -1;
            break;
        case 0x04:
            if (skip(&in, &p, 4)) return -1;
            break;
        case 0x0c: /* def_cfa reg, offset */
        case 0x12: /* def_cfa_sf reg, offset */
            if (read_uleb(&in, &p, &reg) || skip_uleb(&in, &p)) return -1;
            if (reg == 6) return CFA_RBP;
            moved = 1;
            break;
        case 0x0d: /* def_cfa_register reg */
            if (read_uleb(&in, &p, &reg)) return -1;
            if (reg == 6) return CFA_RBP;
            moved = 1;
            break;
        case 0x05: /* offset_extended */
        case 0x09: /* register */
        case 0x11: /* offset_extended_sf */
        case 0x14: /* val_offset */
        case 0x15: /* val_offset_sf */
        case 0x2f: /* GNU_negative_offset_extended */
            if (skip_uleb(&in, &p) || skip_uleb(&in, &p)) return -1;
            break;
        case 0x0e: /* def_cfa_offset */
        case 0x13: /* def_cfa_offset_sf */
            moved = 1;
            if (skip_uleb(&in, &p)) return -1;
            break;
        case 0x06: /* restore_extended */
        case 0x07: /* undefined */
        case 0x08: /* same_value */
        case 0x2e: /* GNU_args_size */
            if (skip_uleb(&in, &p)) return -1;
            break;
        case 0x0f: /* def_cfa_expression block: a PLT stub */
            return CFA_NONE;
        case 0x10:   /* expression reg, block */
        case 0x16: { /* val_expression reg, block */
            uint64_t n;
            if (skip_uleb(&in, &p) || read_uleb(&in, &p, &n) || skip(&in, &p, n)) return -1;
            break;
        }
        default:
            return -1;
        }
    }
    return moved ? CFA_RSP : CFA_NONE;
}

/* Reads the length word of a CIE or FDE at p: the end of the record, or NULL. */
static const uint8_t *record_end(const bounds_t *b, const uint8_t *p)
{
    uint32_t len;
    if (!in_bounds(b, p, 4)) return NULL;
    memcpy(&len, p, 4);
    if (len == 0 || len == 0xffffffffu) return NULL; /* terminator, or 64-bit DWARF: not here */
    if (!in_bounds(b, p + 4, len)) return NULL;
    return p + 4 + len;
}

static int parse_cie(const bounds_t *b, const uint8_t *at, cie_t *c)
{
    const uint8_t *end = record_end(b, at);
    if (!end) return -1;
    const uint8_t *p = at + 8; /* length, CIE id */
    if (!in_bounds(b, p, 1)) return -1;
    uint8_t version = *p++;
    const char *aug = (const char *)p;
    size_t alen = strnlen(aug, (size_t)(end - p));
    if (alen == (size_t)(end - p)) return -1;
    p += alen + 1;
    bounds_t in = {b->lo, end};
    if (skip_uleb(&in, &p) || skip_uleb(&in, &p)) return -1; /* code and data alignment */
    if (version == 1 ? skip(&in, &p, 1) : skip_uleb(&in, &p)) return -1; /* return register */
    c->at = at;
    c->fde_enc = 0;
    c->has_aug_data = aug[0] == 'z';
    if (c->has_aug_data) {
        uint64_t n;
        if (read_uleb(&in, &p, &n) || n > (uint64_t)(end - p)) return -1;
        const uint8_t *data_end = p + n;
        for (const char *a = aug + 1; *a; a++) {
            if (*a == 'R') {
                if (!in_bounds(&in, p, 1)) return -1;
                c->fde_enc = *p++;
            } else if (*a == 'P') {
                if (!in_bounds(&in, p, 1)) return -1;
                uint8_t enc = *p++;
                if (skip_encoded(&in, &p, enc)) return -1;
            } else if (*a == 'L') {
                if (skip(&in, &p, 1)) return -1;
            } else if (*a != 'S' && *a != 'B') {
                return -1;
            }
        }
        p = data_end;
    } else if (aug[0]) {
        return -1;
    }
    int r = cfa_uses_rbp(b, p, end, c->fde_enc);
    if (r < 0) return -1;
    c->uses_rbp = r == CFA_RBP;
    return 0;
}

/* What the FDE at `fde` says of its function's frame (CFA_*), or -1 when it cannot be read.
 * `cie` caches the last CIE parsed. */
static int fde_uses_rbp(const bounds_t *b, const uint8_t *fde, cie_t *cie)
{
    const uint8_t *end = record_end(b, fde);
    if (!end || end - fde < 16) return -1;
    uint32_t cie_off;
    memcpy(&cie_off, fde + 4, 4);
    if (cie_off == 0 || cie_off > (uintptr_t)(fde + 4 - b->lo)) return -1; /* a CIE, not an FDE */
    const uint8_t *cie_at = fde + 4 - cie_off;
    if (cie->at != cie_at && parse_cie(b, cie_at, cie) != 0) {
        cie->at = NULL;
        return -1;
    }
    const uint8_t *p = fde + 8;
    bounds_t in = {b->lo, end};
    /* pc_begin, then pc_range (same size, never relative) */
    if (skip_encoded(&in, &p, cie->fde_enc) || skip_encoded(&in, &p, cie->fde_enc & 0x0f))
        return -1;
    if (cie->has_aug_data) {
        uint64_t n;
        if (read_uleb(&in, &p, &n) || skip(&in, &p, n)) return -1;
    }
    if (cie->uses_rbp) return CFA_RBP;
    return cfa_uses_rbp(b, p, end, cie->fde_enc);
}

/* A module as a refresh recognises it: where it is loaded, where its .eh_frame_hdr is, and a
 * digest of that header's search table (function starts and FDE offsets relative to the
 * header, which another build or another library almost surely does not share). */
typedef struct known_s {
    uintptr_t base, hdr;
    uint64_t count, digest;
    int fp;
} known_t;

typedef struct verdicts_s {
    known_t *prev, *next; /* the last refresh's modules, and this one's */
    uint32_t nprev, nnext;
} verdicts_t;

static uint64_t fnv_step(uint64_t h, const uint8_t *entry)
{
    uint64_t e;
    memcpy(&e, entry, 8);
    return (h ^ e) * 0x100000001b3ull;
}

/* FNV-1a over up to 256 of the table's 8-byte entries, evenly spread, and its last one. */
static uint64_t digest_of(const uint8_t *table, uintptr_t count)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uintptr_t step = count > 256 ? count / 256 : 1;
    for (uintptr_t i = 0; i < count; i += step)
        h = fnv_step(h, table + i * 8);
    return fnv_step(h, table + (count - 1) * 8);
}

/* The share of the module's functions that keep frame pointers, checked against MIN_FP_SHARE. */
static int scan_fdes(const bounds_t *b, uintptr_t at, const uint8_t *table, uintptr_t count)
{
    uintptr_t step = count > SCAN_MAX ? count / SCAN_MAX : 1, seen = 0, with_fp = 0;
    cie_t cie = {0};
    for (uintptr_t i = 0; i < count; i += step) {
        int32_t off;
        memcpy(&off, table + i * 8 + 4, 4);
        const uint8_t *fde = (const uint8_t *)(at + (intptr_t)off);
        if (!in_bounds(b, fde, 8)) return 0;
        int r = fde_uses_rbp(b, fde, &cie);
        if (r < 0) return 0;
        if (r == CFA_NONE) continue; /* says nothing either way */
        seen++;
        with_fp += r == CFA_RBP;
    }
    return seen && with_fp * 100 >= seen * MIN_FP_SHARE;
}

/* Whether the module keeps frame pointers, judged from its .eh_frame_hdr search table, or
 * remembered from the last refresh; the verdict is added to v->next. */
static int module_has_fp(const struct dl_phdr_info *info, verdicts_t *v)
{
    const ElfW(Phdr) *hdr = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) hdr = &info->dlpi_phdr[i];
    if (!hdr) return 0;
    uintptr_t at = info->dlpi_addr + hdr->p_vaddr;
    /* The loaded segment that holds the header also holds .eh_frame: reads stay inside it. */
    bounds_t b = {NULL, NULL};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && at >= lo && at < lo + ph->p_memsz)
            b = (bounds_t){(const uint8_t *)lo, (const uint8_t *)(lo + ph->p_memsz)};
    }
    if (!b.lo) return 0;
    const uint8_t *p = (const uint8_t *)at;
    if (!in_bounds(&b, p, 4) || p[0] != 1) return 0;
    uint8_t ptr_enc = p[1], count_enc = p[2], table_enc = p[3];
    p += 4;
    uintptr_t eh_frame, count;
    if (read_encoded(&b, &p, ptr_enc, at, &eh_frame) || read_encoded(&b, &p, count_enc, at, &count))
        return 0;
    if (table_enc != 0x3b || count == 0) return 0; /* datarel sdata4 pairs, as ld writes them */
    const uint8_t *table = p;
    if (count > (uintptr_t)(b.hi - table) / 8) return 0;
    known_t k = {info->dlpi_addr, at, count, digest_of(table, count), 0};
    uint32_t i = 0;
    while (i < v->nprev && (v->prev[i].base != k.base || v->prev[i].hdr != k.hdr ||
                            v->prev[i].count != k.count || v->prev[i].digest != k.digest))
        i++;
    k.fp = i < v->nprev ? v->prev[i].fp : scan_fdes(&b, at, table, count);
    if (v->nnext < MAX_KNOWN) v->next[v->nnext++] = k;
    return k.fp;
}

/* ---- the table of executable segments */

typedef struct segs_s {
    struct segs_s *retired_next; /* on the list of replaced tables */
    uint32_t n, fp_modules;
    mt_fp_seg_t seg[];
} segs_t;

static _Atomic(segs_t *) current;
/* Replaced tables that a thread inside a hook may still read; changed under refresh_lock,
 * read without it only to see whether there are any. */
static _Atomic(segs_t *) retired;
static mt_lock_t refresh_lock = MT_LOCK_INIT;
static unsigned long long seen_adds, seen_subs;
static bool forced_off;

typedef struct build_s {
    mt_fp_seg_t seg[MAX_SEGS];
    uint32_t n, fp_modules;
    verdicts_t verdicts;
} build_t;

/* The verdicts of the last refresh (refresh_lock), in one of two arrays used in turn. */
static known_t known[2][MAX_KNOWN];
static uint32_t nknown, known_at;

/* Whether one of the module's loaded segments holds `addr`. */
static bool holds(const struct dl_phdr_info *info, uintptr_t addr)
{
    for (int i = 0; addr && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz) return true;
    }
    return false;
}

static int add_segments(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    build_t *bd = ctx;
    /* memtrack's own library keeps frame pointers, but the unwinder skips its frames anyway,
     * and the vDSO keeps them but never calls anything: neither is a reason to walk. */
    int fp = 0;
    if (!forced_off && !holds(info, (uintptr_t)&mt__fp_refresh) &&
        !holds(info, (uintptr_t)getauxval(AT_SYSINFO_EHDR)))
        fp = module_has_fp(info, &bd->verdicts);
    bd->fp_modules += (uint32_t)fp;
    for (int i = 0; i < info->dlpi_phnum && bd->n < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        bd->seg[bd->n++] = (mt_fp_seg_t){lo, lo + ph->p_memsz, (uint32_t)fp};
    }
    return 0;
}

void mt__fp_dwarf_only(void)
{
    forced_off = true;
}

static size_t segs_bytes(uint32_t n)
{
    return sizeof(segs_t) + sizeof(mt_fp_seg_t) * n;
}

void mt__fp_reclaim(uint64_t max_ns)
{
    if (!mt_load_relaxed(&retired)) return; /* relaxed: a hint; the list is taken under the lock */
    mt_lock(&refresh_lock, UINT32_MAX - 13);
    segs_t *list = mt_load_relaxed(&retired);
    mt_store_relaxed(&retired, NULL);
    mt_unlock(&refresh_lock);
    if (!list) return;
    /* Every table on the list was replaced before the grace period starts: a thread that
     * enters a hook after it reads the new one. */
    if (mt__tracker_grace(max_ns)) {
        while (list) {
            segs_t *next = list->retired_next;
            mt__arena_free(list, segs_bytes(list->n));
            list = next;
        }
        return;
    }
    mt_lock(&refresh_lock, UINT32_MAX - 13);
    segs_t *last = list;
    while (last->retired_next)
        last = last->retired_next;
    last->retired_next = mt_load_relaxed(&retired);
    mt_store_relaxed(&retired, list);
    mt_unlock(&refresh_lock);
}

void mt__fp_fork_prepare(void)
{
    mt_lock(&refresh_lock, UINT32_MAX - 13);
}

void mt__fp_fork_release(void)
{
    mt_unlock(&refresh_lock);
}

void mt__fp_refresh(void)
{
    mt_lock(&refresh_lock, UINT32_MAX - 13);
    unsigned long long c[2];
    mt__dl_counters(c);
    if (!mt_load_acquire(&current) || c[0] != seen_adds || c[1] != seen_subs) {
        build_t *bd = mt__arena_alloc(sizeof(*bd));
        if (bd) {
            bd->verdicts = (verdicts_t){known[known_at], known[known_at ^ 1], nknown, 0};
            dl_iterate_phdr(add_segments, bd);
            /* insertion sort: a few dozen segments */
            for (uint32_t i = 1; i < bd->n; i++) {
                mt_fp_seg_t s = bd->seg[i];
                uint32_t j = i;
                for (; j > 0 && bd->seg[j - 1].lo > s.lo; j--)
                    bd->seg[j] = bd->seg[j - 1];
                bd->seg[j] = s;
            }
            segs_t *t = mt__arena_alloc(segs_bytes(bd->n));
            if (t) {
                t->n = bd->n;
                t->fp_modules = bd->fp_modules;
                memcpy(t->seg, bd->seg, sizeof(mt_fp_seg_t) * bd->n);
                segs_t *old = mt_load_relaxed(&current); /* relaxed: written under this lock */
                mt_store_release(&current, t);
                if (old) {
                    old->retired_next = mt_load_relaxed(&retired);
                    mt_store_relaxed(&retired, old);
                }
                seen_adds = c[0];
                seen_subs = c[1];
                known_at ^= 1;
                nknown = bd->verdicts.nnext;
            }
            mt__arena_free(bd, sizeof(*bd));
        }
    }
    mt_unlock(&refresh_lock);
}

static _Atomic int refresh_asked;

void mt__fp_ask_refresh(void)
{
    /* Relaxed: a hint for the background thread; tested first so the line stays shared. */
    if (!mt_load_relaxed(&refresh_asked)) mt_store_relaxed(&refresh_asked, 1);
}

void mt__fp_refresh_if_asked(void)
{
    if (!mt_load_relaxed(&refresh_asked)) return;
    mt_store_relaxed(&refresh_asked, 0);
    mt__fp_refresh();
}

uint32_t mt__fp_modules(void)
{
    segs_t *t = mt_load_acquire(&current);
    return t ? t->fp_modules : 0;
}

const mt_fp_seg_t *mt__fp_find(uintptr_t addr)
{
    segs_t *t = mt_load_acquire(&current);
    if (!t) return NULL;
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (addr < t->seg[mid].lo) {
            hi = mid;
        } else if (addr >= t->seg[mid].hi) {
            lo = mid + 1;
        } else {
            return &t->seg[mid];
        }
    }
    return NULL;
}
