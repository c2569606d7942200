/* Unit tests of `memtrack pprof`: the profile written for a synthetic capture is gunzipped with
 * zlib and decoded with protobuf-c's generated code, and its sample types, samples, locations,
 * functions, mappings and times checked; then the command line (compiled in here, as the tests
 * link the libraries but not the executable): the default output name, -o and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <inttypes.h>

#include <cmocka.h>

#include "cli/args.c"
#include "cli_run.h"
#include "cli/pprof_cmd.c"
#include "profile.pb-c.h"
#include "report/report.h"
#include "tree_fixture.h"

static char dir[] = "/tmp/mt_test_pprof.XXXXXX";
static char capture_path[256];

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL) return -1;
    snprintf(capture_path, sizeof capture_path, "%s/good.mtc", dir);
    return tree_fixture_write(capture_path, false);
}

static int teardown(void **state)
{
    (void)state;
    unlink(capture_path);
    rmdir(dir);
    return 0;
}

/* Gunzips data[0..len) (a complete gzip stream); free() the result. */
static uint8_t *gunzip(const uint8_t *data, size_t len, size_t *outlen)
{
    z_stream zs = {0};
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = 1 << 16;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (zs.total_out == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        zs.next_out = out + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        rc = inflate(&zs, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
    } while (rc != Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    *outlen = zs.total_out;
    inflateEnd(&zs);
    return out;
}

static Perftools__Profiles__Profile *decode(const uint8_t *gz, size_t len)
{
    size_t plen;
    uint8_t *raw = gunzip(gz, len, &plen);
    Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(NULL, plen, raw);
    free(raw);
    assert_non_null(p);
    return p;
}

static const char *str(const Perftools__Profiles__Profile *p, int64_t i)
{
    assert_true(i >= 0 && (size_t)i < p->n_string_table);
    return p->string_table[i];
}

static const Perftools__Profiles__Location *location(const Perftools__Profiles__Profile *p,
                                                     uint64_t id)
{
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == id) return p->location[i];
    fail_msg("no location %" PRIu64, id);
    return NULL;
}

static const Perftools__Profiles__Function *function(const Perftools__Profiles__Profile *p,
                                                     uint64_t id)
{
    for (size_t i = 0; i < p->n_function; i++)
        if (p->function[i]->id == id) return p->function[i];
    fail_msg("no function %" PRIu64, id);
    return NULL;
}

/* The name of the (only) function at a location. */
static const char *loc_name(const Perftools__Profiles__Profile *p, uint64_t id)
{
    const Perftools__Profiles__Location *l = location(p, id);
    assert_int_equal(l->n_line, 1);
    return str(p, function(p, l->line[0]->function_id)->name);
}

/* The tid a sample is labelled with ("thread", unit "tid"), 0 for none. */
static int64_t sample_tid(const Perftools__Profiles__Profile *p,
                          const Perftools__Profiles__Sample *s)
{
    if (s->n_label == 0) return 0;
    assert_int_equal(s->n_label, 1);
    assert_string_equal(str(p, s->label[0]->key), "thread");
    assert_string_equal(str(p, s->label[0]->num_unit), "tid");
    return s->label[0]->num;
}

/* The sample whose leaf location is named `leaf`, of thread `tid` (0: unlabelled). */
static const Perftools__Profiles__Sample *sample_of(const Perftools__Profiles__Profile *p,
                                                    const char *leaf, int64_t tid)
{
    for (size_t i = 0; i < p->n_sample; i++) {
        assert_true(p->sample[i]->n_location_id > 0);
        if (strcmp(loc_name(p, p->sample[i]->location_id[0]), leaf) == 0 &&
            sample_tid(p, p->sample[i]) == tid)
            return p->sample[i];
    }
    fail_msg("no sample with leaf %s of thread %" PRId64, leaf, tid);
    return NULL;
}

static const Perftools__Profiles__Sample *sample(const Perftools__Profiles__Profile *p,
                                                 const char *leaf)
{
    return sample_of(p, leaf, 0);
}

static void expect_values(const Perftools__Profiles__Sample *s, int64_t a, int64_t b, int64_t c,
                          int64_t d)
{
    assert_int_equal(s->n_value, 4);
    assert_int_equal(s->value[0], a);
    assert_int_equal(s->value[1], b);
    assert_int_equal(s->value[2], c);
    assert_int_equal(s->value[3], d);
}

/* A capture with figures by thread: a sample per (path, thread), labelled with the tid, the
 * figures of merged threads unlabelled. */
static void test_threads(void **state)
{
    (void)state;
    for (int merged = 0; merged < 2; merged++) {
        mt_capture_t *cap = tree_fixture_capture_as(merged ? TF_MERGED : TF_TNODES);
        mt_sym_t *sym = mt__sym_new(cap, NULL);
        uint8_t *gz;
        size_t gzlen;
        assert_int_equal(mt__report_pprof(cap, sym, &gz, &gzlen), 0);
        Perftools__Profiles__Profile *p = decode(gz, gzlen);
        free(gz);
        int64_t t200 = merged ? 0 : 200;
        /* Thread 200's live blocks are its own in any case: LIVE says who allocated them. */
        assert_int_equal(p->n_sample, merged ? 9 : 7);
        expect_values(sample_of(p, "prog+0x100", 100), 2, 200, 1, 100);
        expect_values(sample_of(p, "prog+0x100", t200), 2, 200, merged ? 0 : 1, merged ? 0 : 100);
        expect_values(sample_of(p, "libfoo.so+0x40", t200), 1, 50, merged ? 0 : 1, merged ? 0 : 50);
        if (merged) {
            expect_values(sample_of(p, "prog+0x100", 200), 0, 0, 1, 100);
            expect_values(sample_of(p, "libfoo.so+0x40", 200), 0, 0, 1, 50);
        }
        expect_values(sample_of(p, "0x1234", 100), 1, 10, 0, 0);
        expect_values(sample_of(p, "0x1234", t200), 1, 10, 0, 0);
        expect_values(sample_of(p, "prog+0x200", 100), 3, 30, 2, 20);
        expect_values(sample_of(p, "[no call path]", 100), 1, 8, 1, 8);
        /* Together they are the nodes' figures: the same totals as without threads. */
        int64_t sums[4] = {0};
        for (size_t i = 0; i < p->n_sample; i++)
            for (int k = 0; k < 4; k++)
                sums[k] += p->sample[i]->value[k];
        assert_int_equal(sums[0], 11);
        assert_int_equal(sums[1], 508);
        assert_int_equal(sums[2], 6);
        assert_int_equal(sums[3], 278);
        perftools__profiles__profile__free_unpacked(p, NULL);
        mt__sym_free(sym);
        mt__capture_free(cap);
    }
}

/* A capture without figures by thread (older memtrack): one unlabelled sample per path. */
static void test_profile(void **state)
{
    (void)state;
    mt_capture_t *cap = tree_fixture_capture_as(TF_NO_TNODES);
    mt_sym_t *sym = mt__sym_new(cap, NULL);
    assert_non_null(sym);
    uint8_t *gz;
    size_t gzlen;
    assert_int_equal(mt__report_pprof(cap, sym, &gz, &gzlen), 0);
    assert_true(gzlen > 2 && gz[0] == 0x1f && gz[1] == 0x8b); /* gzip magic */
    Perftools__Profiles__Profile *p = decode(gz, gzlen);
    free(gz);

    assert_true(p->n_string_table > 0);
    assert_string_equal(p->string_table[0], "");
    static const char *const types[4][2] = {{"alloc_objects", "count"},
                                            {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"},
                                            {"inuse_space", "bytes"}};
    assert_int_equal(p->n_sample_type, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(str(p, p->sample_type[i]->type), types[i][0]);
        assert_string_equal(str(p, p->sample_type[i]->unit), types[i][1]);
    }
    assert_non_null(p->period_type);
    assert_string_equal(str(p, p->period_type->type), "space");
    assert_string_equal(str(p, p->period_type->unit), "bytes");
    assert_int_equal(p->time_nanos, INT64_C(1700000000000000000));
    assert_int_equal(p->duration_nanos, 2500000);

    /* Nodes 2, 3, 4, 6 and 7 have figures; 1 and 5 none of their own. */
    assert_int_equal(p->n_sample, 5);
    const Perftools__Profiles__Sample *s = sample(p, "prog+0x100");
    expect_values(s, 4, 400, 2, 200);
    assert_int_equal(s->n_location_id, 2);
    assert_string_equal(loc_name(p, s->location_id[1]), "prog+0x500");
    const Perftools__Profiles__Location *l = location(p, s->location_id[0]);
    assert_int_equal(l->mapping_id, 1);
    assert_int_equal(l->address, PB + 0x100);
    assert_int_equal(location(p, s->location_id[1])->address, PB + 0x500);

    s = sample(p, "libfoo.so+0x40");
    expect_values(s, 1, 50, 1, 50);
    assert_int_equal(location(p, s->location_id[0])->mapping_id, 2);
    s = sample(p, "0x1234");
    expect_values(s, 2, 20, 0, 0);
    assert_int_equal(location(p, s->location_id[0])->mapping_id, 0);
    s = sample(p, "prog+0x200");
    expect_values(s, 3, 30, 2, 20);
    assert_int_equal(s->n_location_id, 2);
    assert_string_equal(loc_name(p, s->location_id[1]), "[class pa;r\nser]");
    s = sample(p, "[no call path]");
    expect_values(s, 1, 8, 1, 8);
    assert_int_equal(s->n_location_id, 1);

    /* One location per distinct frame: 0x500, 0x100, libfoo+0x40, 0x1234, the marker, 0x200,
     * the stand-in for the empty path; each named by a function of its own. */
    assert_int_equal(p->n_location, 7);
    assert_int_equal(p->n_function, 7);
    for (size_t i = 0; i < p->n_function; i++)
        assert_string_equal(str(p, p->function[i]->filename), "");

    assert_int_equal(p->n_mapping, 2);
    const Perftools__Profiles__Mapping *m = p->mapping[0];
    assert_int_equal(m->id, 1);
    assert_int_equal(m->memory_start, PB);
    assert_int_equal(m->memory_limit, PB + 0x10000);
    assert_int_equal(m->file_offset, 0);
    assert_string_equal(str(p, m->filename), "/nonexistent/prog");
    assert_string_equal(str(p, m->build_id), "01020304");
    m = p->mapping[1];
    assert_int_equal(m->id, 2);
    assert_int_equal(m->memory_start, LB);
    assert_string_equal(str(p, m->filename), "/nonexistent/libfoo.so");
    assert_string_equal(str(p, m->build_id), "");

    perftools__profiles__profile__free_unpacked(p, NULL);
    mt__sym_free(sym);
    mt__capture_free(cap);
}

static void pprof(result_t *r, ...)
{
    va_list ap;
    va_start(ap, r);
    run_cmd(r, mt__cmd_pprof, "pprof", ap);
    va_end(ap);
}

/* The profile in `path` decodes and has the fixture's seven samples (path, thread). */
static void check_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    Perftools__Profiles__Profile *p = decode(buf, n);
    assert_int_equal(p->n_sample, 7);
    perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_cli(void **state)
{
    (void)state;
    char dflt[300], other[300];
    snprintf(dflt, sizeof dflt, "%s/good.pb.gz", dir);
    snprintf(other, sizeof other, "%s/other.pb.gz", dir);

    /* The default output replaces .mtc by .pb.gz, and an existing file is replaced. */
    FILE *f = fopen(dflt, "w");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    result_t r;
    pprof(&r, capture_path, (char *)NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, dflt));
    check_file(dflt);

    pprof(&r, "-o", other, capture_path, (char *)NULL);
    assert_int_equal(r.status, 0);
    check_file(other);
    unlink(other);
    pprof(&r, capture_path,
          "--output="
          "/nonexistent/dir/x.pb.gz",
          (char *)NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "cannot write /nonexistent/dir/x.pb.gz"));

    /* Errors: status 2, one line on stderr, no file. */
    const char *bad[][3] = {
        {NULL},
        {"-o", NULL},
        {"--frobnicate", capture_path, NULL},
        {capture_path, capture_path, NULL},
        {"/nonexistent/capture.mtc", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pprof(&r, bad[i][0], bad[i][0] ? bad[i][1] : NULL, (char *)NULL);
        assert_int_equal(r.status, 2);
        assert_non_null(strchr(r.err, '\n'));
        assert_true(strchr(r.err, '\n')[1] == '\0');
    }
    unlink(dflt);

    pprof(&r, "--help", (char *)NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: memtrack pprof"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
