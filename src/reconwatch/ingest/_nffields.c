/*
 * The netfilter LOG fields in one pass per line: the compiled twin of six
 * regular expressions in reconwatch/ingest/netfilter.py and syslog.py.
 *
 * The SQL parser cuts SRC/DST, TTL/ID, PROTO/SPT/DPT and the WINDOW..flags
 * text with four unanchored RE2 searches; they were 60% of its time, and the
 * syslog envelope and the head split most of the rest. This module finds the
 * same matches while walking each line's spaces once and returns the fifteen
 * captured texts as Arrow string buffers. It implements
 * exactly what the patterns say under RE2's leftmost-first rules (the SQL is
 * the specification; tests/test_netfilter_fields.py compares the two on
 * generated and random lines):
 *
 *   ADDRESSES     " SRC=(\S*) DST=(\S*)"
 *   TTL_ID        " (?:TTL|HOPLIMIT)=(\d+)(?: ID=(\d+))?"
 *   PROTO_PORTS   " PROTO=(\S*)(?: SPT=(\S*) DPT=(\S*))?"
 *   WINDOW_FLAGS  " WINDOW=\d+(?: RES=0x[0-9A-Fa-f]{2})?[^=]*"   (whole match)
 *
 * and, anchored at the line's start, the syslog envelope with the netfilter
 * head (syslog.bsd_iso_pattern(netfilter.HEAD): stamp, host, program, head)
 * and the head's parts (netfilter.HEAD_PARTS: key part, value, OUT value):
 *
 *   ^(?:<\d{1,3}>)?(BSD_STAMP|ISO_STAMP) (\S+) ([^\s:\[\]]+)(?:\[\d+\])?:
 *       (?: ([^=]*=\S*(?: OUT=\S*)?))?
 *   ^([^=]*)=(\S*)(?: OUT=(\S*))?                       (over the head)
 *
 * A greedy run followed by a literal that cannot belong to the run (a space
 * after \S*, a non-digit after \d+) never gives back characters, so each
 * match is decided at its first position without backtracking; the leftmost
 * position that matches wins. The same holds in the envelope: no stamp starts
 * with '<', a fraction of ten digits leaves a digit where the zone must be,
 * and the host, tag and head each end at the first byte they cannot take. A pattern that does not match, and an optional
 * group that does not take part, give '' (as DuckDB's regexp_extract does).
 *
 * Log lines are untrusted: every index is checked against the line's end, the
 * input offsets against the data buffer, and output sizes against int32.
 * The GIL is released while lines are scanned, so slices run side by side.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

enum {
    F_SRC,
    F_DST,
    F_TTL,
    F_ID,
    F_PROTO,
    F_SPT,
    F_DPT,
    F_WINDOW,
    F_STAMP,
    F_HOST,
    F_PROGRAM,
    F_HEAD,
    F_KEYPART,
    F_VALUE,
    F_OUT,
    N_FIELDS
};

typedef struct {
    int32_t *offsets; /* n + 1 entries */
    char *data;
    size_t len;
    size_t cap;
} Column;

typedef struct {
    size_t start;
    size_t end;
} Span;

/* RE2's \s is [\t\n\f\r ], ASCII only; every other byte (UTF-8 included) is \S. */
static inline int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline int is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

static inline int is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }

static inline int is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline size_t non_space_run(const unsigned char *s, size_t i, size_t end) {
    while (i < end && !is_space(s[i])) i++;
    return i;
}

static inline size_t digit_run(const unsigned char *s, size_t i, size_t end) {
    while (i < end && is_digit(s[i])) i++;
    return i;
}

/* True when the literal ``lit`` (``n`` bytes) starts at ``i`` and ends by ``end``. */
static inline int starts(const unsigned char *s, size_t i, size_t end, const char *lit, size_t n) {
    return i <= end && end - i >= n && memcmp(s + i, lit, n) == 0;
}

#define LIT(s) (s), (sizeof(s) - 1)

/* "A=(\S*) B=(\S*)" at ``i`` (``a`` and ``b`` are " A=" and " B=", each ``n``
 * bytes): fills both spans and returns 1, or returns 0 and leaves them. */
static inline int pair(const unsigned char *s, size_t i, size_t end, const char *a, const char *b,
                       size_t n, Span *first, Span *second) {
    if (!starts(s, i, end, a, n)) return 0;
    size_t one = i + n, one_end = non_space_run(s, one, end);
    if (!starts(s, one_end, end, b, n)) return 0;
    size_t two = one_end + n;
    *first = (Span){one, one_end};
    *second = (Span){two, non_space_run(s, two, end)};
    return 1;
}

/* True when s[i, i + n) is all digits except where ``shape`` (n bytes) has
 * another character, which must then be there: "dddd-dd-ddTdd:dd:dd". */
static int shaped(const unsigned char *s, size_t i, size_t end, const char *shape, size_t n) {
    if (i > end || end - i < n) return 0;
    for (size_t k = 0; k < n; k++) {
        if (shape[k] == 'd' ? !is_digit(s[i + k]) : s[i + k] != (unsigned char)shape[k]) return 0;
    }
    return 1;
}

/* The end of a stamp starting at ``p`` (BSD_STAMP or ISO_STAMP), or 0 when none. */
static size_t stamp_end(const unsigned char *s, size_t p, size_t end) {
    if (p < end && is_upper(s[p])) {
        /* [A-Z][a-z]{2}  ?\d{1,2} \d{2}:\d{2}:\d{2} */
        if (end - p < 4 || !is_lower(s[p + 1]) || !is_lower(s[p + 2]) || s[p + 3] != ' ') return 0;
        size_t q = p + 4;
        if (q < end && s[q] == ' ') q++;
        size_t day = q;
        while (q < end && q - day < 2 && is_digit(s[q])) q++;
        if (q == day || q >= end || s[q] != ' ') return 0;
        q++;
        return shaped(s, q, end, "dd:dd:dd", 8) ? q + 8 : 0;
    }
    /* \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2}) */
    if (!shaped(s, p, end, "dddd-dd-ddTdd:dd:dd", 19)) return 0;
    size_t q = p + 19;
    if (q < end && s[q] == '.') {
        size_t digits = digit_run(s, q + 1, end) - (q + 1);
        if (digits == 0 || digits > 9) return 0; /* the zone cannot start at a '.' or digit */
        q += 1 + digits;
    }
    if (q < end && s[q] == 'Z') return q + 1;
    if (q < end && (s[q] == '+' || s[q] == '-') && shaped(s, q + 1, end, "dd", 2)) {
        q += 3;
        if (q < end && s[q] == ':') q++;
        return shaped(s, q, end, "dd", 2) ? q + 2 : 0;
    }
    return 0;
}

/* RE2's [^\s:\[\]] */
static inline int is_tag_char(unsigned char c) {
    return !is_space(c) && c != ':' && c != '[' && c != ']';
}

/* The envelope and head at the start of s[begin, end) (see the top); spans stay
 * empty where the pattern does not match, the head's when only it does not. */
static void scan_envelope(const unsigned char *s, size_t begin, size_t end, Span spans[N_FIELDS]) {
    size_t p = begin;
    if (p < end && s[p] == '<') { /* (?:<\d{1,3}>)? -- no stamp starts with '<' */
        size_t digits = digit_run(s, p + 1, end) - (p + 1);
        if (digits == 0 || digits > 3 || p + 1 + digits >= end || s[p + 1 + digits] != '>') return;
        p += digits + 2;
    }
    size_t stamp = p, stamp_stop = stamp_end(s, p, end);
    if (stamp_stop == 0 || stamp_stop >= end || s[stamp_stop] != ' ') return;
    size_t host = stamp_stop + 1, host_stop = non_space_run(s, host, end);
    if (host_stop == host || host_stop >= end || s[host_stop] != ' ') return;
    size_t program = host_stop + 1, program_stop = program;
    while (program_stop < end && is_tag_char(s[program_stop])) program_stop++;
    if (program_stop == program) return;
    size_t colon = program_stop;
    if (colon < end && s[colon] == '[') { /* (?:\[\d+\])? then ':' */
        size_t pid_stop = digit_run(s, colon + 1, end);
        if (pid_stop == colon + 1 || pid_stop >= end || s[pid_stop] != ']') return;
        colon = pid_stop + 1;
    }
    if (colon >= end || s[colon] != ':') return;
    spans[F_STAMP] = (Span){stamp, stamp_stop};
    spans[F_HOST] = (Span){host, host_stop};
    spans[F_PROGRAM] = (Span){program, program_stop};
    /* (?: ([^=]*=\S*(?: OUT=\S*)?))? */
    size_t head = colon + 1;
    if (head >= end || s[head] != ' ') return;
    head++;
    const unsigned char *equals = memchr(s + head, '=', end - head);
    if (equals == NULL) return;
    size_t value = (size_t)(equals - s) + 1, value_stop = non_space_run(s, value, end);
    size_t head_stop = value_stop;
    spans[F_KEYPART] = (Span){head, value - 1};
    spans[F_VALUE] = (Span){value, value_stop};
    if (starts(s, value_stop, end, LIT(" OUT="))) {
        size_t out = value_stop + 5;
        head_stop = non_space_run(s, out, end);
        spans[F_OUT] = (Span){out, head_stop};
    }
    spans[F_HEAD] = (Span){head, head_stop};
}

/* Finds the four matches in s[begin, end) and fills ``spans`` (empty = ''). */
static void scan_line(const unsigned char *s, size_t begin, size_t end, Span spans[N_FIELDS]) {
    int have_addresses = 0, have_ttl = 0, have_proto = 0, have_window = 0;
    size_t p = begin;
    for (int f = 0; f < N_FIELDS; f++) spans[f].start = spans[f].end = begin;
    scan_envelope(s, begin, end, spans);
    while (p < end) {
        const unsigned char *space = memchr(s + p, ' ', end - p);
        if (space == NULL) break;
        p = (size_t)(space - s);
        if (!have_addresses)
            have_addresses = pair(s, p, end, " SRC=", " DST=", 5, &spans[F_SRC], &spans[F_DST]);
        if (!have_ttl) {
            size_t value = 0;
            if (starts(s, p, end, LIT(" TTL=")))
                value = p + 5;
            else if (starts(s, p, end, LIT(" HOPLIMIT=")))
                value = p + 10;
            if (value != 0 && value < end && is_digit(s[value])) {
                size_t value_end = digit_run(s, value, end);
                spans[F_TTL] = (Span){value, value_end};
                if (starts(s, value_end, end, LIT(" ID=")) && value_end + 4 < end &&
                    is_digit(s[value_end + 4])) {
                    size_t id = value_end + 4;
                    spans[F_ID] = (Span){id, digit_run(s, id, end)};
                }
                have_ttl = 1;
            }
        }
        if (!have_proto && starts(s, p, end, LIT(" PROTO="))) {
            size_t proto = p + 7, proto_end = non_space_run(s, proto, end);
            spans[F_PROTO] = (Span){proto, proto_end};
            pair(s, proto_end, end, " SPT=", " DPT=", 5, &spans[F_SPT], &spans[F_DPT]);
            have_proto = 1;
        }
        if (!have_window && starts(s, p, end, LIT(" WINDOW=")) && p + 8 < end &&
            is_digit(s[p + 8])) {
            size_t q = digit_run(s, p + 8, end);
            if (starts(s, q, end, LIT(" RES=0x")) && q + 9 <= end && is_hex(s[q + 7]) &&
                is_hex(s[q + 8]))
                q += 9;
            while (q < end && s[q] != '=') q++;
            spans[F_WINDOW] = (Span){p, q};
            have_window = 1;
        }
        if (have_addresses && have_ttl && have_proto && have_window) break;
        p++;
    }
}

/* Appends s[span) to the column; 0 on success, -1 when memory or int32 runs out. */
static int append(Column *column, const unsigned char *s, Span span) {
    size_t n = span.end - span.start;
    if (n == 0) return 0; /* nothing to copy (and data may still be NULL) */
    if (column->len + n > (size_t)INT32_MAX) return -1;
    if (column->len + n > column->cap) {
        size_t cap = column->cap ? column->cap : 4096;
        while (cap < column->len + n) cap *= 2;
        char *grown = PyMem_RawRealloc(column->data, cap);
        if (grown == NULL) return -1;
        column->data = grown;
        column->cap = cap;
    }
    memcpy(column->data + column->len, s + span.start, n);
    column->len += n;
    return 0;
}

static void free_columns(Column columns[N_FIELDS]) {
    for (int f = 0; f < N_FIELDS; f++) {
        PyMem_RawFree(columns[f].offsets);
        PyMem_RawFree(columns[f].data);
    }
}

PyDoc_STRVAR(scan_doc,
             "scan(offsets, data, offset, length)\n--\n\n"
             "The fifteen captured texts (src, dst, ttl, id, proto, spt, dpt, window, stamp,\n"
             "host, program, head, keypart, value, out) of an\n"
             "Arrow string array's rows offset..offset+length, given its int32 offsets and\n"
             "data buffers: a tuple of (offsets bytes, data bytes) pairs, one per text.");

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer offsets_view, data_view;
    Py_ssize_t first, length;
    if (!PyArg_ParseTuple(args, "y*y*nn", &offsets_view, &data_view, &first, &length)) return NULL;
    PyObject *result = NULL;
    Column columns[N_FIELDS];
    memset(columns, 0, sizeof(columns));
    int failed = 0; /* 1: bad input, 2: out of memory */
    if (first < 0 || length < 0 || length >= INT32_MAX ||
        (size_t)offsets_view.len / sizeof(int32_t) < (size_t)first + (size_t)length + 1) {
        PyErr_SetString(PyExc_ValueError, "offsets do not cover the rows asked for");
        goto done;
    }
    for (int f = 0; f < N_FIELDS; f++) {
        columns[f].offsets = PyMem_RawMalloc(((size_t)length + 1) * sizeof(int32_t));
        if (columns[f].offsets == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        columns[f].offsets[0] = 0;
    }
    {
        int32_t row_offsets[2];
        const unsigned char *s = data_view.buf;
        const char *raw_offsets = offsets_view.buf;
        Py_BEGIN_ALLOW_THREADS;
        for (Py_ssize_t row = 0; row < length && !failed; row++) {
            /* memcpy: an Arrow buffer need not be aligned for int32 in every case. */
            memcpy(row_offsets, raw_offsets + ((size_t)first + (size_t)row) * sizeof(int32_t),
                   sizeof(row_offsets));
            if (row_offsets[0] < 0 || row_offsets[1] < row_offsets[0] ||
                (Py_ssize_t)row_offsets[1] > data_view.len) {
                failed = 1;
                break;
            }
            Span spans[N_FIELDS];
            scan_line(s, (size_t)row_offsets[0], (size_t)row_offsets[1], spans);
            for (int f = 0; f < N_FIELDS; f++) {
                if (append(&columns[f], s, spans[f]) != 0) {
                    failed = 2;
                    break;
                }
                columns[f].offsets[row + 1] = (int32_t)columns[f].len;
            }
        }
        Py_END_ALLOW_THREADS;
    }
    if (failed == 1) {
        PyErr_SetString(PyExc_ValueError, "offsets outside the data buffer");
        goto done;
    }
    if (failed == 2) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyTuple_New(N_FIELDS);
    if (result == NULL) goto done;
    for (int f = 0; f < N_FIELDS; f++) {
        PyObject *pair = Py_BuildValue(
            "(y#y#)", (const char *)columns[f].offsets, (Py_ssize_t)((length + 1) * sizeof(int32_t)),
            columns[f].data ? columns[f].data : "", (Py_ssize_t)columns[f].len);
        if (pair == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, f, pair);
    }
done:
    free_columns(columns);
    PyBuffer_Release(&offsets_view);
    PyBuffer_Release(&data_view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_nffields",
    "Netfilter LOG fields cut in one compiled pass (see netfilter.py).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__nffields(void) { return PyModule_Create(&module); }
