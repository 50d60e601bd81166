/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/fuzz/fuzz-plan.h"

#include "plugin/vnuma.h"

/* The example hosts, loaded once (VNUMA_SRCDIR, else the build's source tree). */
static GPtrArray *
example_hosts(void)
{
    static GPtrArray *contexts;
    static const char *const names[] = {
        "xeon-2s10c-ht", "xeon-4s4c-ht", "epyc-nps4-2s", "asym-memory-2s", "offline-cpus-2s",
    };
    const char *srcdir = g_getenv("VNUMA_SRCDIR");

    if (contexts)
        return contexts;
    contexts = g_ptr_array_new();
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *file = g_strdup_printf("%s.xml", names[i]);
        g_autofree char *path = g_build_filename(srcdir ? srcdir : VNUMA_FUZZ_SRCDIR,
                                                 "examples", "hosts", file, NULL);
        g_autoptr(GError) error = NULL;
        VnumaContext *ctx = vnuma_context_new();

        if (!vnuma_context_load_caps_file(ctx, path, &error))
            g_error("fuzz: %s", error->message);
        g_ptr_array_add(contexts, ctx);
    }
    return contexts;
}

static void
plan_once(VnumaContext *ctx, const char *xml, gsize len, VnumaPlanFlags flags)
{
    static const VnumaFormat formats[] = { VNUMA_FORMAT_XML, VNUMA_FORMAT_JSON, VNUMA_FORMAT_TEXT };
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) plan = vnuma_plan_new_full(ctx, xml, len, flags, &error);

    if (!plan) {
        if (!error || !error->message[0])
            __builtin_trap();   /* a refusal must say why */
        return;
    }
    for (const char *const *w = vnuma_plan_warnings(plan); *w; w++)
        if (!**w)
            __builtin_trap();   /* and so must a warning */
    if (!vnuma_plan_is_managed(plan) && !vnuma_plan_reason(plan))
        __builtin_trap();
    for (gsize i = 0; i < G_N_ELEMENTS(formats); i++) {
        gsize out_len = 0;
        g_autofree char *out = vnuma_plan_render(plan, formats[i], &out_len);

        if (!out)
            __builtin_trap();
    }
    /* A managed plan's XML is a domain vnuma can read again. */
    if (vnuma_plan_is_managed(plan) && vnuma_plan_changes_domain(plan)) {
        gsize out_len = 0;
        g_autofree char *out = vnuma_plan_render(plan, VNUMA_FORMAT_XML, &out_len);
        g_autoptr(VnumaPlan) again = vnuma_plan_new_full(ctx, out, out_len, flags, NULL);

        if (!again)
            __builtin_trap();
    }
}

static gboolean
same_render(const VnumaPlan *a, const VnumaPlan *b, VnumaFormat format)
{
    g_autofree char *one = vnuma_plan_render(a, format, NULL);
    g_autofree char *two = vnuma_plan_render(b, format, NULL);

    return g_strcmp0(one, two) == 0;
}

/* The hook's advice skips the full plan's read-back, and nothing else:
 * the same verdict and renderings, or the same refusal. Only a failed
 * read-back (an "internal error" of the full plan) may differ. */
static void
advice_agrees(VnumaContext *ctx, const char *xml, gsize len)
{
    g_autoptr(GError) full_error = NULL;
    g_autoptr(GError) advice_error = NULL;
    g_autoptr(VnumaPlan) full = vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_DEFAULT, &full_error);
    g_autoptr(VnumaPlan) advice = vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_ADVICE_ONLY, &advice_error);

    if (!full) {
        if (g_str_has_prefix(full_error->message, "internal error"))
            return;
        if (advice || g_strcmp0(full_error->message, advice_error->message) != 0)
            __builtin_trap();
        return;
    }
    if (!advice || vnuma_plan_is_managed(advice) != vnuma_plan_is_managed(full) ||
        vnuma_plan_changes_domain(advice) != vnuma_plan_changes_domain(full) ||
        !same_render(full, advice, VNUMA_FORMAT_JSON) || vnuma_plan_render(advice, VNUMA_FORMAT_XML, NULL))
        __builtin_trap();
}

void
vnuma_fuzz_plan(guint8 host_byte, const char *xml, gsize len)
{
    GPtrArray *contexts = example_hosts();
    VnumaContext *ctx = g_ptr_array_index(contexts, host_byte % contexts->len);

    plan_once(ctx, xml, len, VNUMA_PLAN_DEFAULT);
    plan_once(ctx, xml, len, VNUMA_PLAN_KEEP_GUEST_ABI);
    advice_agrees(ctx, xml, len);
}
