/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-cpuset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-math.h"

#define BITS_PER_WORD 64u

struct _VnumaCpuSet {
    guint64 *words;
    guint nwords;
};

static void
cpuset_grow(VnumaCpuSet *set, guint id)
{
    guint need = id / BITS_PER_WORD + 1;

    if (need <= set->nwords)
        return;
    set->words = g_renew(guint64, set->words, need);
    memset(set->words + set->nwords, 0, (need - set->nwords) * sizeof(guint64));
    set->nwords = need;
}

static guint64
cpuset_word(const VnumaCpuSet *set, guint i)
{
    return i < set->nwords ? set->words[i] : 0;
}

VnumaCpuSet *
vnuma_cpuset_new(void)
{
    return g_new0(VnumaCpuSet, 1);
}

VnumaCpuSet *
vnuma_cpuset_new_range(guint first, guint last)
{
    VnumaCpuSet *set = vnuma_cpuset_new();

    vnuma_cpuset_add_range(set, first, last);
    return set;
}

VnumaCpuSet *
vnuma_cpuset_copy(const VnumaCpuSet *set)
{
    VnumaCpuSet *copy = vnuma_cpuset_new();

    copy->nwords = set->nwords;
    copy->words = g_memdup2(set->words, set->nwords * sizeof(guint64));
    return copy;
}

void
vnuma_cpuset_free(VnumaCpuSet *set)
{
    if (!set)
        return;
    g_free(set->words);
    g_free(set);
}

void
vnuma_cpuset_add(VnumaCpuSet *set, guint id)
{
    g_return_if_fail(id <= VNUMA_CPUSET_MAX_ID);
    cpuset_grow(set, id);
    set->words[id / BITS_PER_WORD] |= G_GUINT64_CONSTANT(1) << (id % BITS_PER_WORD);
}

void
vnuma_cpuset_add_range(VnumaCpuSet *set, guint first, guint last)
{
    for (guint id = first; id <= last; id++)
        vnuma_cpuset_add(set, id);
}

void
vnuma_cpuset_remove(VnumaCpuSet *set, guint id)
{
    if (id / BITS_PER_WORD < set->nwords)
        set->words[id / BITS_PER_WORD] &= ~(G_GUINT64_CONSTANT(1) << (id % BITS_PER_WORD));
}

gboolean
vnuma_cpuset_contains(const VnumaCpuSet *set, guint id)
{
    return (cpuset_word(set, id / BITS_PER_WORD) >> (id % BITS_PER_WORD)) & 1;
}

guint
vnuma_cpuset_count(const VnumaCpuSet *set)
{
    guint n = 0;

    for (guint i = 0; i < set->nwords; i++)
        n += (guint) __builtin_popcountll(set->words[i]);
    return n;
}

gboolean
vnuma_cpuset_is_empty(const VnumaCpuSet *set)
{
    return vnuma_cpuset_first(set) < 0;
}

gboolean
vnuma_cpuset_equal(const VnumaCpuSet *a, const VnumaCpuSet *b)
{
    guint n = MAX(a->nwords, b->nwords);

    for (guint i = 0; i < n; i++) {
        if (cpuset_word(a, i) != cpuset_word(b, i))
            return FALSE;
    }
    return TRUE;
}

gboolean
vnuma_cpuset_is_subset(const VnumaCpuSet *sub, const VnumaCpuSet *set)
{
    for (guint i = 0; i < sub->nwords; i++) {
        if (sub->words[i] & ~cpuset_word(set, i))
            return FALSE;
    }
    return TRUE;
}

gboolean
vnuma_cpuset_intersects(const VnumaCpuSet *a, const VnumaCpuSet *b)
{
    guint n = MIN(a->nwords, b->nwords);

    for (guint i = 0; i < n; i++) {
        if (a->words[i] & b->words[i])
            return TRUE;
    }
    return FALSE;
}

void
vnuma_cpuset_intersect(VnumaCpuSet *set, const VnumaCpuSet *other)
{
    for (guint i = 0; i < set->nwords; i++)
        set->words[i] &= cpuset_word(other, i);
}

void
vnuma_cpuset_union(VnumaCpuSet *set, const VnumaCpuSet *other)
{
    if (other->nwords > set->nwords)
        cpuset_grow(set, other->nwords * BITS_PER_WORD - 1);
    for (guint i = 0; i < other->nwords; i++)
        set->words[i] |= other->words[i];
}

void
vnuma_cpuset_subtract(VnumaCpuSet *set, const VnumaCpuSet *other)
{
    for (guint i = 0; i < set->nwords; i++)
        set->words[i] &= ~cpuset_word(other, i);
}

gint
vnuma_cpuset_next(const VnumaCpuSet *set, gint after)
{
    guint id = (guint) (after + 1);
    guint i = id / BITS_PER_WORD;

    if (i >= set->nwords)
        return -1;
    guint64 word = set->words[i] & (~G_GUINT64_CONSTANT(0) << (id % BITS_PER_WORD));
    while (!word) {
        if (++i >= set->nwords)
            return -1;
        word = set->words[i];
    }
    return (gint) (i * BITS_PER_WORD + (guint) __builtin_ctzll(word));
}

gint
vnuma_cpuset_first(const VnumaCpuSet *set)
{
    return vnuma_cpuset_next(set, -1);
}

gint
vnuma_cpuset_last(const VnumaCpuSet *set)
{
    for (guint i = set->nwords; i-- > 0;) {
        if (set->words[i])
            return (gint) (i * BITS_PER_WORD + 63u - (guint) __builtin_clzll(set->words[i]));
    }
    return -1;
}

/* Parses one decimal id at *p, advancing it. */
static gboolean
cpuset_parse_id(const char **p, guint *id, const char *text, GError **error)
{
    guint64 value;

    if (!g_ascii_isdigit(**p)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "invalid CPU list '%s': expected a number at '%s'", text, *p);
        return FALSE;
    }
    if (!vnuma_parse_decimal(p, VNUMA_CPUSET_MAX_ID, &value)) {
        gsize digits = strspn(*p, "0123456789");

        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "invalid CPU list '%s': id %.*s is above %u",
                    text, (int) digits, *p, VNUMA_CPUSET_MAX_ID);
        return FALSE;
    }
    *id = (guint) value;
    return TRUE;
}

VnumaCpuSet *
vnuma_cpuset_parse(const char *text, GError **error)
{
    g_autoptr(VnumaCpuSet) set = vnuma_cpuset_new();
    const char *p = text;

    while (g_ascii_isspace(*p))
        p++;
    if (!*p) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "empty CPU list");
        return NULL;
    }
    for (;;) {
        gboolean negate = FALSE;
        guint first, last;

        while (g_ascii_isspace(*p))
            p++;
        if (*p == '^') {
            negate = TRUE;
            p++;
        }
        if (!cpuset_parse_id(&p, &first, text, error))
            return NULL;
        last = first;
        while (g_ascii_isspace(*p))
            p++;
        if (*p == '-' && !negate) {
            p++;
            while (g_ascii_isspace(*p))
                p++;
            if (!cpuset_parse_id(&p, &last, text, error))
                return NULL;
            if (last < first) {
                g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                            "invalid CPU list '%s': range %u-%u is reversed", text, first, last);
                return NULL;
            }
        }
        /* Left to right, as libvirt reads it: "^N" removes N from what
         * came before, so "^2,0-3" is 0-3. */
        if (negate)
            vnuma_cpuset_remove(set, first);
        else
            vnuma_cpuset_add_range(set, first, last);
        while (g_ascii_isspace(*p))
            p++;
        if (!*p)
            break;
        if (*p != ',') {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "invalid CPU list '%s': unexpected '%c'", text, *p);
            return NULL;
        }
        p++;
    }
    if (vnuma_cpuset_is_empty(set)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "CPU list '%s' is empty", text);
        return NULL;
    }
    return g_steal_pointer(&set);
}

void
vnuma_string_append_uint(GString *out, guint64 value)
{
    char digits[20];
    guint n = 0;

    do {
        digits[n++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    while (n)
        g_string_append_c(out, digits[--n]);
}

void
vnuma_cpuset_append(GString *out, const VnumaCpuSet *set)
{
    gint id = vnuma_cpuset_first(set);
    gboolean first = TRUE;

    while (id >= 0) {
        gint last = id;

        while (vnuma_cpuset_contains(set, (guint) last + 1))
            last++;
        if (!first)
            g_string_append_c(out, ',');
        first = FALSE;
        vnuma_string_append_uint(out, (guint) id);
        if (last != id) {
            g_string_append_c(out, '-');
            vnuma_string_append_uint(out, (guint) last);
        }
        id = vnuma_cpuset_next(set, last);
    }
}

char *
vnuma_cpuset_format(const VnumaCpuSet *set)
{
    GString *out = g_string_new(NULL);

    vnuma_cpuset_append(out, set);
    return g_string_free(out, FALSE);
}
