/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-cpuset.h"

G_BEGIN_DECLS

/* What the sizing engine needs to know about a domain: filled from the
 * domain XML by xml/vnuma-domain.c, read by the pure core. */

typedef struct {
    guint sockets, dies, cores, threads;  /* all 0: no <topology> */
} VnumaGuestTopology;

/* A guest-visible NUMA cell (ESXi's VPD). */
typedef struct {
    VnumaCpuSet *vcpus;
    guint64 memory_kib;
    GArray *distances;           /* guint per sibling cell id (0: not given); NULL: none */
} VnumaCell;

typedef struct {
    guint vcpu;
    VnumaCpuSet *cpuset;
} VnumaVcpuPin;

typedef struct {
    guint cell_id;
    VnumaCpuSet *nodeset;
} VnumaMemnode;

/* The host placement a domain carries: <cputune> pins and <numatune>. */
typedef struct {
    GArray *vcpupins;            /* VnumaVcpuPin, ascending vcpu */
    VnumaCpuSet *emulatorpin;    /* NULL: none */
    gboolean has_numatune;
    char *memory_mode;           /* <numatune><memory mode>; NULL when absent */
    VnumaCpuSet *memory_nodeset; /* NULL when absent */
    GArray *memnodes;            /* VnumaMemnode, ascending cell id */
} VnumaPinSet;

/* One client of vnuma's own record (<vnuma:client/>). */
typedef struct {
    VnumaCpuSet *vcpus;
    guint home_node;
    guint64 memory_kib;
} VnumaStampClient;

/* vnuma's record of what it wrote last time (<vnuma:layout>). */
typedef struct {
    guint version;
    guint vcpus;                 /* V it sized for */
    char *host;                  /* host fingerprint it sized for */
    char *pins_digest;           /* digest of the pins it wrote */
    gboolean wrote_topology;
    VnumaGuestTopology topology; /* what it wrote when wrote_topology */
    GArray *clients;             /* VnumaStampClient */
    GPtrArray *cells;            /* VnumaCell *: the cells it wrote (empty: none) */
} VnumaStamp;

typedef struct {
    char *name;
    char *value;
} VnumaOverride;

/* Who moves the vCPUs once the domain runs (oVirt's <ovirt-vm:cpuPolicy>). */
typedef enum {
    VNUMA_CPU_OWNER_NONE,        /* nobody but libvirt: vnuma's pins stay */
    VNUMA_CPU_OWNER_SHARED,      /* the orchestrator re-pins every vCPU to its shared pool */
    VNUMA_CPU_OWNER_DEDICATED,   /* the orchestrator dedicates host CPUs to the vCPUs */
} VnumaCpuOwner;

typedef struct {
    char *name;
    char *type;                  /* kvm, qemu, ... */
    guint vcpus;                 /* V: <vcpu> text, the maximum */
    guint current_vcpus;
    VnumaCpuSet *online_vcpus;   /* the current_vcpus online ones (<vcpus enabled>, else 0 … current−1) */
    gboolean hotplug_by_socket;  /* <vcpus> marks vCPUs hotpluggable on whole guest sockets (KubeVirt) */
    VnumaCpuOwner cpu_owner;     /* who re-pins the vCPUs at start */
    char *cpu_owner_policy;      /* the orchestrator's word for it (oVirt's cpuPolicy), NULL: none */
    VnumaCpuSet *vcpu_cpuset;    /* <vcpu cpuset>, NULL when absent */
    gboolean placement_auto;     /* numad placement requested */
    guint64 memory_kib;          /* <memory>, else the cells' sum (+ devices) */
    guint64 device_memory_kib;   /* hot-plug memory devices, counted in <memory>, not in cells */
    guint64 page_kib;            /* backing page size; 0: the host's default huge page */
    gboolean hugepages;
    VnumaPinSet *pins;
    GPtrArray *cells;            /* VnumaCell *: current <cpu><numa> cells */
    VnumaGuestTopology topology; /* current <cpu><topology> */
    gboolean policy_present;     /* a <vnuma:policy> element exists */
    GArray *overrides;           /* VnumaOverride, in document order */
    VnumaStamp *stamp;           /* NULL when vnuma never wrote this domain */
    GPtrArray *warnings;         /* char *: what reading the domain found odd */
    gboolean keep_guest_abi;     /* migrate/restore: cells and topology must not change */
} VnumaRequest;

gboolean vnuma_guest_topology_equal(const VnumaGuestTopology *a, const VnumaGuestTopology *b);

VnumaCell *vnuma_cell_new(VnumaCpuSet *vcpus, guint64 memory_kib);
void vnuma_cell_free(VnumaCell *cell);
VnumaCell *vnuma_cell_copy(const VnumaCell *cell);
/* Records @value as the distance to cell @sibling. */
void vnuma_cell_set_distance(VnumaCell *cell, guint sibling, guint value);
/* vCPUs and memory; distances are compared by vnuma_cells_distances_equal. */
gboolean vnuma_cells_equal(const GPtrArray *a, const GPtrArray *b);
gboolean vnuma_cells_distances_equal(const GPtrArray *a, const GPtrArray *b);

VnumaPinSet *vnuma_pinset_new(void);
void vnuma_pinset_free(VnumaPinSet *pins);
/* Takes ownership of @cpuset / @nodeset. */
void vnuma_pinset_add_vcpupin(VnumaPinSet *pins, guint vcpu, VnumaCpuSet *cpuset);
void vnuma_pinset_add_memnode(VnumaPinSet *pins, guint cell_id, VnumaCpuSet *nodeset);
gboolean vnuma_pinset_is_empty(const VnumaPinSet *pins);
/* A short digest of the pins' canonical form: equal pins, equal digest,
 * whatever order or spelling the XML used. Lets vnuma tell the pins it
 * wrote from pins an admin or Nova wrote. */
char *vnuma_pinset_digest(const VnumaPinSet *pins);
/* Equal canonical forms: what equal digests say, without the hashing. */
gboolean vnuma_pinset_equal(const VnumaPinSet *a, const VnumaPinSet *b);

VnumaStamp *vnuma_stamp_new(void);
gboolean vnuma_stamp_equal(const VnumaStamp *a, const VnumaStamp *b);
void vnuma_stamp_free(VnumaStamp *stamp);

/* Pins or a nodeset in the domain that vnuma's record does not claim
 * (rule 9): an admin's or an orchestrator's placement. */
gboolean vnuma_request_has_foreign_pins(const VnumaRequest *request);

/* The memory the guest cells hold: <memory> less hot-plug devices. */
guint64 vnuma_request_cell_memory_kib(const VnumaRequest *request);

VnumaRequest *vnuma_request_new(void);
void vnuma_request_free(VnumaRequest *request);
void vnuma_request_add_override(VnumaRequest *request, const char *name, const char *value);
/* A domain of libvirt's test driver (type 'test') taken for kvm: what
 * VNUMA_PLAN_TEST_AS_KVM does, for the plan API and vnumad alike. */
void vnuma_request_take_test_as_kvm(VnumaRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaCell, vnuma_cell_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaPinSet, vnuma_pinset_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaStamp, vnuma_stamp_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaRequest, vnuma_request_free)

G_END_DECLS
