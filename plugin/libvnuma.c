/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "plugin/vnuma.h"

#include <string.h>

#include "lib/vnuma-config-keys.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-sizing.h"
#include "plugin/vnuma-config.h"
#include "plugin/vnuma-explain.h"
#include "xml/vnuma-caps.h"
#include "xml/vnuma-domain.h"
#include "xml/vnuma-rewrite.h"
#include "probe/vnuma-caps-cache.h"
#include "probe/vnuma-sysfs.h"

struct _VnumaContext {
    VnumaHost *host;
    VnumaSettings settings;
    GKeyFile *config;            /* NULL until a config is loaded */
    GPtrArray *warnings;         /* char *, NULL-terminated */
};

struct _VnumaPlan {
    VnumaRequest *request;
    VnumaLayout *layout;
    char *output;                /* NULL for VNUMA_PLAN_ADVICE_ONLY: never rendered as XML */
    gsize output_len;
    gboolean changes;            /* the domain differs from the input */
};

/* The public calls check their arguments as libvirt's virCheckFlags
 * does: a NULL object or required argument, or a flag this version does
 * not know, is refused with an error naming it rather than a crash. */
static gboolean
check_arg(const void *arg, const char *func, const char *name, GError **error)
{
    if (arg)
        return TRUE;
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s: %s is NULL", func, name);
    return FALSE;
}

#define CHECK_ARG(arg, ret) \
    do { \
        if (!check_arg((arg), G_STRFUNC, #arg, error)) \
            return (ret); \
    } while (0)

static gboolean
check_flags(guint flags, guint known, const char *func, GError **error)
{
    if ((flags & ~known) == 0)
        return TRUE;
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s: unsupported flags 0x%x", func, flags & ~known);
    return FALSE;
}

VnumaContext *
vnuma_context_new(void)
{
    VnumaContext *ctx = g_new0(VnumaContext, 1);

    vnuma_settings_init(&ctx->settings);
    ctx->warnings = g_ptr_array_new_null_terminated(4, g_free, TRUE);
    return ctx;
}

void
vnuma_context_free(VnumaContext *ctx)
{
    if (!ctx)
        return;
    vnuma_host_free(ctx->host);
    vnuma_settings_clear(&ctx->settings);
    if (ctx->config)
        g_key_file_unref(ctx->config);
    g_ptr_array_unref(ctx->warnings);
    g_free(ctx);
}

static gboolean
set_host(VnumaContext *ctx, VnumaHost *host)
{
    if (!host)
        return FALSE;
    vnuma_host_free(ctx->host);
    ctx->host = host;
    return TRUE;
}

gboolean
vnuma_context_load_caps_file(VnumaContext *ctx, const char *path, GError **error)
{
    CHECK_ARG(ctx, FALSE);
    CHECK_ARG(path, FALSE);
    return set_host(ctx, vnuma_host_from_caps_file(path, error));
}

gboolean
vnuma_context_load_caps_xml(VnumaContext *ctx, const char *xml, gsize len, GError **error)
{
    CHECK_ARG(ctx, FALSE);
    CHECK_ARG(xml, FALSE);
    return set_host(ctx, vnuma_host_from_caps_xml(xml, len, error));
}

gboolean
vnuma_context_load_sysfs(VnumaContext *ctx, const char *root, GError **error)
{
    CHECK_ARG(ctx, FALSE);
    CHECK_ARG(root, FALSE);
    return set_host(ctx, vnuma_host_from_sysfs(root, error));
}

gboolean
vnuma_context_load_config(VnumaContext *ctx, const char *path, GError **error)
{
    GKeyFile *config;

    CHECK_ARG(ctx, FALSE);
    CHECK_ARG(path, FALSE);
    if (!(config = vnuma_config_load_file(&ctx->settings, path, ctx->warnings, error)))
        return FALSE;
    if (ctx->config)
        g_key_file_unref(ctx->config);
    ctx->config = config;
    return TRUE;
}

#define LIBVIRT_SCHEMA_FILE "/usr/share/libvirt/schemas/domaincommon.rng"

static const char *
detect_memory_mode(void)
{
    g_autofree char *schema = NULL;

    if (g_file_get_contents(LIBVIRT_SCHEMA_FILE, &schema, NULL, NULL) &&
        strstr(schema, "<value>restrictive</value>"))
        return "restrictive";
    return "strict";
}

/* The hook reads the host at every call; the topology cache spares it
 * most of that (probe/vnuma-sysfs.c), and vnumad keeps the cache's
 * stamp current (agent/vnuma-agent-topology.c). */
static gboolean
load_sysfs_cached(VnumaContext *ctx, GError **error)
{
    const char *root;
    const char *cache;

    vnuma_sysfs_location(&root, &cache);
    return set_host(ctx, vnuma_host_from_sysfs_cached(root, cache, error));
}

/* The same for a capabilities file named in the host's place: the
 * config's file is the host's own and cached at the default path; a file
 * of one's own ($VNUMA_CAPS_FILE: tests, benchmarks) only when
 * $VNUMA_HOST_CACHE asks. */
static gboolean
load_caps_cached(VnumaContext *ctx, const char *caps, gboolean from_config, GError **error)
{
    const char *cache = g_getenv("VNUMA_HOST_CACHE");

    if (!cache && from_config)
        cache = VNUMA_CAPS_CACHE_PATH;
    return set_host(ctx, vnuma_host_from_caps_file_cached(caps, cache, error));
}

gboolean
vnuma_context_load_host(VnumaContext *ctx, const char *default_config, GError **error)
{
    const char *env_config = g_getenv("VNUMA_CONFIG");
    const char *config = env_config ? env_config : default_config;
    g_autofree char *caps = NULL;
    g_autofree char *mode = NULL;
    gboolean from_config = FALSE;

    CHECK_ARG(ctx, FALSE);
    if (config && (env_config || g_file_test(config, G_FILE_TEST_EXISTS)) &&
        !vnuma_context_load_config(ctx, config, error))
        return FALSE;
    caps = g_strdup(g_getenv("VNUMA_CAPS_FILE"));
    if (!caps && (caps = vnuma_context_config_string(ctx, VNUMA_CONFIG_KEY_CAPABILITIES)))
        from_config = TRUE;
    if (caps ? !load_caps_cached(ctx, caps, from_config, error)
             : !load_sysfs_cached(ctx, error))
        return FALSE;
    mode = vnuma_context_config_string(ctx, VNUMA_CONFIG_KEY_MEMORY_MODE);
    if (mode && g_str_equal(mode, "auto"))
        return vnuma_context_set_memory_mode(ctx, detect_memory_mode(), error);
    return TRUE;
}

char *
vnuma_context_config_string(const VnumaContext *ctx, const char *key)
{
    char *value;

    g_return_val_if_fail(ctx != NULL, NULL);
    g_return_val_if_fail(key != NULL, NULL);
    if (!ctx->config)
        return NULL;
    value = g_key_file_get_string(ctx->config, VNUMA_CONFIG_GROUP, key, NULL);
    return value ? g_strstrip(value) : NULL;
}

gboolean
vnuma_context_set_memory_mode(VnumaContext *ctx, const char *mode, GError **error)
{
    CHECK_ARG(ctx, FALSE);
    CHECK_ARG(mode, FALSE);
    return vnuma_memory_mode_parse(mode, &ctx->settings.memory_mode, error);
}

const char *const *
vnuma_context_warnings(const VnumaContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, NULL);
    return (const char *const *) ctx->warnings->pdata;
}

char *
vnuma_context_describe_host(const VnumaContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, NULL);
    return ctx->host ? vnuma_host_describe(ctx->host) : g_strdup("");
}

VnumaPlan *
vnuma_plan_new(VnumaContext *ctx, const char *domain_xml, gsize len, GError **error)
{
    CHECK_ARG(ctx, NULL);
    CHECK_ARG(domain_xml, NULL);
    return vnuma_plan_new_full(ctx, domain_xml, len, VNUMA_PLAN_DEFAULT, error);
}

VnumaPlan *
vnuma_plan_new_full(VnumaContext *ctx, const char *domain_xml, gsize len, VnumaPlanFlags flags,
                    GError **error)
{
    CHECK_ARG(ctx, NULL);
    CHECK_ARG(domain_xml, NULL);
    if (!check_flags(flags, VNUMA_PLAN_FLAGS_ALL, G_STRFUNC, error))
        return NULL;
    return vnuma_plan_new_with_record(ctx, domain_xml, len, NULL, 0, flags, error);
}

/* A record given beside the domain stands in for one in its <metadata>. */
static void
adopt_record(VnumaRequest *request, const char *record, gsize record_len)
{
    g_autoptr(GError) local = NULL;

    if (!record || record_len == 0 || request->stamp)
        return;
    request->stamp = vnuma_stamp_from_xml(record, record_len, &local);
    if (!request->stamp)
        g_ptr_array_add(request->warnings,
                        g_strdup_printf("the vnuma:layout record given is unreadable (%s); sizing afresh",
                                        local->message));
}

VnumaPlan *
vnuma_plan_new_with_record(VnumaContext *ctx, const char *domain_xml, gsize len,
                           const char *record, gsize record_len, VnumaPlanFlags flags,
                           GError **error)
{
    g_autoptr(VnumaXmlSource) src = NULL;
    g_autoptr(VnumaPlan) plan = NULL;

    CHECK_ARG(ctx, NULL);
    CHECK_ARG(domain_xml, NULL);
    if (!check_flags(flags, VNUMA_PLAN_FLAGS_ALL, G_STRFUNC, error))
        return NULL;
    if (!ctx->host) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND, "no host topology loaded");
        return NULL;
    }
    /* Advice splices nothing: the elements' bytes need not be recorded. */
    src = flags & VNUMA_PLAN_ADVICE_ONLY ? vnuma_xml_source_parse_read_only(domain_xml, len, "domain XML", error)
                                         : vnuma_xml_source_parse(domain_xml, len, "domain XML", error);
    if (!src)
        return NULL;
    plan = g_new0(VnumaPlan, 1);
    if (!(plan->request = vnuma_request_from_domain(src, error)))
        return NULL;
    adopt_record(plan->request, record, record_len);
    plan->request->keep_guest_abi = (flags & VNUMA_PLAN_KEEP_GUEST_ABI) != 0;
    if (flags & VNUMA_PLAN_TEST_AS_KVM)
        vnuma_request_take_test_as_kvm(plan->request);
    /* topology + domain → sizing → placement → layout → XML */
    plan->layout = vnuma_pipeline_run(ctx->host, &ctx->settings, plan->request, NULL, 0,
                                      (const char *const *) ctx->warnings->pdata, 0);
    if (flags & VNUMA_PLAN_ADVICE_ONLY) {
        if (!vnuma_domain_rewrite_changes(src, plan->request, plan->layout, &plan->changes, error))
            return NULL;
        return g_steal_pointer(&plan);
    }
    plan->output = vnuma_domain_rewrite(src, plan->request, plan->layout, &plan->output_len, error);
    if (!plan->output)
        return NULL;
    plan->changes = plan->output_len != len || memcmp(domain_xml, plan->output, len) != 0;
    return g_steal_pointer(&plan);
}

void
vnuma_plan_free(VnumaPlan *plan)
{
    if (!plan)
        return;
    vnuma_request_free(plan->request);
    vnuma_layout_free(plan->layout);
    g_free(plan->output);
    g_free(plan);
}

gboolean
vnuma_plan_is_managed(const VnumaPlan *plan)
{
    g_return_val_if_fail(plan != NULL, FALSE);
    return plan->layout->managed;
}

const char *
vnuma_plan_reason(const VnumaPlan *plan)
{
    g_return_val_if_fail(plan != NULL, NULL);
    return plan->layout->reason;
}

gboolean
vnuma_plan_changes_domain(const VnumaPlan *plan)
{
    g_return_val_if_fail(plan != NULL, FALSE);
    return plan->changes;
}

const char *const *
vnuma_plan_warnings(const VnumaPlan *plan)
{
    g_return_val_if_fail(plan != NULL, NULL);
    return (const char *const *) plan->layout->warnings->pdata;
}

char *
vnuma_plan_render(const VnumaPlan *plan, VnumaFormat format, gsize *len)
{
    gboolean changes;
    char *text;

    g_return_val_if_fail(plan != NULL, NULL);
    g_return_val_if_fail(format == VNUMA_FORMAT_XML || format == VNUMA_FORMAT_JSON || format == VNUMA_FORMAT_TEXT,
                         NULL);
    changes = vnuma_plan_changes_domain(plan);
    switch (format) {
    case VNUMA_FORMAT_JSON:
        text = vnuma_explain_json(plan->request, plan->layout, changes);
        break;
    case VNUMA_FORMAT_TEXT:
        text = vnuma_explain_text(plan->request, plan->layout, changes);
        break;
    case VNUMA_FORMAT_XML:
    default:
        if (!plan->output)
            return NULL;
        if (len)
            *len = plan->output_len;
        return g_strndup(plan->output, plan->output_len);
    }
    if (len)
        *len = strlen(text);
    return text;
}

char *
vnuma_plan_record(const VnumaPlan *plan, gsize *len)
{
    g_autoptr(VnumaStamp) stamp = NULL;
    char *text;

    g_return_val_if_fail(plan != NULL, NULL);
    if (!plan->layout->managed || !plan->layout->pins)
        return NULL;
    stamp = vnuma_layout_to_stamp(plan->layout);
    text = vnuma_stamp_format(stamp, "");
    if (len)
        *len = strlen(text);
    return text;
}

guint
vnuma_plan_n_clients(const VnumaPlan *plan)
{
    g_return_val_if_fail(plan != NULL, 0);
    return plan->layout->managed ? plan->layout->clients->len : 0;
}

char *
vnuma_plan_client(const VnumaPlan *plan, guint index, gint *home_node, guint64 *memory_kib)
{
    const VnumaClient *client;

    g_return_val_if_fail(plan != NULL, NULL);
    g_return_val_if_fail(index < vnuma_plan_n_clients(plan), NULL);
    client = plan->layout->clients->pdata[index];
    if (home_node)
        *home_node = client->home_node;
    if (memory_kib)
        *memory_kib = client->memory_kib;
    return vnuma_cpuset_format(client->vcpus);
}

guint
vnuma_plan_n_cells(const VnumaPlan *plan)
{
    g_return_val_if_fail(plan != NULL, 0);
    return plan->layout->managed && plan->layout->exposed ? plan->layout->cells->len : 0;
}

char *
vnuma_plan_cell(const VnumaPlan *plan, guint index, guint64 *memory_kib)
{
    const VnumaCell *cell;

    g_return_val_if_fail(plan != NULL, NULL);
    g_return_val_if_fail(index < vnuma_plan_n_cells(plan), NULL);
    cell = plan->layout->cells->pdata[index];
    if (memory_kib)
        *memory_kib = cell->memory_kib;
    return vnuma_cpuset_format(cell->vcpus);
}

void
vnuma_plan_topology(const VnumaPlan *plan, guint *sockets, guint *dies, guint *cores, guint *threads)
{
    const VnumaGuestTopology *t;
    guint ignored;

    g_return_if_fail(plan != NULL);
    t = &plan->layout->topology;
    *(sockets ? sockets : &ignored) = t->sockets;
    *(dies ? dies : &ignored) = t->dies;
    *(cores ? cores : &ignored) = t->cores;
    *(threads ? threads : &ignored) = t->threads;
}
