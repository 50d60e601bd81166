/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "xml/vnuma-record.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-request.h"
#include "plugin/vnuma.h"

G_BEGIN_DECLS

/* What `vnumactl explain` and `status` read from a running libvirt,
 * read-only: the host from its capabilities, each domain's live XML
 * planned through libvnuma, the agent's record (urn:x-vnuma:agent:1),
 * the live pins, and the QEMU process's memory per node. */

typedef struct {
    virConnectPtr conn;
    VnumaHost *host;             /* NULL when the capabilities have no NUMA cells */
    VnumaContext *ctx;           /* the same host for libvnuma; NULL likewise */
    char *host_error;            /* why there is no host */
    guint host_cpus;             /* CPUs libvirt reports (pin map width) */
    gboolean read_numa_maps;     /* local qemu driver: its /proc is ours */
    VnumaPlanFlags plan_flags;   /* VNUMA_PLAN_TEST_AS_KVM on libvirt's test driver */
} VnumactlLive;

typedef struct {
    char *vcpus;                 /* vCPU list sharing one pin */
    char *cpus;                  /* their host CPU list */
} VnumactlPinGroup;

typedef struct {
    char *name;
    const char *state;           /* running, paused, ... */
    guint vcpus;                 /* maximum */
    guint64 memory_kib;
    VnumaRequest *live;          /* the live XML as read: the cells and topology the guest has */
    VnumaPlan *plan;             /* vnuma's decision for the live XML; NULL without host */
    VnumaAgentState *record;     /* the agent's record; NULL: not placed by vnumad */
    char *record_error;          /* a record that was there but unreadable */
    GArray *pins;                /* VnumactlPinGroup, ascending vCPUs; empty when unknown */
    char *emulator_pin;          /* NULL when unknown */
    char *memory_mode;           /* <numatune> mode, live; NULL when unknown */
    char *memory_nodeset;
    GArray *memory;              /* guint64 KiB per host node id (numa_maps); NULL: unknown */
    double locality;             /* share of memory on the home nodes; -1: unknown */
} VnumactlDomain;

typedef struct {
    char *vcpus;                 /* vCPU list */
    gint home_node;              /* -1: not placed */
    guint64 memory_kib;
    gint64 moved;                /* s since the epoch of its last move; -1: never or unknown */
} VnumactlClient;

VnumactlLive *vnumactl_live_open(const char *uri, const char *config, GError **error);
void vnumactl_live_free(VnumactlLive *live);

/* Active domains, by name. */
GPtrArray *vnumactl_live_domains(VnumactlLive *live, GError **error);
VnumactlDomain *vnumactl_live_domain(VnumactlLive *live, const char *name, GError **error);
void vnumactl_domain_free(VnumactlDomain *domain);

/* Managed by vnuma: placed by vnumad (its pins are its own, which a
 * plan of the live XML would take for an admin's), else as planned.
 * FALSE with the reason in @reason (NULL when unknown). */
gboolean vnumactl_domain_managed(const VnumactlLive *live, const VnumactlDomain *domain, const char **reason);

/* The domain's NUMA clients (VnumactlClient): the agent's record, else
 * vnuma's plan of a managed domain; empty when neither has any. */
GArray *vnumactl_domain_clients(const VnumactlDomain *domain);
/* Their home nodes as a node list ("0-1"); NULL when there are none. */
char *vnumactl_domain_home_nodes(const VnumactlDomain *domain);

/* Busy CPUs per host node (index as live->host->nodes) over @seconds,
 * from libvirt's per-CPU counters; NULL when libvirt has none. */
GArray *vnumactl_live_node_load(VnumactlLive *live, double seconds);
/* Free KiB of host node @id; -1 when libvirt does not say. */
gint64 vnumactl_live_node_free(VnumactlLive *live, guint id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumactlLive, vnumactl_live_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumactlDomain, vnumactl_domain_free)

G_END_DECLS
