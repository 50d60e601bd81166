/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parse-floor: the least a hook that rewrites domain XML must do, as a
 * program for hook-bench to time next to vnuma-hook. It is linked like
 * the hook (statically: the same glib, libxml2 and start-up cost), reads
 * the domain XML from stdin, parses it with the hook's parser and
 * settings (vnuma_xml_source_parse) and prints it. What vnuma-hook costs
 * above this is its own work: config, host topology, sizing, placement.
 *
 *   parse-floor DOMAIN OP SUBOP EXTRA < domain.xml
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>
#include <libxml/tree.h>

#include "xml/vnuma-xmlutil.h"

int
main(int argc, char **argv)
{
    g_autoptr(GString) xml = g_string_new(NULL);
    g_autoptr(VnumaXmlSource) src = NULL;
    g_autoptr(GError) error = NULL;
    char chunk[65536];
    ssize_t n;
    xmlChar *out = NULL;
    int len = 0;

    while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
        g_string_append_len(xml, chunk, n);
    src = vnuma_xml_source_parse(xml->str, xml->len, "domain XML", &error);
    if (!src) {
        fprintf(stderr, "parse-floor: %s\n", error->message);
        return EXIT_FAILURE;
    }
    xmlDocDumpMemory(vnuma_xml_source_doc(src), &out, &len);
    if (fwrite(out, 1, (size_t) len, stdout) != (size_t) len || fflush(stdout) != 0)
        return EXIT_FAILURE;
    xmlFree(out);
    return EXIT_SUCCESS;
}
