#!/usr/bin/env python3
"""Prints a Prometheus text exposition (FILE, or stdin) as JSON:
{"types": {family: type}, "samples": [[name, {label: value}, value], ...]}.
Used by the tests to compare what node_exporter serves with what is known."""
import json
import re
import sys

LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def unescape(value):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), value)


def parse(text):
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind
            continue
        if not line or line.startswith('#'):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$', line)
        if not m:
            raise SystemExit('unparsable line: ' + line)
        labels, rest = {}, m.group(2) or ''
        while rest.strip():
            lm = LABEL.match(rest)
            if not lm:
                raise SystemExit('unparsable labels: ' + line)
            labels[lm.group(1)] = unescape(lm.group(2))
            rest = rest[lm.end():]
        samples.append([m.group(1), labels, float(m.group(3))])
    return {'types': types, 'samples': samples}


if __name__ == '__main__':
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    json.dump(parse(text), sys.stdout)
