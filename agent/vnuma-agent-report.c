/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-report.h"

#include "lib/vnuma-demand.h"
#include "lib/vnuma-json.h"

VnumaReportAction *
vnuma_report_action_new(const char *domain, const char *uuid, const char *action,
                        gboolean applied, gboolean failed, const char *detail)
{
    VnumaReportAction *a = g_new0(VnumaReportAction, 1);

    a->domain = g_strdup(domain);
    a->uuid = g_strdup(uuid);
    a->action = g_strdup(action);
    a->applied = applied;
    a->failed = failed;
    a->detail = g_strdup(detail);
    return a;
}

void
vnuma_report_action_free(VnumaReportAction *a)
{
    if (!a)
        return;
    g_free(a->domain);
    g_free(a->uuid);
    g_free(a->action);
    g_free(a->detail);
    g_free(a);
}

static void
report_client(VnumaJson *json, const VnumaReportDomain *d, guint c)
{
    const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
    g_autofree char *vcpus = vnuma_cpuset_format(client->vcpus);

    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "vcpus", vcpus);
    vnuma_json_member_uint(json, "home_node", client->home_node);
    vnuma_json_member_uint(json, "memory_kib", client->memory_kib);
    vnuma_json_member_double(json, "demand", d->demand ? vnuma_client_demand(d->demand, client->vcpus) : 0);
    vnuma_json_key(json, "moved");
    if (client->moved >= 0)
        vnuma_json_int(json, client->moved);
    else
        vnuma_json_null(json);
    vnuma_json_end_object(json);
}

static void
report_domain(VnumaJson *json, const VnumaReportDomain *d)
{

    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "name", d->name);
    vnuma_json_member_string(json, "uuid", d->uuid);
    vnuma_json_member_bool(json, "managed", d->managed);
    vnuma_json_member_string(json, "reason", d->reason);
    vnuma_json_member_bool(json, "applied", d->applied);
    vnuma_json_key(json, "clients");
    vnuma_json_begin_array(json);
    for (guint c = 0; d->state && c < d->state->clients->len; c++)
        report_client(json, d, c);
    vnuma_json_end_array(json);
    vnuma_json_member_double_or_null(json, "locality", d->locality);
    vnuma_json_member_string(json, "memory_source", d->memory_source);
    vnuma_json_member_bool(json, "memory_following", d->memory_following);
    vnuma_json_member_uint(json, "memory_moved_kib", d->memory_moved_kib);
    vnuma_json_key(json, "migrations");
    vnuma_json_begin_object(json);
    for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++)
        vnuma_json_member_uint(json, vnuma_move_kind_to_string(k), d->state ? d->state->migrations[k] : 0);
    vnuma_json_end_object(json);
    vnuma_json_key(json, "warnings");
    vnuma_json_begin_array(json);
    for (guint i = 0; d->warnings && d->warnings[i]; i++)
        vnuma_json_string(json, d->warnings[i]);
    vnuma_json_end_array(json);
    vnuma_json_end_object(json);
}

static void
report_node(VnumaJson *json, const VnumaReportNode *node)
{
    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "id", node->metrics.id);
    vnuma_json_member_string(json, "cpus", node->cpus);
    vnuma_json_member_double(json, "capacity", node->metrics.capacity);
    vnuma_json_member_double(json, "load", node->metrics.load);
    vnuma_json_member_double(json, "committed_vcpus", node->metrics.committed_vcpus);
    vnuma_json_key(json, "free_bytes");
    if (node->metrics.free_bytes >= 0)
        vnuma_json_int(json, node->metrics.free_bytes);
    else
        vnuma_json_null(json);
    vnuma_json_end_object(json);
}

static void
report_action(VnumaJson *json, const VnumaReportAction *a)
{
    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "domain", a->domain);
    vnuma_json_member_string(json, "uuid", a->uuid);
    vnuma_json_member_string(json, "action", a->action);
    vnuma_json_member_bool(json, "applied", a->applied);
    vnuma_json_member_bool(json, "failed", a->failed);
    vnuma_json_member_string(json, "detail", a->detail);
    vnuma_json_end_object(json);
}

char *
vnuma_report_format(const VnumaReport *r)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();

    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "pass", r->pass);
    vnuma_json_member_double(json, "time", r->time);
    vnuma_json_member_string(json, "uri", r->uri);
    vnuma_json_member_bool(json, "dry_run", r->dry_run);
    vnuma_json_member_bool(json, "connected", r->connected);
    vnuma_json_member_string(json, "host", r->host);
    vnuma_json_member_string(json, "memory_mode", r->memory_mode);
    vnuma_json_member_double(json, "memory_migrate_rate", r->memory_migrate_rate);
    vnuma_json_key(json, "nodes");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < r->n_nodes; i++)
        report_node(json, &r->nodes[i]);
    vnuma_json_end_array(json);
    vnuma_json_key(json, "domains");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < r->n_domains; i++)
        report_domain(json, &r->domains[i]);
    vnuma_json_end_array(json);
    vnuma_json_key(json, "actions");
    vnuma_json_begin_array(json);
    for (guint i = 0; r->actions && i < r->actions->len; i++)
        report_action(json, r->actions->pdata[i]);
    vnuma_json_end_array(json);
    vnuma_json_member_uint(json, "errors", r->errors);
    vnuma_json_end_object(json);
    return vnuma_json_steal(json);
}
