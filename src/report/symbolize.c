/* The symbolizer: names native frames (function, file:line, inlined frames) from the module map
 * a capture carries, with elfutils libdwfl reading the binaries and their debug info offline. */
#include "report/report.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/format.h"

/* From the C++ runtime (libstdc++), which has no C header for it. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A capture module, opened on first use. Each gets its own Dwfl: modules unloaded during the
 * run may overlap later ones, and one offline Dwfl refuses overlapping modules. */
typedef struct mt_symmod_s {
    enum { MOD_UNTRIED, MOD_OPEN, MOD_FAILED } state;
    bool overlap_said; /* the warning that another module was loaded over it was given */
    Dwfl *dwfl;
    Dwfl_Module *mod;
} mt_symmod_t;

/* One cached frame: its entries, owning their strings. */
typedef struct mt_symslot_s {
    uint64_t frame;
    mt_sym_frame_t *entries; /* NULL: slot unused */
    size_t n;
} mt_symslot_t;

struct mt_sym_s {
    const mt_capture_t *cap;
    FILE *warn;
    Dwfl_Callbacks callbacks; /* each Dwfl keeps a pointer to it */
    char *debuginfo_path;     /* NULL: libdwfl's default search path */
    mt_symmod_t *mods;
    mt_symslot_t *slots; /* open addressing, power-of-two size */
    size_t nslots, nused;
    mt_sym_frame_t fallback; /* returned when out of memory */
    /* Progress on a terminal, when naming frames takes more than a second. */
    double started, shown; /* seconds, CLOCK_MONOTONIC */
    bool progress;         /* `warn` is a terminal */
    bool progress_shown;   /* a progress line is on the terminal, to clear */
};

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* After a second of work, a line saying how far it got, redrawn at most 5 times a second. */
static void show_progress(mt_sym_t *sym)
{
    if (!sym->progress) return;
    double now = seconds();
    if (now - sym->started < 1.0 || now - sym->shown < 0.2) return;
    sym->shown = now;
    sym->progress_shown = true;
    fprintf(sym->warn, "\rmemtrack: naming frames... %zu addresses so far", sym->nused);
    fflush(sym->warn);
}

mt_sym_t *mt__sym_new(const mt_capture_t *cap, FILE *warn)
{
    mt_sym_t *sym = calloc(1, sizeof *sym);
    if (sym == NULL) return NULL;
    sym->cap = cap;
    sym->warn = warn;
    sym->started = seconds();
    sym->progress = warn != NULL && isatty(fileno(warn));
    /* libdw asks debuginfod servers for missing debug information when DEBUGINFOD_URLS is set
     * (Debian sets it for login shells). Without a network that stalls every report, so it
     * is used only when asked for with MEMTRACK_DEBUGINFOD=1. */
    const char *ask = getenv("MEMTRACK_DEBUGINFOD");
    if (!ask || strcmp(ask, "1") != 0) unsetenv("DEBUGINFOD_URLS");
    sym->callbacks.find_elf = dwfl_build_id_find_elf;
    sym->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    sym->callbacks.section_address = dwfl_offline_section_address;
    sym->callbacks.debuginfo_path = &sym->debuginfo_path;
    sym->mods = calloc(cap->nmodules ? cap->nmodules : 1, sizeof *sym->mods);
    sym->nslots = 256;
    sym->slots = calloc(sym->nslots, sizeof *sym->slots);
    if (sym->mods == NULL || sym->slots == NULL) {
        mt__sym_free(sym);
        return NULL;
    }
    return sym;
}

static void free_entries(mt_sym_frame_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)e[i].function);
        free((char *)e[i].file);
    }
    free(e);
}

void mt__sym_free(mt_sym_t *sym)
{
    if (sym == NULL) return;
    if (sym->progress_shown) fputs("\r\033[K", sym->warn); /* the line goes away */
    if (sym->mods != NULL)
        for (size_t i = 0; i < sym->cap->nmodules; i++)
            if (sym->mods[i].dwfl != NULL) dwfl_end(sym->mods[i].dwfl);
    if (sym->slots != NULL)
        for (size_t i = 0; i < sym->nslots; i++)
            free_entries(sym->slots[i].entries, sym->slots[i].n);
    free(sym->mods);
    free(sym->slots);
    free(sym);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

/* Opens module `i` the first time one of its frames is looked up; warns once if it cannot be
 * used. Returns the libdwfl module or NULL. */
static Dwfl_Module *open_module(mt_sym_t *sym, size_t i)
{
    mt_symmod_t *sm = &sym->mods[i];
    const mt_cap_module_t *cm = &sym->cap->modules[i];
    if (sm->state != MOD_UNTRIED) return sm->state == MOD_OPEN ? sm->mod : NULL;
    sm->state = MOD_FAILED;
    sm->dwfl = dwfl_begin(&sym->callbacks);
    if (sm->dwfl == NULL) return NULL;
    dwfl_report_begin(sm->dwfl);
    /* add_p_vaddr = true makes `base` the load bias (runtime = vaddr + bias), which is what the
     * capture records; with false libdwfl would take it as the address of the first segment. */
    /* The path comes from the capture, which may come from anyone: only a regular file is
     * read (a FIFO or a device there would block the report or feed it forever). It is
     * opened without blocking and checked through its descriptor, so nothing can be swapped
     * in between; libdwfl takes the descriptor over when it accepts the file. */
    const char *why = NULL;
    struct stat st;
    int fd = open(cm->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        why = "not a regular file";
    }
    Dwfl_Module *mod = NULL;
    if (fd >= 0) {
        mod = dwfl_report_elf(sm->dwfl, base_name(cm->path), cm->path, fd, cm->bias, true);
        if (mod == NULL) {
            why = dwfl_errmsg(-1);
            close(fd);
        }
    } else if (why == NULL) {
        why = strerror(errno);
    }
    dwfl_report_end(sm->dwfl, NULL, NULL);
    if (mod == NULL) {
        if (sym->warn != NULL)
            fprintf(sym->warn,
                    "memtrack: warning: cannot read %s (%s); its frames are shown as "
                    "module+offset\n",
                    cm->path, why);
        return NULL;
    }
    if (cm->build_id_len > 0) {
        Dwarf_Addr ebias;
        const unsigned char *bits = NULL;
        GElf_Addr vaddr;
        (void)dwfl_module_getelf(mod, &ebias); /* build_id is only known once the ELF is */
        int n = dwfl_module_build_id(mod, &bits, &vaddr);
        if (n != (int)cm->build_id_len || memcmp(bits, cm->build_id, cm->build_id_len) != 0) {
            if (sym->warn != NULL)
                fprintf(sym->warn,
                        "memtrack: warning: %s is not the file the program ran (build-id "
                        "differs); its frames are shown as module+offset\n",
                        cm->path);
            return NULL;
        }
    }
    sm->state = MOD_OPEN;
    sm->mod = mod;
    return mod;
}

/* A copy of a symbol name, demangled when it is a C++ (Itanium ABI) name. */
static char *name_copy(const char *name)
{
    if (name == NULL || name[0] == '\0') return NULL;
    if (name[0] == '_' && name[1] == 'Z') {
        int status = -1;
        char *d = __cxa_demangle(name, NULL, NULL, &status);
        if (status == 0 && d != NULL) return d;
        free(d);
    }
    return strdup(name);
}

/* The name a DIE gives its function: the linkage name (mangled, the most precise) when there is
 * one, else DW_AT_name, following abstract origins and specifications. */
static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (name == NULL)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (name == NULL) name = dwarf_diename(die);
    return name;
}

static bool is_function_scope(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* Adds one entry; returns false when out of memory. */
static bool push(mt_sym_frame_t **v, size_t *n, size_t *cap, const mt_sym_frame_t *e)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        mt_sym_frame_t *nv = realloc(*v, nc * sizeof *nv);
        if (nv == NULL) return false;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *e;
    return true;
}

/* Expands `pc` through the DWARF scopes that contain it, as eu-addr2line -i does: the innermost
 * function-like scope takes the line table's file:line; each enclosing function takes the
 * call_file:call_line of the inlined scope just inside it. Appends nothing when `pc` has no
 * DWARF scopes. */
static bool expand_inlines(Dwfl_Module *mod, Dwarf_Addr pc, const mt_sym_frame_t *proto,
                           const char *line_file, int line_no, const char *symname,
                           mt_sym_frame_t **v, size_t *n, size_t *cap)
{
    Dwarf_Addr bias = 0;
    Dwarf_Die *cudie = dwfl_module_addrdie(mod, pc, &bias);
    if (cudie == NULL) return true;
    Dwarf_Die *scopes = NULL;
    int nscopes = dwarf_getscopes(cudie, pc - bias, &scopes);
    if (nscopes <= 0) {
        free(scopes);
        return true;
    }
    /* dwarf_getscopes also lists the abstract scopes of inlined code; re-walk from the innermost
     * scope through its physical parents only. */
    Dwarf_Die inner = scopes[0];
    free(scopes);
    scopes = NULL;
    nscopes = dwarf_getscopes_die(&inner, &scopes);
    if (nscopes <= 0) {
        free(scopes);
        return true;
    }
    Dwarf_Files *files = NULL;
    if (dwarf_getsrcfiles(cudie, &files, NULL) != 0) files = NULL;

    bool ok = true;
    Dwarf_Die *prev = NULL; /* the inlined scope just inside the current one */
    size_t first = *n;
    for (int i = 0; i < nscopes && ok; i++) {
        Dwarf_Die *die = &scopes[i];
        if (!is_function_scope(die)) continue;
        mt_sym_frame_t e = *proto;
        bool outermost = dwarf_tag(die) != DW_TAG_inlined_subroutine;
        /* DWARF names the source function: "f", where the symbol may be the clone
         * "f.constprop.0" or the split-off "f.cold". */
        e.function = name_copy(die_name(die));
        if (e.function == NULL && outermost) e.function = name_copy(symname);
        if (prev == NULL) {
            e.file = line_file != NULL ? strdup(line_file) : NULL;
            e.line = line_no > 0 ? (uint32_t)line_no : 0;
        } else {
            Dwarf_Attribute attr;
            Dwarf_Word val;
            if (files != NULL &&
                dwarf_formudata(dwarf_attr(prev, DW_AT_call_file, &attr), &val) == 0) {
                const char *f = dwarf_filesrc(files, val, NULL, NULL);
                e.file = f != NULL ? strdup(f) : NULL;
            }
            if (dwarf_formudata(dwarf_attr(prev, DW_AT_call_line, &attr), &val) == 0 &&
                val <= UINT32_MAX)
                e.line = (uint32_t)val;
        }
        e.inlined = !outermost;
        ok = push(v, n, cap, &e);
        if (!ok) {
            free((char *)e.function);
            free((char *)e.file);
        }
        if (outermost) break;
        prev = die;
    }
    /* The last entry is the outermost for this address, even when DWARF lacked its subprogram. */
    if (*n > first) (*v)[*n - 1].inlined = false;
    free(scopes);
    return ok;
}

static bool same_module(const mt_cap_module_t *a, const mt_cap_module_t *b)
{
    if (a->build_id_len > 0 && b->build_id_len > 0)
        return a->build_id_len == b->build_id_len &&
               !memcmp(a->build_id, b->build_id, a->build_id_len);
    return a->bias == b->bias && !strcmp(a->path, b->path);
}

/* Warns, once per module, when a different module listed after module `mi` also held `pc`:
 * loaded where `mi` had been unloaded. The capture does not say which of the two a frame was
 * made in, and the frame is named after the first. */
static void warn_overlap(mt_sym_t *sym, size_t mi, uint64_t pc)
{
    const mt_capture_t *cap = sym->cap;
    if (sym->warn == NULL || sym->mods[mi].overlap_said) return;
    for (size_t i = mi + 1; i < cap->nmodules; i++)
        if (pc >= cap->modules[i].start && pc < cap->modules[i].end &&
            !same_module(&cap->modules[mi], &cap->modules[i])) {
            sym->mods[mi].overlap_said = true;
            fprintf(sym->warn,
                    "memtrack: warning: %s was loaded where %s had been unloaded; frames at "
                    "those addresses are named after %s, and some may be %s's\n",
                    cap->modules[i].path, cap->modules[mi].path, base_name(cap->modules[mi].path),
                    base_name(cap->modules[i].path));
            return;
        }
}

/* Symbolizes one frame into a fresh array of entries (count in *n); NULL when out of memory. */
static mt_sym_frame_t *resolve(mt_sym_t *sym, uint64_t frame, size_t *n)
{
    const mt_capture_t *cap = sym->cap;
    mt_sym_frame_t proto = {.address = frame};
    mt_sym_frame_t *v = NULL;
    size_t cap_v = 0;
    *n = 0;

    if (frame >= MT_FMT_CLASS_FRAME) { /* a class marker: the reader checked the id */
        const char *name = cap->classes[frame - MT_FMT_CLASS_FRAME].name;
        size_t len = strlen(name) + 9;
        char *label = malloc(len);
        if (label == NULL) return NULL;
        snprintf(label, len, "[class %s]", name);
        proto.function = label;
        if (!push(&v, n, &cap_v, &proto)) {
            free(label);
            return NULL;
        }
        return v;
    }
    const mt_cap_symbol_t *named = mt__capture_symbol(cap, frame);
    if (named != NULL) { /* named by the front end (a Ruby frame): no debug info needed */
        proto.function = named->function[0] ? strdup(named->function) : NULL;
        proto.file = named->file[0] ? strdup(named->file) : NULL;
        proto.line = named->line;
        if ((named->function[0] && !proto.function) || (named->file[0] && !proto.file) ||
            !push(&v, n, &cap_v, &proto)) {
            free((char *)proto.function);
            free((char *)proto.file);
            return NULL;
        }
        return v;
    }
    size_t mi = cap->nmodules;
    uint64_t pc = frame - 1; /* a return address: the call is the instruction before it */
    if (cap->frame_kind == MT_FRAMES_NATIVE_RETURN && frame != 0) {
        /* The first module listed wins when ranges overlap (a module unloaded, another loaded
         * at the same place): deterministic, if not always right, and said once. */
        for (size_t i = 0; i < cap->nmodules; i++)
            if (pc >= cap->modules[i].start && pc < cap->modules[i].end) {
                mi = i;
                break;
            }
        if (mi < cap->nmodules) warn_overlap(sym, mi, pc);
    }
    Dwfl_Module *mod = NULL;
    if (mi < cap->nmodules) {
        proto.module = cap->modules[mi].path;
        proto.offset = pc - cap->modules[mi].bias;
        mod = open_module(sym, mi);
        if (mod != NULL && dwfl_addrmodule(sym->mods[mi].dwfl, pc) != mod) mod = NULL;
    }
    if (mod == NULL) {
        if (!push(&v, n, &cap_v, &proto)) return NULL;
        return v;
    }

    GElf_Off off;
    GElf_Sym elfsym;
    const char *symname = dwfl_module_addrinfo(mod, pc, &off, &elfsym, NULL, NULL, NULL);
    const char *line_file = NULL;
    int line_no = 0;
    Dwfl_Line *line = dwfl_module_getsrc(mod, pc);
    if (line != NULL) line_file = dwfl_lineinfo(line, NULL, &line_no, NULL, NULL, NULL);

    if (!expand_inlines(mod, pc, &proto, line_file, line_no, symname, &v, n, &cap_v)) {
        free_entries(v, *n);
        return NULL;
    }
    if (*n == 0) {
        /* No DWARF scope: the symbol table and the line table, if any. */
        mt_sym_frame_t e = proto;
        e.function = name_copy(symname);
        e.file = line_file != NULL ? strdup(line_file) : NULL;
        e.line = line_file != NULL && line_no > 0 ? (uint32_t)line_no : 0;
        if (!push(&v, n, &cap_v, &e)) {
            free((char *)e.function);
            free((char *)e.file);
            return NULL;
        }
    }
    return v;
}

static size_t slot_of(const mt_sym_t *sym, uint64_t frame)
{
    uint64_t h = frame * 0x9e3779b97f4a7c15ull;
    size_t mask = sym->nslots - 1;
    size_t i = (size_t)(h >> 17) & mask;
    while (sym->slots[i].entries != NULL && sym->slots[i].frame != frame)
        i = (i + 1) & mask;
    return i;
}

static bool grow(mt_sym_t *sym)
{
    mt_symslot_t *old = sym->slots;
    size_t nold = sym->nslots;
    mt_symslot_t *slots = calloc(nold * 2, sizeof *slots);
    if (slots == NULL) return false;
    sym->slots = slots;
    sym->nslots = nold * 2;
    for (size_t i = 0; i < nold; i++)
        if (old[i].entries != NULL) sym->slots[slot_of(sym, old[i].frame)] = old[i];
    free(old);
    return true;
}

size_t mt__sym_lookup(mt_sym_t *sym, uint64_t frame, const mt_sym_frame_t **out)
{
    size_t i = slot_of(sym, frame);
    if (sym->slots[i].entries != NULL) {
        *out = sym->slots[i].entries;
        return sym->slots[i].n;
    }
    size_t n = 0;
    mt_sym_frame_t *e = resolve(sym, frame, &n);
    if (e == NULL) {
        sym->fallback = (mt_sym_frame_t){.address = frame};
        *out = &sym->fallback;
        return 1;
    }
    /* Keep the table at most half full so probes stay short. */
    if ((sym->nused + 1) * 2 > sym->nslots) {
        if (!grow(sym)) {
            /* Cannot cache: hand out the result through the fallback's single entry. */
            sym->fallback = (mt_sym_frame_t){.address = frame};
            free_entries(e, n);
            *out = &sym->fallback;
            return 1;
        }
        i = slot_of(sym, frame);
    }
    sym->slots[i] = (mt_symslot_t){frame, e, n};
    sym->nused++;
    show_progress(sym);
    *out = e;
    return n;
}

long mt__sym_walk_path(const mt_capture_t *cap, mt_sym_t *sym, uint32_t node, mt_sym_entry_fn fn,
                       void *ctx)
{
    size_t n;
    uint64_t *frames = mt__model_path_dup(cap, node, &n);
    if (frames == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
        const mt_sym_frame_t *entries;
        mt_sym_frame_t raw = {.address = frames[i]};
        size_t k = 1;
        if (sym != NULL)
            k = mt__sym_lookup(sym, frames[i], &entries);
        else
            entries = &raw;
        for (size_t e = 0; e < k; e++)
            fn(&entries[e], ctx);
    }
    free(frames);
    return (long)n;
}

typedef struct match_s {
    const char *text;
    bool found;
} match_t;

static void match_entry(const mt_sym_frame_t *e, void *ctx)
{
    match_t *m = ctx;
    if (m->found) return;
    const char *fields[] = {e->function, e->file, e->module};
    for (size_t i = 0; i < 3; i++)
        if (fields[i] != NULL && strstr(fields[i], m->text) != NULL) m->found = true;
}

bool mt__sym_path_matches(const mt_capture_t *cap, mt_sym_t *sym, uint32_t node, const char *match)
{
    match_t m = {match, false};
    mt__sym_walk_path(cap, sym, node, match_entry, &m);
    return m.found;
}
