# SPDX-License-Identifier: LGPL-2.1-or-later
"""A ctypes binding of libvnuma.so.1 (plugin/vnuma.h), no more.

Every decision (sizing, placement, the rewrite, the record) is made in C;
this module only carries strings across. Errors are LibvnumaError.
"""

import ctypes
import threading

LIBRARY = 'libvnuma.so.1'
GLIB = 'libglib-2.0.so.0'

PLAN_DEFAULT = 0
FORMAT_XML = 0


class LibvnumaError(Exception):
    pass


class _GError(ctypes.Structure):
    _fields_ = [('domain', ctypes.c_uint32), ('code', ctypes.c_int),
                ('message', ctypes.c_char_p)]


_lock = threading.Lock()
_libs = {}


def _declare(lib):
    p, s, i, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    err = ctypes.POINTER(ctypes.POINTER(_GError))
    zp = ctypes.POINTER(ctypes.c_size_t)
    sig = {
        'vnuma_context_new': (p, []),
        'vnuma_context_free': (None, [p]),
        'vnuma_context_load_config': (i, [p, s, err]),
        'vnuma_context_load_caps_xml': (i, [p, s, z, err]),
        'vnuma_context_load_caps_file': (i, [p, s, err]),
        'vnuma_context_config_string': (p, [p, s]),
        'vnuma_context_set_memory_mode': (i, [p, s, err]),
        'vnuma_context_warnings': (ctypes.POINTER(s), [p]),
        'vnuma_plan_new_with_record': (p, [p, s, z, s, z, i, err]),
        'vnuma_plan_free': (None, [p]),
        'vnuma_plan_is_managed': (i, [p]),
        'vnuma_plan_reason': (s, [p]),
        'vnuma_plan_changes_domain': (i, [p]),
        'vnuma_plan_warnings': (ctypes.POINTER(s), [p]),
        'vnuma_plan_render': (p, [p, i, zp]),
        'vnuma_plan_record': (p, [p, zp]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)  # AttributeError: an older libvnuma
        fn.restype, fn.argtypes = restype, argtypes


def _load():
    with _lock:
        key = LIBRARY
        if key not in _libs:
            try:
                lib = ctypes.CDLL(LIBRARY)
                _declare(lib)
                glib = ctypes.CDLL(GLIB)
                glib.g_free.argtypes = [ctypes.c_void_p]
                glib.g_error_free.argtypes = [ctypes.POINTER(_GError)]
            except (OSError, AttributeError) as e:
                raise LibvnumaError('cannot load %s: %s' % (LIBRARY, e))
            _libs[key] = (lib, glib)
        return _libs[key]


def _strings(array):
    out = []
    i = 0
    while array and array[i] is not None:
        out.append(array[i].decode('utf-8', 'replace'))
        i += 1
    return out


class _Call(object):
    """One GError ** for one call; raises with its message."""

    def __init__(self, glib):
        self.glib = glib
        self.error = ctypes.POINTER(_GError)()

    def check(self, ok, what):
        if ok:
            return ok
        msg = 'failed'
        if self.error:
            msg = self.error.contents.message.decode('utf-8', 'replace')
            self.glib.g_error_free(self.error)
        raise LibvnumaError('%s: %s' % (what, msg))


def _take(glib, ptr, length=None):
    """A g_malloc'd string from C, as str; freed here."""
    if not ptr:
        return None
    try:
        if length is not None:
            return ctypes.string_at(ptr, length).decode('utf-8')
        return ctypes.string_at(ptr).decode('utf-8')
    finally:
        glib.g_free(ptr)


class Plan(object):
    def __init__(self, managed, reason, changed, xml, record, warnings):
        self.managed = managed
        self.reason = reason
        self.changed = changed
        self.xml = xml
        self.record = record
        self.warnings = warnings


class Context(object):
    """A VnumaContext: the host's config and topology."""

    def __init__(self):
        self._lib, self._glib = _load()
        self._ctx = self._lib.vnuma_context_new()

    def close(self):
        if self._ctx:
            self._lib.vnuma_context_free(self._ctx)
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def load_config(self, path):
        call = _Call(self._glib)
        call.check(self._lib.vnuma_context_load_config(
            self._ctx, path.encode(), ctypes.byref(call.error)), path)

    def config_string(self, key):
        return _take(self._glib,
                     self._lib.vnuma_context_config_string(self._ctx, key.encode()))

    def load_caps_xml(self, text):
        data = text.encode('utf-8')
        call = _Call(self._glib)
        call.check(self._lib.vnuma_context_load_caps_xml(
            self._ctx, data, len(data), ctypes.byref(call.error)),
            'host capabilities')

    def load_caps_file(self, path):
        call = _Call(self._glib)
        call.check(self._lib.vnuma_context_load_caps_file(
            self._ctx, path.encode(), ctypes.byref(call.error)), path)

    def set_memory_mode(self, mode):
        call = _Call(self._glib)
        call.check(self._lib.vnuma_context_set_memory_mode(
            self._ctx, mode.encode(), ctypes.byref(call.error)), 'memory_mode')

    def warnings(self):
        return _strings(self._lib.vnuma_context_warnings(self._ctx))

    def plan(self, domain_xml, record=None):
        lib, glib = self._lib, self._glib
        data = domain_xml.encode('utf-8')
        rec = record.encode('utf-8') if record else None
        call = _Call(glib)
        plan = call.check(lib.vnuma_plan_new_with_record(
            self._ctx, data, len(data), rec, len(rec) if rec else 0,
            PLAN_DEFAULT, ctypes.byref(call.error)), 'domain XML')
        try:
            n = ctypes.c_size_t()
            xml = _take(glib, lib.vnuma_plan_render(plan, FORMAT_XML,
                                                    ctypes.byref(n)), n.value)
            rn = ctypes.c_size_t()
            rec_out = _take(glib, lib.vnuma_plan_record(plan, ctypes.byref(rn)),
                            rn.value)
            reason = lib.vnuma_plan_reason(plan)
            return Plan(bool(lib.vnuma_plan_is_managed(plan)),
                        reason.decode() if reason else None,
                        bool(lib.vnuma_plan_changes_domain(plan)), xml, rec_out,
                        _strings(lib.vnuma_plan_warnings(plan)))
        finally:
            lib.vnuma_plan_free(plan)
