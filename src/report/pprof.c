/* The pprof export: a capture as a gzipped profile.proto message (the format of `go tool pprof`
 * and of continuous-profiling services), encoded with protobuf-c from the vendored
 * src/report/pprof/profile.proto and compressed with zlib. */
#include "report/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "capture/format.h"
#include "capture/reader.h"
#include "core/sampler.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile_t;
typedef Perftools__Profiles__ValueType pb_valuetype_t;
typedef Perftools__Profiles__Sample pb_sample_t;
typedef Perftools__Profiles__Mapping pb_mapping_t;
typedef Perftools__Profiles__Location pb_location_t;
typedef Perftools__Profiles__Line pb_line_t;
typedef Perftools__Profiles__Function pb_function_t;
typedef Perftools__Profiles__Label pb_label_t;

/* The string table: strings interned once, index 0 being "" as profile.proto requires. */
typedef struct strtab_s {
    char **v;
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1, 0 for an empty slot */
    size_t nslots;
} strtab_t;

/* The functions, interned by (name, file) string ids. */
typedef struct functab_s {
    pb_function_t *v;
    size_t n, cap;
    uint32_t *slots;
    size_t nslots;
} functab_t;

/* A call path with figures: its frames, innermost first (location ids once emitted). */
typedef struct ppath_s {
    uint32_t node;
    uint64_t *frames;
    size_t n;
} ppath_t;

/* A sample: a path's figures, all threads' or one thread's (labelled with its tid). */
#define NO_THREAD UINT32_MAX
typedef struct prow_s {
    uint32_t path, thread; /* index in paths; thread index or NO_THREAD */
    int64_t v[4];          /* alloc_objects, alloc_space, inuse_objects, inuse_space */
} prow_t;

typedef struct pp_s {
    const mt_capture_t *cap;
    mt_sym_t *sym;
    strtab_t str;
    functab_t fn;
    ppath_t *paths;
    size_t npaths;
    uint32_t *path_of; /* node id -> index in paths, UINT32_MAX for none */
    prow_t *rows;
    size_t nrows, rows_cap;
    uint64_t *frames; /* the distinct frames, sorted: location i + 1 is frames[i] */
    size_t nframes;
    pb_location_t *locs;
    pb_line_t **lines; /* per location, its lines */
} pp_t;

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

/* Grows a slot table to twice its size (at least 64) and rehashes with `hash`. */
static bool rehash(uint32_t **slots, size_t *nslots, size_t n, uint64_t (*hash)(void *, size_t),
                   void *ctx)
{
    size_t ns = *nslots ? *nslots * 2 : 64;
    uint32_t *s = calloc(ns, sizeof *s);
    if (s == NULL) return false;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)hash(ctx, i) & (ns - 1);
        while (s[k] != 0)
            k = (k + 1) & (ns - 1);
        s[k] = (uint32_t)(i + 1);
    }
    free(*slots);
    *slots = s;
    *nslots = ns;
    return true;
}

static uint64_t str_hash(void *ctx, size_t i)
{
    const char *s = ((strtab_t *)ctx)->v[i];
    return hash_bytes(s, strlen(s));
}

/* The string table index of s (copied when new); -1 when out of memory. */
static int64_t str_id(strtab_t *t, const char *s)
{
    if ((t->n + 1) * 2 > t->nslots && !rehash(&t->slots, &t->nslots, t->n, str_hash, t)) return -1;
    size_t mask = t->nslots - 1, k = (size_t)hash_bytes(s, strlen(s)) & mask;
    for (; t->slots[k] != 0; k = (k + 1) & mask)
        if (strcmp(t->v[t->slots[k] - 1], s) == 0) return t->slots[k] - 1;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        char **v = realloc(t->v, nc * sizeof *v);
        if (v == NULL) return -1;
        t->v = v;
        t->cap = nc;
    }
    if ((t->v[t->n] = strdup(s)) == NULL) return -1;
    t->slots[k] = (uint32_t)(t->n + 1);
    return (int64_t)t->n++;
}

static uint64_t fn_key_hash(int64_t name, int64_t file)
{
    int64_t k[2] = {name, file};
    return hash_bytes(k, sizeof k);
}

static uint64_t fn_hash(void *ctx, size_t i)
{
    const pb_function_t *f = &((functab_t *)ctx)->v[i];
    return fn_key_hash(f->name, f->filename);
}

/* The id of the function (name, file), added when new; 0 when out of memory. */
static uint64_t fn_id(functab_t *t, int64_t name, int64_t file)
{
    if ((t->n + 1) * 2 > t->nslots && !rehash(&t->slots, &t->nslots, t->n, fn_hash, t)) return 0;
    size_t mask = t->nslots - 1, k = (size_t)fn_key_hash(name, file) & mask;
    for (; t->slots[k] != 0; k = (k + 1) & mask) {
        const pb_function_t *f = &t->v[t->slots[k] - 1];
        if (f->name == name && f->filename == file) return f->id;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        pb_function_t *v = realloc(t->v, nc * sizeof *v);
        if (v == NULL) return 0;
        t->v = v;
        t->cap = nc;
    }
    pb_function_t f = PERFTOOLS__PROFILES__FUNCTION__INIT;
    f.id = t->n + 1;
    f.name = name;
    f.system_name = name;
    f.filename = file;
    t->v[t->n] = f;
    t->slots[k] = (uint32_t)(t->n + 1);
    return t->v[t->n++].id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The module holding a native frame (its index), or cap->nmodules; as the symbolizer does it,
 * the first module listed wins when ranges overlap. */
static size_t module_of(const mt_capture_t *cap, uint64_t frame)
{
    if (cap->frame_kind != MT_FRAMES_NATIVE_RETURN || frame == 0 || frame >= MT_FMT_CLASS_FRAME)
        return cap->nmodules;
    for (size_t i = 0; i < cap->nmodules; i++)
        if (frame - 1 >= cap->modules[i].start && frame - 1 < cap->modules[i].end) return i;
    return cap->nmodules;
}

/* The name pprof shows for an entry: the function, else module+0xOFFSET, else the address. */
static int64_t entry_name_id(strtab_t *t, const mt_sym_frame_t *e)
{
    if (e->function != NULL) return str_id(t, e->function);
    char buf[64];
    char *s = buf;
    if (e->module != NULL) {
        const char *slash = strrchr(e->module, '/');
        const char *base = slash != NULL ? slash + 1 : e->module;
        if (asprintf(&s, "%s+0x%" PRIx64, base, e->offset) < 0) return -1;
    } else {
        snprintf(buf, sizeof buf, "0x%" PRIx64, e->address);
    }
    int64_t id = str_id(t, s);
    if (s != buf) free(s);
    return id;
}

/* Location i + 1 for frames[i]: its mapping, address and lines (innermost first). */
static bool build_location(pp_t *pp, size_t i)
{
    const mt_capture_t *cap = pp->cap;
    uint64_t frame = pp->frames[i];
    pb_location_t *loc = &pp->locs[i];
    *loc = (pb_location_t)PERFTOOLS__PROFILES__LOCATION__INIT;
    loc->id = i + 1;
    size_t mi = module_of(cap, frame);
    if (mi < cap->nmodules) {
        loc->mapping_id = mi + 1;
        loc->address = frame - 1; /* the call instruction, not the return address */
    } else {
        loc->address = frame;
    }

    const mt_sym_frame_t *entries;
    mt_sym_frame_t raw = {.address = frame};
    size_t n = 1;
    if (frame == 0) raw.function = "[no call path]"; /* the stand-in for an empty path */
    if (frame != 0 && pp->sym != NULL)
        n = mt__sym_lookup(pp->sym, frame, &entries);
    else
        entries = &raw;

    pb_line_t *lines = malloc(n * sizeof *lines);
    loc->line = malloc(n * sizeof *loc->line);
    pp->lines[i] = lines;
    if (lines == NULL || loc->line == NULL) return false;
    for (size_t k = 0; k < n; k++) {
        int64_t name = entry_name_id(&pp->str, &entries[k]);
        int64_t file = entries[k].file != NULL ? str_id(&pp->str, entries[k].file) : 0;
        if (name < 0 || file < 0) return false;
        uint64_t fid = fn_id(&pp->fn, name, file);
        if (fid == 0) return false;
        lines[k] = (pb_line_t)PERFTOOLS__PROFILES__LINE__INIT;
        lines[k].function_id = fid;
        lines[k].line = entries[k].line;
        loc->line[k] = &lines[k];
    }
    loc->n_line = n;
    return true;
}

static int64_t clamp(uint64_t v)
{
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Compresses data[0..len) into a gzip stream; NULL when out of memory. */
static uint8_t *gzip(const uint8_t *data, size_t len, size_t *outlen)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return NULL;
    uLong bound = deflateBound(&zs, (uLong)len);
    uint8_t *out = malloc(bound);
    if (out == NULL) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    /* deflateBound leaves room for everything, so one call finishes the stream. */
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(out);
        return NULL;
    }
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Fills the profile from pp and packs and compresses it. */
static int emit(pp_t *pp, uint8_t **data, size_t *len)
{
    const mt_capture_t *cap = pp->cap;
    int rc = -1;
    pb_profile_t prof = PERFTOOLS__PROFILES__PROFILE__INIT;
    static const char *const types[4][2] = {{"alloc_objects", "count"},
                                            {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"},
                                            {"inuse_space", "bytes"}};
    pb_valuetype_t vt[5], *vtp[4];
    for (size_t i = 0; i < 5; i++) {
        vt[i] = (pb_valuetype_t)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
        vt[i].type = str_id(&pp->str, i < 4 ? types[i][0] : "space");
        vt[i].unit = str_id(&pp->str, i < 4 ? types[i][1] : "bytes");
        if (vt[i].type < 0 || vt[i].unit < 0) return -1;
        if (i < 4) vtp[i] = &vt[i];
    }
    prof.n_sample_type = 4;
    prof.sample_type = vtp;
    prof.period_type = &vt[4];
    prof.period = 1; /* every allocation is counted, none sampled */
    prof.time_nanos = clamp(cap->start_realtime_ns);
    prof.duration_nanos = clamp(cap->duration_ns);

    char *comment = NULL;
    int64_t comment_id = -1;
    if (asprintf(&comment, "memtrack capture of %s (pid %" PRIu64 ")", cap->program, cap->pid) >= 0)
        comment_id = str_id(&pp->str, comment);
    free(comment);
    if (comment_id < 0) return -1;
    prof.n_comment = 1;
    prof.comment = &comment_id;

    size_t nm = cap->nmodules;
    pb_mapping_t *maps = calloc(nm ? nm : 1, sizeof *maps);
    pb_mapping_t **mapp = calloc(nm ? nm : 1, sizeof *mapp);
    size_t nr = pp->nrows ? pp->nrows : 1;
    pb_sample_t *samples = calloc(nr, sizeof *samples);
    pb_sample_t **samplep = calloc(nr, sizeof *samplep);
    pb_label_t *labels = calloc(nr, sizeof *labels);
    pb_label_t **labelp = calloc(nr, sizeof *labelp);
    pb_location_t **locp = calloc(pp->nframes ? pp->nframes : 1, sizeof *locp);
    pb_function_t **fnp = calloc(pp->fn.n ? pp->fn.n : 1, sizeof *fnp);
    uint8_t *packed = NULL;
    int64_t thread_key = str_id(&pp->str, "thread"), tid_unit = str_id(&pp->str, "tid");
    if (!maps || !mapp || !samples || !samplep || !labels || !labelp || !locp || !fnp ||
        thread_key < 0 || tid_unit < 0)
        goto done;

    for (size_t i = 0; i < nm; i++) {
        const mt_cap_module_t *m = &cap->modules[i];
        char hex[2 * 256 + 1] = "";
        for (uint32_t k = 0; k < m->build_id_len && k < 256; k++)
            snprintf(hex + 2 * k, 3, "%02x", m->build_id[k]);
        maps[i] = (pb_mapping_t)PERFTOOLS__PROFILES__MAPPING__INIT;
        maps[i].id = i + 1;
        maps[i].memory_start = m->start;
        maps[i].memory_limit = m->end;
        maps[i].file_offset = 0;
        maps[i].filename = str_id(&pp->str, m->path);
        maps[i].build_id = str_id(&pp->str, hex);
        if (maps[i].filename < 0 || maps[i].build_id < 0) goto done;
        /* Names come from memtrack's own symbolizer; pprof need not look for the binaries. */
        maps[i].has_functions = maps[i].has_filenames = maps[i].has_line_numbers =
            maps[i].has_inline_frames = pp->sym != NULL;
        mapp[i] = &maps[i];
    }
    /* The location ids overwrite the frames in place: the leaf first, as pprof wants. */
    for (size_t i = 0; i < pp->npaths; i++) {
        ppath_t *path = &pp->paths[i];
        for (size_t k = 0; k < path->n; k++) {
            uint64_t *hit =
                bsearch(&path->frames[k], pp->frames, pp->nframes, sizeof *pp->frames, cmp_u64);
            path->frames[k] = (uint64_t)(hit - pp->frames) + 1;
        }
    }
    for (size_t i = 0; i < pp->nrows; i++) {
        prow_t *row = &pp->rows[i];
        const ppath_t *path = &pp->paths[row->path];
        samples[i] = (pb_sample_t)PERFTOOLS__PROFILES__SAMPLE__INIT;
        samples[i].n_location_id = path->n;
        samples[i].location_id = path->frames;
        samples[i].n_value = 4;
        samples[i].value = row->v;
        if (row->thread != NO_THREAD) {
            /* -tagfocus thread=TID keeps one thread's allocations. */
            labels[i] = (pb_label_t)PERFTOOLS__PROFILES__LABEL__INIT;
            labels[i].key = thread_key;
            labels[i].num = clamp(cap->threads[row->thread].tid);
            labels[i].num_unit = tid_unit;
            labelp[i] = &labels[i];
            samples[i].n_label = 1;
            samples[i].label = &labelp[i];
        }
        samplep[i] = &samples[i];
    }
    for (size_t i = 0; i < pp->nframes; i++)
        locp[i] = &pp->locs[i];
    for (size_t i = 0; i < pp->fn.n; i++)
        fnp[i] = &pp->fn.v[i];

    prof.n_mapping = nm;
    prof.mapping = mapp;
    prof.n_sample = pp->nrows;
    prof.sample = samplep;
    prof.n_location = pp->nframes;
    prof.location = locp;
    prof.n_function = pp->fn.n;
    prof.function = fnp;
    prof.n_string_table = pp->str.n;
    prof.string_table = pp->str.v;

    size_t plen = perftools__profiles__profile__get_packed_size(&prof);
    packed = malloc(plen ? plen : 1);
    if (packed == NULL) goto done;
    perftools__profiles__profile__pack(&prof, packed);
    *data = gzip(packed, plen, len);
    rc = *data != NULL ? 0 : -1;
done:
    free(packed);
    free(maps);
    free(mapp);
    free(samples);
    free(samplep);
    free(labels);
    free(labelp);
    free(locp);
    free(fnp);
    return rc;
}

/* The row of (path of `node`, thread), appended when new (rows are merged later); NULL when
 * the node has no path or memory ran out. */
static prow_t *row_for(pp_t *pp, uint32_t node, uint32_t thread)
{
    if (node >= pp->cap->nnodes || pp->path_of[node] == UINT32_MAX) return NULL;
    if (pp->nrows == pp->rows_cap) {
        size_t cap = pp->rows_cap ? pp->rows_cap * 2 : 64;
        prow_t *v = realloc(pp->rows, cap * sizeof *v);
        if (v == NULL) return NULL;
        pp->rows = v;
        pp->rows_cap = cap;
    }
    prow_t *r = &pp->rows[pp->nrows++];
    *r = (prow_t){.path = pp->path_of[node], .thread = thread};
    return r;
}

static int by_path_thread(const void *a, const void *b)
{
    const prow_t *x = a, *y = b;
    if (x->path != y->path) return x->path < y->path ? -1 : 1;
    return x->thread < y->thread ? -1 : x->thread > y->thread;
}

/* The samples: a path's figures by allocating thread when the capture has them (live figures
 * from LIVE, the others from THREAD_NODES; figures of merged threads unlabelled), else one
 * sample per path. Returns -1 without memory. */
static int make_rows(pp_t *pp)
{
    const mt_capture_t *cap = pp->cap;
    if (!cap->has_tnodes) {
        for (size_t i = 0; i < pp->npaths; i++) {
            const mt_cap_node_t *n = &cap->nodes[pp->paths[i].node];
            prow_t *r = row_for(pp, pp->paths[i].node, NO_THREAD);
            if (r == NULL) return -1;
            r->v[0] = clamp(n->allocations);
            r->v[1] = clamp(n->allocated_bytes);
            r->v[2] = clamp(n->live_blocks);
            r->v[3] = clamp(n->live_bytes);
        }
        return 0;
    }
    /* Node 0 in THREAD_NODES and LIVE is the root, whose figures are in its stand-in record. */
    uint32_t alias = (uint32_t)mt__capture_root_alias(cap);
    for (size_t i = 0; i < cap->ntnodes; i++) {
        const mt_cap_tnode_t *t = &cap->tnodes[i];
        if (!t->allocations && !t->allocated_bytes) continue;
        uint32_t thread = t->thread < cap->nthreads ? t->thread : NO_THREAD;
        prow_t *r = row_for(pp, t->node ? t->node : alias, thread);
        if (r == NULL) return -1;
        r->v[0] = clamp(t->allocations);
        r->v[1] = clamp(t->allocated_bytes);
    }
    /* In sample mode a live block weighs its estimate: counts summed in units of MT_EST_ONE
     * and rounded once per sample, as the reader does per node. */
    bool est = mt__cap_estimated(cap);
    for (size_t i = 0; i < cap->nlive; i++) {
        const mt_cap_live_t *l = &cap->live[i];
        prow_t *r = row_for(pp, l->node ? l->node : alias, l->thread);
        if (r == NULL) return -1;
        r->v[2] = est ? clamp(mt__sample_count_fixed(l->size, cap->sample_mean)) : 1;
        r->v[3] = clamp(mt__cap_block_bytes(cap, l->size));
    }
    qsort(pp->rows, pp->nrows, sizeof *pp->rows, by_path_thread);
    size_t w = 0;
    for (size_t i = 0; i < pp->nrows; i++) {
        prow_t *r = &pp->rows[i];
        if (w > 0 && pp->rows[w - 1].path == r->path && pp->rows[w - 1].thread == r->thread) {
            for (int k = 0; k < 4; k++)
                pp->rows[w - 1].v[k] += r->v[k]; /* each a clamped u64 sum: no overflow */
        } else {
            pp->rows[w++] = *r;
        }
    }
    pp->nrows = w;
    for (size_t i = 0; est && i < w; i++)
        pp->rows[i].v[2] = (int64_t)mt__est_round((uint64_t)pp->rows[i].v[2]);
    return 0;
}

int mt__report_pprof(const mt_capture_t *cap, mt_sym_t *sym, uint8_t **data, size_t *len)
{
    pp_t pp = {.cap = cap, .sym = sym};
    int rc = -1;
    size_t nn = cap->nnodes;
    *data = NULL;
    *len = 0;
    if (str_id(&pp.str, "") != 0) goto done;
    pp.paths = calloc(nn ? nn : 1, sizeof *pp.paths);
    pp.path_of = malloc((nn ? nn : 1) * sizeof *pp.path_of);
    if (pp.paths == NULL || pp.path_of == NULL) goto done;

    /* A path per node with figures: records 1..n-1, as nodes[0] copies the record standing for
     * the root. A path without frames gets the stand-in frame 0. */
    size_t total = 0;
    for (size_t id = 0; id < nn; id++) {
        const mt_cap_node_t *n = &cap->nodes[id];
        pp.path_of[id] = UINT32_MAX;
        if (id == 0 || (!n->allocations && !n->live_blocks)) continue;
        pp.path_of[id] = (uint32_t)pp.npaths;
        ppath_t *path = &pp.paths[pp.npaths++];
        path->node = (uint32_t)id;
        path->frames = mt__model_path_dup(cap, (uint32_t)id, &path->n);
        if (path->frames == NULL) goto done;
        if (path->n == 0) { /* the array always has room for one */
            path->frames[0] = 0;
            path->n = 1;
        }
        total += path->n;
    }
    if (make_rows(&pp) != 0) goto done;

    /* The distinct frames, sorted, are the locations. */
    pp.frames = malloc((total ? total : 1) * sizeof *pp.frames);
    if (pp.frames == NULL) goto done;
    for (size_t i = 0; i < pp.npaths; i++) {
        memcpy(pp.frames + pp.nframes, pp.paths[i].frames, pp.paths[i].n * sizeof *pp.frames);
        pp.nframes += pp.paths[i].n;
    }
    qsort(pp.frames, pp.nframes, sizeof *pp.frames, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < pp.nframes; i++)
        if (u == 0 || pp.frames[u - 1] != pp.frames[i]) pp.frames[u++] = pp.frames[i];
    pp.nframes = u;
    pp.locs = calloc(u ? u : 1, sizeof *pp.locs);
    pp.lines = calloc(u ? u : 1, sizeof *pp.lines);
    if (pp.locs == NULL || pp.lines == NULL) goto done;
    for (size_t i = 0; i < u; i++)
        if (!build_location(&pp, i)) goto done;

    rc = emit(&pp, data, len);
done:
    for (size_t i = 0; pp.paths != NULL && i < pp.npaths; i++)
        free(pp.paths[i].frames);
    free(pp.paths);
    free(pp.path_of);
    free(pp.rows);
    for (size_t i = 0; pp.locs != NULL && i < pp.nframes; i++) {
        free(pp.locs[i].line);
        free(pp.lines[i]);
    }
    free(pp.locs);
    free(pp.lines);
    free(pp.frames);
    for (size_t i = 0; i < pp.str.n; i++)
        free(pp.str.v[i]);
    free(pp.str.v);
    free(pp.str.slots);
    free(pp.fn.v);
    free(pp.fn.slots);
    return rc;
}
