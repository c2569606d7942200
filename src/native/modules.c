/* The module map of captures: for each loaded ELF object its path, GNU build-id, load bias and
 * address range, so that addresses can be symbolized later, elsewhere. Modules are remembered
 * once seen, so frames of a library unloaded with dlclose are still named. */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/lock.h"
#include "native/native.h"

#define MAX_MODULES  4096
#define BUILD_ID_MAX 64

typedef struct module_s {
    uint64_t bias, start, end;
    char *path;
    uint32_t path_len;
    uint32_t build_id_len;
    unsigned char build_id[BUILD_ID_MAX];
} module_t;

static struct {
    mt_lock_t lock;
    module_t *list; /* MAX_MODULES entries, from the arena */
    uint32_t count;
    unsigned long long adds, subs; /* dl_iterate_phdr's counters when last refreshed */
} mods;

/* fork() copies the loader's write lock, which dl_iterate_phdr and parts of dlopen and dlclose
 * take, as it is at that moment, and glibc 2.36 resets only its other lock in the child: had
 * another thread held it, the child's first dl_iterate_phdr would wait forever. A program's
 * child may never call one, but under memtrack it does (libunwind meeting a new frame, the
 * module map at its end). So the module map is refreshed under a lock fork() takes
 * (mt__modules_fork_prepare), fork() takes the loader's lock too, and the child resets it
 * (below). */
#define MODS_LOCK_ID (UINT32_MAX - 6)

static uint32_t read_build_id(const struct dl_phdr_info *info, unsigned char *out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name = (nh->n_namesz + 3u) & ~3u, desc = (nh->n_descsz + 3u) & ~3u;
            const unsigned char *data = p + sizeof(*nh);
            if (data + name + desc > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(data, "GNU", 4) &&
                nh->n_descsz <= BUILD_ID_MAX) {
                memcpy(out, data + name, nh->n_descsz);
                return nh->n_descsz;
            }
            p = data + name + desc;
        }
    }
    return 0;
}

static int add_module(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uint64_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo) lo = a;
        if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    }
    if (hi == 0) return 0;
    const char *name = info->dlpi_name;
    char exe[4096];
    if (!name || !*name) { /* the main program */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        name = exe;
    }
    size_t plen = strlen(name);
    for (uint32_t i = 0; i < mods.count; i++) {
        module_t *m = &mods.list[i];
        if (m->bias == info->dlpi_addr && m->start == lo && m->path_len == plen &&
            !memcmp(m->path, name, plen))
            return 0; /* known */
    }
    if (mods.count == MAX_MODULES) return 0;
    module_t *m = &mods.list[mods.count];
    m->path = mt__arena_alloc(plen + 1);
    if (!m->path) return 0;
    memcpy(m->path, name, plen);
    m->path_len = (uint32_t)plen;
    m->bias = info->dlpi_addr;
    m->start = lo;
    m->end = hi;
    m->build_id_len = read_build_id(info, m->build_id);
    mods.count++;
    return 0;
}

static int counters(struct dl_phdr_info *info, size_t size, void *ctx)
{
    unsigned long long *c = ctx;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1;
}

void mt__dl_counters(unsigned long long c[2])
{
    c[0] = c[1] = 0;
    dl_iterate_phdr(counters, c);
}

void mt__modules_refresh(void)
{
    mt_lock(&mods.lock, MODS_LOCK_ID);
    if (!mods.list) mods.list = mt__arena_alloc(sizeof(module_t) * MAX_MODULES);
    if (mods.list) {
        /* only when libraries were loaded or unloaded since */
        unsigned long long c[2];
        mt__dl_counters(c);
        if (mods.count == 0 || c[0] != mods.adds || c[1] != mods.subs) {
            mods.adds = c[0];
            mods.subs = c[1];
            dl_iterate_phdr(add_module, NULL);
        }
    }
    mt_unlock(&mods.lock);
}

uint64_t mt__modules_write(mt_wbuf_t *w, void *ctx)
{
    (void)ctx;
    uint64_t len = 4;
    for (uint32_t i = 0; i < mods.count; i++)
        len += 24 + 4 + mods.list[i].path_len + 4 + mods.list[i].build_id_len;
    if (!w) return len;
    mt__wbuf_u32(w, mods.count);
    for (uint32_t i = 0; i < mods.count; i++) {
        const module_t *m = &mods.list[i];
        mt__wbuf_u64(w, m->bias);
        mt__wbuf_u64(w, m->start);
        mt__wbuf_u64(w, m->end);
        mt__wbuf_str(w, m->path, m->path_len);
        mt__wbuf_str(w, m->build_id, m->build_id_len);
    }
    return len;
}

void mt__modules_fork_prepare(void)
{
    mt_lock(&mods.lock, MODS_LOCK_ID);
}

void mt__modules_fork_release(void)
{
    mt_unlock(&mods.lock);
}

/* ---- the loader's write lock in a child of fork() */

/* The program's own dlopen and dlclose in another thread hold that lock too, dlopen even across
 * a malloc (glibc 2.36 updates its table for _dl_find_object under it), which our hook makes
 * slow: a fork() then left the lock held in the child now and again. glibc resets the loader's
 * other lock in the child itself; this one is reset the same way, once found. It lies in ld.so's
 * _rtld_global, whose layout is glibc's own business, so it is found, not assumed: inside a
 * dl_iterate_phdr callback the calling thread holds exactly one recursive mutex there, and no
 * longer holds it outside. Anything less certain leaves the lock alone (and the hazard as it
 * was). */
static pthread_mutex_t *_Atomic dl_write_lock; /* read by fork's child handler */
static int find_tries; /* another thread holding the lock makes a try fail */

typedef struct find_s {
    unsigned char *base;
    size_t size;
    pthread_mutex_t *found;
    int n;
} find_t;

static bool held_by(const pthread_mutex_t *m, pid_t tid)
{
    return m->__data.__owner == tid && m->__data.__count == 1 && m->__data.__lock != 0 &&
           m->__data.__kind == PTHREAD_MUTEX_RECURSIVE_NP;
}

static int find_held(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)info;
    (void)size;
    find_t *f = ctx;
    pid_t tid = gettid();
    for (size_t off = 0; off + sizeof(pthread_mutex_t) <= f->size; off += _Alignof(pthread_mutex_t))
        if (held_by((const pthread_mutex_t *)(f->base + off), tid)) {
            f->found = (pthread_mutex_t *)(f->base + off);
            f->n++;
        }
    return 1;
}

void mt__loader_find_lock(void)
{
    if (mt_load_relaxed(&dl_write_lock) || find_tries >= 16) return; /* relaxed: own store */
    find_tries++;
    void *g = dlvsym(RTLD_DEFAULT, "_rtld_global", "GLIBC_PRIVATE");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!g || !dladdr1(g, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || sym->st_size == 0 ||
        (uintptr_t)g % _Alignof(pthread_mutex_t) != 0)
        return;
    find_t f = {g, sym->st_size, NULL, 0};
    mt_lock(&mods.lock, MODS_LOCK_ID); /* which fork() takes: no fork while inside */
    dl_iterate_phdr(find_held, &f);
    mt_unlock(&mods.lock);
    /* Outside the callback, this thread no longer holds it (another may, already). */
    if (f.n == 1 && __atomic_load_n(&f.found->__data.__owner, __ATOMIC_RELAXED) != gettid())
        mt_store_release(&dl_write_lock, f.found);
}

bool mt__loader_lock_held(void)
{
    pthread_mutex_t *m = mt_load_acquire(&dl_write_lock);
    return m && __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) != 0;
}

/* Resetting the lock in the child is safe only if no other thread was inside the code it
 * protects: dlclose unmaps a library and then unlinks it from the loader's list under it,
 * freeing memory in between, so a child copied there (its dlclose waiting at a paused hook)
 * met the unmapped library in its first dl_iterate_phdr and died of SIGSEGV. So fork() takes
 * the lock itself (the loader's own functions take it with pthread_mutex_lock too), and the
 * child then resets a lock that only the thread forking held. */
static bool fork_locked; /* fork's prepare handler holds the loader's lock */

bool mt__loader_fork_trylock(void)
{
    pthread_mutex_t *m = mt_load_acquire(&dl_write_lock);
    if (!m) return true; /* not found: nothing to take */
    fork_locked = pthread_mutex_trylock(m) == 0;
    return fork_locked;
}

void mt__loader_fork_unlock(void)
{
    if (fork_locked) pthread_mutex_unlock(mt_load_relaxed(&dl_write_lock));
    fork_locked = false;
}

void mt__loader_after_fork_child(void)
{
    pthread_mutex_t *m = mt_load_acquire(&dl_write_lock);
    /* Held by the thread that forked (its tid was the parent's), or, when fork could not take
     * it in time, by a thread the child does not have: no one will release it. The second case
     * may leave the loader's list half updated, but waiting for ever is certain otherwise. */
    if (m && m->__data.__owner != 0 && m->__data.__owner != gettid())
        *m = (pthread_mutex_t)PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    fork_locked = false;
}

/* Libraries about to be unloaded are recorded first, so their frames stay nameable; after,
 * the unwinder forgets their segments, which new code may take. */
MT_EXPORT int dlclose(void *handle)
{
    static int (*real_dlclose)(void *);
    if (!real_dlclose) real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    mt__modules_refresh();
    int r = real_dlclose(handle);
    mt__fp_refresh();
    mt__fp_reclaim(0); /* the program's thread does not wait: the background thread will */
    return r;
}
