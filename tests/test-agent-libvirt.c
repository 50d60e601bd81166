/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad's libvirt side against libvirt's test driver (test:///default:
 * two NUMA cells of 8 CPUs, a running domain 'test'). The driver keeps
 * one in-memory host per connection, so the test opens it, hands the
 * connection to the agent and reads the effects back on it. */
#include "tests/testutil.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "xml/vnuma-record.h"
#include "agent/vnuma-agent.h"

#define TEST_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"

static const char guest_xml[] =
    "<domain type='test'>\n"
    "  <name>%s</name>\n"
    "  <memory unit='KiB'>1048576</memory>\n"
    "  <vcpu placement='static'>4</vcpu>\n"
    "%s"
    "  <os>\n    <type arch='i686'>hvm</type>\n  </os>\n"
    "</domain>\n";

static void
quiet(void *data, virErrorPtr error)
{
}

static virConnectPtr
open_test(void)
{
    virConnectPtr conn;

    virSetErrorFunc(NULL, quiet);
    conn = virConnectOpen("test:///default");
    assert_non_null(conn);
    return conn;
}

static VnumaAgent *
agent_on(virConnectPtr conn, VnumaAgentFlags flags, const char *config_text)
{
    VnumaAgentConfig *config = vnuma_agent_config_new();
    VnumaAgent *agent;
    g_autoptr(GError) error = NULL;

    if (config_text)
        assert_true(vnuma_agent_config_load_data(config, config_text, strlen(config_text), "test", &error));
    agent = vnuma_agent_new("test:///default", config, flags | VNUMA_AGENT_REPORT);
    if (!vnuma_agent_adopt(agent, conn, &error))
        print_error("%s\n", error->message);
    assert_null(error);
    return agent;
}

static void
pass(VnumaAgent *agent)
{
    g_autoptr(GError) error = NULL;

    if (!vnuma_agent_pass(agent, &error))
        print_error("%s\n", error->message);
    assert_null(error);
}

static gboolean
reported(VnumaAgent *agent, const char *domain, const char *action)
{
    g_autofree char *needle = g_strdup_printf("{\"domain\":\"%s\",\"uuid\":", domain);
    const char *report = vnuma_agent_report(agent);

    for (const char *p = report; (p = strstr(p, needle)); p++) {
        g_autofree char *what = g_strdup_printf("\"action\":\"%s\"", action);
        const char *end = strchr(p, '}');

        if (end && g_strstr_len(p, end - p, what))
            return TRUE;
    }
    return FALSE;
}

/* The CPUs vCPU @vcpu may run on, read back from libvirt. */
static char *
vcpu_pins(virDomainPtr dom, guint vcpu)
{
    unsigned char maps[16 * 2] = { 0 };
    g_autoptr(VnumaCpuSet) set = vnuma_cpuset_new();
    int n = virDomainGetVcpuPinInfo(dom, 16, maps, 2, VIR_DOMAIN_AFFECT_LIVE);

    assert_true(n > (int) vcpu);
    for (guint cpu = 0; cpu < 16; cpu++) {
        if (VIR_CPU_USABLE(maps, 2, vcpu, cpu))
            vnuma_cpuset_add(set, cpu);
    }
    return vnuma_cpuset_format(set);
}

static char *
emulator_pins(virDomainPtr dom)
{
    unsigned char map[2] = { 0 };
    g_autoptr(VnumaCpuSet) set = vnuma_cpuset_new();

    assert_int_equal(virDomainGetEmulatorPinInfo(dom, map, 2, VIR_DOMAIN_AFFECT_LIVE), 1);
    for (guint cpu = 0; cpu < 16; cpu++) {
        if (VIR_CPU_USED(map, cpu))
            vnuma_cpuset_add(set, cpu);
    }
    return vnuma_cpuset_format(set);
}

static VnumaAgentState *
record_of(virDomainPtr dom)
{
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VNUMA_AGENT_NAMESPACE,
                                                VIR_DOMAIN_AFFECT_LIVE);
    g_autoptr(GError) error = NULL;
    VnumaAgentState *state;

    assert_non_null(xml);
    state = vnuma_agent_state_parse(xml, &error);
    assert_non_null(state);
    return state;
}

static void
assert_pins(virDomainPtr dom, guint vcpus, const char *cpus)
{
    g_autofree char *emulator = emulator_pins(dom);

    for (guint v = 0; v < vcpus; v++) {
        g_autofree char *pins = vcpu_pins(dom, v);

        assert_str_equal(pins, cpus);
    }
    assert_str_equal(emulator, cpus);
}

/* The running 'test' domain is placed (its persistent definition sized
 * first), a second pass changes nothing, a restarted agent resumes. */
static void
test_place_and_resume(void **unused)
{
    virConnectPtr conn = open_test();
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, NULL);
    g_autoptr(VnumaAgentState) state = NULL;
    g_autofree char *definition = NULL;
    g_autofree char *first_record = NULL;
    g_autofree char *live = NULL;

    pass(agent);
    assert_true(reported(agent, "test", "define"));
    assert_true(reported(agent, "test", "place"));
    assert_int_equal(vnuma_agent_errors(agent), 0);
    assert_pins(dom, 2, "0-7");
    state = record_of(dom);
    assert_int_equal(state->clients->len, 1);
    assert_int_equal(g_array_index(state->clients, VnumaAgentClient, 0).home_node, 0);
    assert_non_null(state->pins_digest);
    definition = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    assert_non_null(strstr(definition, "<vnuma:layout"));
    live = virDomainGetXMLDesc(dom, 0);
    assert_non_null(strstr(live, "<vnumad:state"));
    first_record = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VNUMA_AGENT_NAMESPACE,
                                        VIR_DOMAIN_AFFECT_LIVE);

    /* Same agent, next pass: nothing to do. */
    pass(agent);
    assert_non_null(strstr(vnuma_agent_report(agent), "\"actions\":[]"));

    /* A new agent (a restart): resumes from the metadata, applies nothing. */
    g_autoptr(VnumaAgent) restarted = agent_on(conn, 0, NULL);
    pass(restarted);
    assert_true(reported(restarted, "test", "resume"));
    assert_false(reported(restarted, "test", "place"));
    assert_false(reported(restarted, "test", "define"));
    g_autofree char *second_record = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                          VNUMA_AGENT_NAMESPACE, VIR_DOMAIN_AFFECT_LIVE);
    assert_str_equal(first_record, second_record);
    assert_pins(dom, 2, "0-7");

    /* A move, as the rebalancer applies it: pins, count, move time. */
    g_autoptr(GError) error = NULL;
    assert_true(vnuma_agent_move(restarted, TEST_UUID, 0, 1, VNUMA_MOVE_LOCALITY, &error));
    assert_pins(dom, 2, "8-15");
    g_autoptr(VnumaAgentState) moved = record_of(dom);
    assert_int_equal(g_array_index(moved->clients, VnumaAgentClient, 0).home_node, 1);
    assert_true(g_array_index(moved->clients, VnumaAgentClient, 0).moved > 0);
    assert_int_equal(moved->migrations[VNUMA_MOVE_LOCALITY], 1);
    assert_false(vnuma_agent_move(restarted, TEST_UUID, 5, 1, VNUMA_MOVE_BALANCE, &error));

    /* Restarted again: the moved client stays where it went, counted. */
    g_autoptr(VnumaAgent) third = agent_on(conn, 0, NULL);
    pass(third);
    assert_true(reported(third, "test", "resume"));
    assert_non_null(strstr(vnuma_agent_report(third), "\"migrations\":{\"balance\":0,\"locality\":1,\"swap\":0}"));
    assert_pins(dom, 2, "8-15");

    virDomainFree(dom);
    virConnectClose(conn);
}

static virDomainPtr
define_guest(virConnectPtr conn, const char *name, const char *extra)
{
    g_autofree char *xml = g_strdup_printf(guest_xml, name, extra);
    virDomainPtr dom = virDomainDefineXML(conn, xml);

    if (!dom)
        print_error("define %s: %s\n", name, virGetLastErrorMessage());
    assert_non_null(dom);
    return dom;
}

static void
event(VnumaAgent *agent, virDomainPtr dom, int type, int detail)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    assert_int_equal(virDomainGetUUIDString(dom, uuid), 0);
    vnuma_agent_handle_event(agent, uuid, type, detail);
}

/* Events: DEFINED sizes the definition once (the agent's own define
 * comes back as an event and changes nothing); STARTED places on the
 * less loaded node; STOPPED forgets. */
static void
test_events(void **unused)
{
    virConnectPtr conn = open_test();
    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, NULL);
    virDomainPtr guest;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *echo = NULL;

    pass(agent);                                 /* 'test' goes to node 0 */
    guest = define_guest(conn, "guest", "");
    before = virDomainGetXMLDesc(guest, VIR_DOMAIN_XML_INACTIVE);
    event(agent, guest, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
    after = virDomainGetXMLDesc(guest, VIR_DOMAIN_XML_INACTIVE);
    assert_null(strstr(before, "vnuma:layout"));
    assert_non_null(strstr(after, "vnuma:layout"));
    event(agent, guest, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED);
    echo = virDomainGetXMLDesc(guest, VIR_DOMAIN_XML_INACTIVE);
    assert_str_equal(after, echo);

    assert_int_equal(virDomainCreate(guest), 0);
    event(agent, guest, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
    /* Node 0 carries 'test': the live load sends the guest to node 1. */
    assert_pins(guest, 4, "8-15");
    pass(agent);
    assert_true(reported(agent, "guest", "place"));
    assert_non_null(strstr(vnuma_agent_report(agent), "\"committed_vcpus\":4"));

    assert_int_equal(virDomainDestroy(guest), 0);
    event(agent, guest, VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
    pass(agent);
    assert_null(strstr(vnuma_agent_report(agent), "\"name\":\"guest\""));
    assert_int_equal(vnuma_agent_errors(agent), 0);
    virDomainUndefine(guest);
    virDomainFree(guest);
    virConnectClose(conn);
}

/* A STARTED event for the run a pass already placed (its start job made
 * the placement busy and the pass placed it once the job ended; the event
 * comes when the job ends) is no new start: the domain is not forgotten
 * and resumed mid-way (issue 19: its memory follow was dropped, settle
 * started over). A new run of the same domain (new ID) is placed. */
static void
test_started_after_pass(void **unused)
{
    virConnectPtr conn = open_test();
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, NULL);

    pass(agent);
    assert_true(reported(agent, "test", "place"));
    event(agent, dom, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
    pass(agent);
    assert_false(reported(agent, "test", "resume"));
    assert_false(reported(agent, "test", "place"));
    assert_non_null(strstr(vnuma_agent_report(agent), "\"actions\":[]"));

    assert_int_equal(virDomainDestroy(dom), 0);
    assert_int_equal(virDomainCreate(dom), 0);
    event(agent, dom, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
    pass(agent);
    assert_true(reported(agent, "test", "place") || reported(agent, "test", "resume") ||
                reported(agent, "test", "recover"));
    assert_int_equal(vnuma_agent_errors(agent), 0);
    virDomainFree(dom);
    virConnectClose(conn);
}

/* A domain that stops without the agent hearing of it is forgotten by
 * the next pass; events about vanished domains are ignored. */
static void
test_vanished(void **unused)
{
    virConnectPtr conn = open_test();
    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, "[vnuma]\ndefine_sizing=false\n");
    virDomainPtr guest = define_guest(conn, "brief", "");
    char uuid[VIR_UUID_STRING_BUFLEN];

    assert_int_equal(virDomainCreate(guest), 0);
    pass(agent);
    assert_true(reported(agent, "brief", "place"));
    assert_false(reported(agent, "brief", "define"));
    virDomainGetUUIDString(guest, uuid);
    assert_int_equal(virDomainDestroy(guest), 0);
    assert_int_equal(virDomainUndefine(guest), 0);
    vnuma_agent_handle_event(agent, uuid, VIR_DOMAIN_EVENT_STARTED, 0);
    pass(agent);
    assert_null(strstr(vnuma_agent_report(agent), "\"name\":\"brief\""));
    assert_int_equal(vnuma_agent_errors(agent), 0);
    virDomainFree(guest);
    virConnectClose(conn);
}

/* Admin pins (rule 9) are left alone; --dry-run changes nothing. */
static void
test_unmanaged_and_dry_run(void **unused)
{
    virConnectPtr conn = open_test();
    virDomainPtr test = virDomainLookupByName(conn, "test");
    virDomainPtr pinned = define_guest(conn, "pinned",
                                       "  <cputune>\n    <vcpupin vcpu='0' cpuset='3'/>\n  </cputune>\n");
    g_autoptr(VnumaAgent) dry = agent_on(conn, VNUMA_AGENT_DRY_RUN, NULL);
    g_autofree char *definition = NULL;

    assert_int_equal(virDomainCreate(pinned), 0);
    pass(dry);
    assert_true(reported(dry, "test", "place"));
    assert_non_null(strstr(vnuma_agent_report(dry), "\"applied\":false"));
    assert_null(strstr(vnuma_agent_report(dry), "\"applied\":true"));
    assert_pins(test, 2, "0-15");
    definition = virDomainGetXMLDesc(test, VIR_DOMAIN_XML_INACTIVE);
    assert_null(strstr(definition, "vnuma:layout"));

    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, NULL);
    pass(agent);
    assert_true(reported(agent, "pinned", "unmanaged"));
    assert_false(reported(agent, "pinned", "define"));
    g_autofree char *pins = vcpu_pins(pinned, 0);
    assert_str_equal(pins, "3");
    virDomainDestroy(pinned);
    virDomainUndefine(pinned);
    virDomainFree(pinned);
    virDomainFree(test);
    virConnectClose(conn);
}

/* Every running domain counts in the load placement sees: a domain the
 * agent leaves alone (admin pins) by its vCPUs where they may run. */
static void
test_unmanaged_load_counts(void **unused)
{
    virConnectPtr conn = open_test();
    virDomainPtr hog = define_guest(conn, "hog",
                                    "  <cputune>\n    <vcpupin vcpu='0' cpuset='0-7'/>\n"
                                    "    <vcpupin vcpu='1' cpuset='0-7'/>\n    <vcpupin vcpu='2' cpuset='0-7'/>\n"
                                    "    <vcpupin vcpu='3' cpuset='0-7'/>\n  </cputune>\n");
    virDomainPtr test = virDomainLookupByName(conn, "test");
    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, "[vnuma]\ndefine_sizing=false\n");
    const char *const only_hog[] = { "hog", NULL };

    assert_int_equal(virDomainCreate(hog), 0);
    vnuma_agent_set_domains(agent, only_hog);
    pass(agent);
    assert_true(reported(agent, "hog", "unmanaged"));
    assert_non_null(strstr(vnuma_agent_report(agent), "\"id\":0,\"cpus\":\"0-7\",\"capacity\":8,\"load\":0,\"committed_vcpus\":4"));
    /* Without the hog, node 0 would win the tie (lowest id). */
    vnuma_agent_set_domains(agent, NULL);
    pass(agent);
    assert_true(reported(agent, "test", "place"));
    assert_pins(test, 2, "8-15");
    virDomainDestroy(hog);
    virDomainUndefine(hog);
    virDomainFree(hog);
    virDomainFree(test);
    virConnectClose(conn);
}

/* A reload reads the host again with the new settings; placed domains
 * resume from their records, nothing is re-pinned. */
static void
test_reload(void **unused)
{
    virConnectPtr conn = open_test();
    virDomainPtr test = virDomainLookupByName(conn, "test");
    g_autoptr(VnumaAgent) agent = agent_on(conn, 0, "[vnuma]\ndefine_sizing=false\n");
    VnumaAgentConfig *config = vnuma_agent_config_new();
    g_autoptr(GError) error = NULL;
    const char *text = "[vnuma]\ndefine_sizing=false\nhost_cpuset=8-15\n";

    pass(agent);
    assert_pins(test, 2, "0-7");
    assert_true(vnuma_agent_config_load_data(config, text, strlen(text), "test", &error));
    vnuma_agent_reload(agent, config);
    pass(agent);
    assert_true(reported(agent, "test", "resume"));
    assert_non_null(strstr(vnuma_agent_report(agent), "\"id\":1,\"cpus\":\"8-15\""));
    assert_non_null(strstr(vnuma_agent_report(agent), "\"id\":0,\"cpus\":\"\""));
    assert_pins(test, 2, "0-7");
    virDomainFree(test);
    virConnectClose(conn);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_and_resume),
        cmocka_unit_test(test_unmanaged_load_counts),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_started_after_pass),
        cmocka_unit_test(test_vanished),
        cmocka_unit_test(test_unmanaged_and_dry_run),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
