/* An ordinary program using stdio, strdup, qsort and a linked list: its output must be the same
 * with and without memtrack. It leaks the 6 words it keeps (keep_words: 6 blocks of
 * strlen + 1 bytes through malloc) and 6 list nodes of 16 bytes (push_node). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    const char *word;
};

static const char *const words[] = {"pear", "apple", "fig", "banana", "cherry", "kiwi"};
#define NWORDS 6

__attribute__((noinline)) char *keep_words(const char *w)
{
    size_t n = strlen(w) + 1;
    char *p = malloc(n);
    memcpy(p, w, n);
    return p;
}

__attribute__((noinline)) struct node *push_node(struct node *head, const char *w)
{
    struct node *n = malloc(sizeof *n);
    n->next = head;
    n->word = w;
    return n;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    char *copies[NWORDS];
    struct node *head = NULL;
    for (int i = 0; i < NWORDS; i++)
        copies[i] = keep_words(words[i]);
    qsort(copies, NWORDS, sizeof copies[0], cmp);
    for (int i = 0; i < NWORDS; i++)
        head = push_node(head, copies[i]);
    for (struct node *n = head; n; n = n->next)
        printf("%s %zu\n", n->word, strlen(n->word));
    char *joined = NULL;
    size_t len = 0;
    for (int i = 0; i < NWORDS; i++) {
        char *tmp = strdup(copies[i]);
        size_t add = strlen(tmp);
        joined = realloc(joined, len + add + 2);
        memcpy(joined + len, tmp, add);
        len += add;
        joined[len++] = ',';
        joined[len] = 0;
        free(tmp);
    }
    printf("joined=%s\n", joined);
    free(joined);
    char *s = NULL;
    if (asprintf(&s, "%d-%s-%.3f", 42, "x", 3.25) < 0) return 1;
    puts(s);
    free(s);
    fflush(stdout);
    return 0;
}
