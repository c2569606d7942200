/* Finding the leaking subsystem with classes: a small request loop whose parser, cache and
 * network code tag what they allocate (scoped tags and typed allocations), and which asks the
 * tracker after each batch how many blocks each class holds. The cache forgets to free its
 * keys on eviction; the table shows class "cache" growing while every other class stays flat.
 *
 * Run it linked (tag_leak_hunt_linked, built with -lmemtrack) or under the preloaded tracker:
 *     memtrack run -- build/examples/tag_leak_hunt
 * then `memtrack report` on the capture shows the call path of the leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtrack.h>

#define REQUESTS  1000
#define BATCH     250
#define CACHE_CAP 32
#define KEYS      48
#define VALUE_LEN 128

/* ---- parser: splits a request line into tokens */

typedef struct token {
    char *text;
} token;

typedef struct request {
    token *tokens; /* method, path, version */
    int ntokens;
} request;

static void parse(request *req, const char *line)
{
    memtrack_tag_push("parser");
    req->tokens = MEMTRACK_NEW_ARRAY(token, 3); /* class "token" */
    req->ntokens = 0;
    const char *p = line;
    while (*p && req->ntokens < 3) {
        size_t len = strcspn(p, " ");
        req->tokens[req->ntokens++].text = strndup(p, len); /* class "parser" */
        p += len;
        p += strspn(p, " ");
    }
    memtrack_tag_pop();
}

static void request_free(request *req)
{
    for (int i = 0; i < req->ntokens; i++)
        free(req->tokens[i].text);
    free(req->tokens);
}

/* ---- cache: FIFO of CACHE_CAP entries, keyed by path */

typedef struct cache_entry {
    char *key;
    char *value;
    struct cache_entry *next;
} cache_entry;

static struct {
    cache_entry *head, *tail;
    int size;
    long hits, misses, evictions;
} cache;

static const char *cache_get(const char *key)
{
    for (cache_entry *e = cache.head; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            cache.hits++;
            return e->value;
        }
    cache.misses++;
    memtrack_tag_push("cache");
    cache_entry *e = MEMTRACK_NEW(cache_entry); /* class "cache_entry" */
    e->key = strdup(key);                       /* class "cache" */
    e->value = malloc(VALUE_LEN);               /* class "cache" */
    snprintf(e->value, VALUE_LEN, "<html>content of %s</html>", key);
    memtrack_tag_pop();
    if (cache.tail)
        cache.tail->next = e;
    else
        cache.head = e;
    cache.tail = e;
    if (++cache.size > CACHE_CAP) {
        cache_entry *old = cache.head;
        cache.head = old->next;
        free(old->value);
        free(old); /* the bug: old->key is never freed */
        cache.size--;
        cache.evictions++;
    }
    return e->value;
}

/* ---- network: a response buffer per request */

static unsigned long sent_bytes;

static void respond(const char *body)
{
    size_t len = strlen(body) + 64;
    char *buf = memtrack_malloc_tagged(len, "network");
    int n =
        snprintf(buf, len, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
    sent_bytes += (unsigned long)n; /* a real server would write(2) it */
    free(buf);
}

/* ---- the hunt */

static const char *const classes[] = {"parser", "token", "cache", "cache_entry", "network"};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

/* Live blocks and bytes of each class now (0 for a class not seen yet). */
static void live_now(memtrack_counts_t out[NCLASSES])
{
    for (size_t k = 0; k < NCLASSES; k++)
        if (memtrack_count_for(classes[k], &out[k]) != 0) memset(&out[k], 0, sizeof(out[k]));
}

int main(void)
{
    int r = memtrack_start();
    if (r < 0) {
        fprintf(stderr,
                "tag_leak_hunt: %s: run it under `memtrack run` or link it with "
                "-lmemtrack\n",
                memtrack_strerror(r));
        return 1;
    }
    printf("tracker %s\n", r == 1 ? "started by the program (linked)" : "already running");
    printf("live blocks per class after each batch of %d requests:\n", BATCH);
    printf("%-8s", "requests");
    for (size_t k = 0; k < NCLASSES; k++)
        printf(" %12s", classes[k]);
    printf("\n");

    memtrack_counts_t first[NCLASSES], now[NCLASSES];
    unsigned seed = 12345;
    for (int i = 1; i <= REQUESTS; i++) {
        char line[64];
        seed = seed * 1103515245u + 12345u;
        snprintf(line, sizeof(line), "GET /item/%02u HTTP/1.1", (seed >> 16) % KEYS);
        request req;
        parse(&req, line);
        respond(cache_get(req.tokens[1].text));
        request_free(&req);
        if (i % BATCH == 0) {
            live_now(now);
            if (i == BATCH) memcpy(first, now, sizeof(first));
            printf("%-8d", i);
            for (size_t k = 0; k < NCLASSES; k++)
                printf(" %12llu", (unsigned long long)now[k].live_count);
            printf("\n");
        }
    }

    printf("\nper class at the end (new / freed / live blocks, live bytes):\n");
    for (size_t k = 0; k < NCLASSES; k++)
        printf("class %-12s %6llu new %6llu freed %6llu live %8llu bytes\n", classes[k],
               (unsigned long long)now[k].new_count, (unsigned long long)now[k].free_count,
               (unsigned long long)now[k].live_count, (unsigned long long)now[k].live_bytes);
    printf("cache: %d entries, %ld hits, %ld misses, %ld evictions; %lu bytes sent\n", cache.size,
           cache.hits, cache.misses, cache.evictions, sent_bytes);

    /* The class whose live blocks grew most from the first batch to the last. */
    size_t worst = 0;
    long long growth = 0;
    for (size_t k = 0; k < NCLASSES; k++) {
        long long g = (long long)now[k].live_count - (long long)first[k].live_count;
        if (g > growth) {
            growth = g;
            worst = k;
        }
    }
    if (growth > 0)
        printf("leaking class: %s (+%lld live blocks, +%lld bytes since request %d)\n",
               classes[worst], growth,
               (long long)now[worst].live_bytes - (long long)first[worst].live_bytes, BATCH);
    else
        printf("no class grew\n");
    return 0;
}
