/*
 * The netfilter LOG fields in one pass per line: the compiled twin of six
 * regular expressions in reconwatch/ingest/netfilter.py and syslog.py.
 *
 * The SQL parser cuts SRC/DST, TTL/ID, PROTO/SPT/DPT and the WINDOW..flags
 * text with four unanchored RE2 searches; they were 60% of its time, and the
 * syslog envelope and the head split most of the rest. This module finds the
 * same matches while walking each line's spaces once and returns the fifteen
 * captured texts as Arrow string buffers (with the values below: see FIELDS).
 * It implements exactly what the patterns say under RE2's leftmost-first rules (the SQL is
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
 * and the host, tag and head each end at the first byte they cannot take. A
 * pattern that does not match, and an optional group that does not take
 * part, give '' (as DuckDB's regexp_extract does).
 *
 * From those texts it also computes what the query would compute next
 * (netfilter.TYPED_FIELDS and syslog.PRECUT_TYPED, SQL that is the
 * specification of each): the TCP
 * flags named among WINDOW's tokens, the log prefix (the head's key part
 * without its key, the kernel's [uptime] and spaces), the numbers of TTL, ID,
 * SPT, DPT and WINDOW as DuckDB's TRY_CAST reads them, a BSD stamp's month,
 * day and time of day, whether SRC and DST are canonical dotted quads, whether
 * the line is blank and whether it starts an RFC 5424 envelope; and the
 * RFC 5952 text of SRC and DST written as eight full IPv6 groups (what
 * netfilter._compress_ipv6 gives in Arrow). These are
 * plain digit and token rules, exact in a few lines of C, and were most of
 * the query's time.
 *
 * Log lines are untrusted: every index is checked against the line's end and
 * the input offsets against the data buffer; no text is longer in all than
 * the rows' bytes, which the offsets keep under 2 GiB. The output is written
 * straight into the bytes objects returned (no copy), with the GIL released
 * while lines are scanned, so slices run side by side.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>
/* SSE2: GCC and Clang say so; MSVC has it on every x64 build. */
#if defined(__SSE2__) || defined(_M_X64)
#define HAVE_SSE2 1
#include <emmintrin.h>
#endif
#ifdef _MSC_VER
#include <intrin.h>
#endif

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

/* The typed columns after the texts, in the order scan() returns them. */
enum { T_FLAGS = N_FIELDS, T_PREFIX, T_SRC6, T_DST6, N_TEXTS };
enum { N_TTL, N_ID, N_SPT, N_DPT, N_WINDOW, N_MONTH, N_DAY, N_NUMBERS };
enum { B_BLANK, B_SRC_V4, B_DST_V4, B_5424, N_TRUTHS };

/* An int32 Arrow column: values and validity bitmap. */
typedef struct {
    int32_t *values;
    unsigned char *valid;
} Numbers;

/* An Arrow time64[us] column (a BSD stamp's time of day). */
typedef struct {
    int64_t *values;
    unsigned char *valid;
} Times;

/* netfilter.TCP_FLAGS, in that order: each three letters. */
static const char TCP_FLAGS[][4] = {"CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"};
#define N_FLAGS (sizeof(TCP_FLAGS) / sizeof(TCP_FLAGS[0]))

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

/* The index of ``mask``'s lowest set bit (``mask`` is not 0). */
static inline size_t lowest_bit(unsigned mask) {
#ifdef _MSC_VER
    unsigned long index;
    _BitScanForward(&index, mask);
    return (size_t)index;
#else
    return (size_t)__builtin_ctz(mask);
#endif
}

static inline int is_candidate_letter(unsigned char c) {
    return c == 'S' || c == 'T' || c == 'H' || c == 'P' || c == 'W';
}

/* Bit k set: s[base + k] is a space and s[base + k + 1], inside the line, a
 * pattern's first letter (each pattern is a space, then one of these letters).
 * With SSE2 (every x86-64) sixteen places at once, reading up to base + 17 <=
 * limit (the data's end, past the line: the next lines' bytes are masked out);
 * ``portable`` takes the loop every other machine takes (for its tests). A
 * scan that stopped at every space mispredicted most of its branches. */
static inline unsigned candidates(const unsigned char *s, size_t base, size_t end, size_t limit,
                                  int portable) {
    unsigned mask = 0;
#ifdef HAVE_SSE2
    if (!portable && base + 17 <= limit) {
        __m128i here = _mm_loadu_si128((const __m128i *)(s + base));
        __m128i next = _mm_loadu_si128((const __m128i *)(s + base + 1));
        __m128i letter = _mm_cmpeq_epi8(next, _mm_set1_epi8('S'));
        letter = _mm_or_si128(letter, _mm_cmpeq_epi8(next, _mm_set1_epi8('T')));
        letter = _mm_or_si128(letter, _mm_cmpeq_epi8(next, _mm_set1_epi8('H')));
        letter = _mm_or_si128(letter, _mm_cmpeq_epi8(next, _mm_set1_epi8('P')));
        letter = _mm_or_si128(letter, _mm_cmpeq_epi8(next, _mm_set1_epi8('W')));
        __m128i space = _mm_cmpeq_epi8(here, _mm_set1_epi8(' '));
        mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(space, letter));
        /* Only letters inside the line (every key's test stops at the line's
         * end as well: this keeps the next line's bytes out of the dispatch). */
        if (end - base < 17) mask &= (1u << (end - base - 1)) - 1;
        return mask;
    }
#else
    (void)limit;
    (void)portable;
#endif
    for (size_t k = 0; k < 16 && base + k + 1 < end; k++) {
        if (s[base + k] == ' ' && is_candidate_letter(s[base + k + 1])) mask |= 1u << k;
    }
    return mask;
}

/* Finds the four matches in s[begin, end) and fills ``spans`` (empty = ''):
 * the first place of each, looking only at the places ``candidates`` gives. */
static void scan_line(const unsigned char *s, size_t begin, size_t end, size_t limit, int portable,
                      Span spans[N_FIELDS]) {
    int have_addresses = 0, have_ttl = 0, have_proto = 0, have_window = 0;
    size_t p = begin;
    for (int f = 0; f < N_FIELDS; f++) spans[f].start = spans[f].end = begin;
    scan_envelope(s, begin, end, spans);
    for (size_t base = begin; base < end; base += 16) {
        unsigned mask = candidates(s, base, end, limit, portable);
        while (mask) {
            p = base + lowest_bit(mask);
            mask &= mask - 1;
            switch (s[p + 1]) { /* each pattern's letter after the space */
            case 'S':
                if (!have_addresses)
                    have_addresses = pair(s, p, end, " SRC=", " DST=", 5, &spans[F_SRC], &spans[F_DST]);
                break;
            case 'T':
            case 'H':
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
                break;
            case 'P':
                if (!have_proto && starts(s, p, end, LIT(" PROTO="))) {
                    size_t proto = p + 7, proto_end = non_space_run(s, proto, end);
                    spans[F_PROTO] = (Span){proto, proto_end};
                    pair(s, proto_end, end, " SPT=", " DPT=", 5, &spans[F_SPT], &spans[F_DPT]);
                    have_proto = 1;
                }
                break;
            case 'W':
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
                break;
            }
            if (have_addresses && have_ttl && have_proto && have_window) return;
        }
    }
}

/* TRY_CAST(text AS an unsigned integer no greater than ``limit``) for a text
 * meant to be digits: the value, or -1 when the text is empty, holds any other
 * byte, or is greater (leading zeros are allowed, as DuckDB allows them). */
static int32_t digits_value(const unsigned char *s, Span span, int32_t limit) {
    if (span.end == span.start) return -1;
    int32_t value = 0;
    for (size_t i = span.start; i < span.end; i++) {
        if (!is_digit(s[i])) return -1;
        value = value * 10 + (s[i] - '0'); /* limit <= 65535: no overflow */
        if (value > limit) return -1;
    }
    return value;
}

/* addresses.CANONICAL_IPV4: four decimal octets 0..255 without leading zeros. */
static int canonical_ipv4(const unsigned char *s, Span span) {
    size_t i = span.start;
    for (int octet = 0; octet < 4; octet++) {
        if (octet > 0) {
            if (i >= span.end || s[i] != '.') return 0;
            i++;
        }
        size_t first = i;
        int value = 0;
        while (i < span.end && i - first < 3 && is_digit(s[i])) value = value * 10 + (s[i++] - '0');
        if (i == first || (i - first > 1 && s[first] == '0') || value > 255) return 0;
    }
    return i == span.end;
}

/* contains(window || ' ', ' FLAG ') for each TCP flag: the tokens between
 * spaces (and the end) that are flag names, as bits in TCP_FLAGS' order. */
static unsigned flag_bits(const unsigned char *s, Span window) {
    unsigned bits = 0;
    for (size_t i = window.start; i < window.end; i++) {
        if (s[i] != ' ') continue;
        size_t token = i + 1, token_end = token;
        while (token_end < window.end && s[token_end] != ' ') token_end++;
        if (token_end - token == 3) {
            for (size_t f = 0; f < N_FLAGS; f++) {
                if (memcmp(s + token, TCP_FLAGS[f], 3) == 0) bits |= 1u << f;
            }
        }
        i = token_end - 1; /* the loop's i++ lands on the next space */
    }
    return bits;
}

/* The flags named by ``bits``, space-separated (concat_ws(' ', ...)). */
static Span flag_text(unsigned bits, char buffer[4 * N_FLAGS]) {
    size_t n = 0;
    for (size_t f = 0; f < N_FLAGS; f++) {
        if (!(bits & (1u << f))) continue;
        if (n > 0) buffer[n++] = ' ';
        memcpy(buffer + n, TCP_FLAGS[f], 3);
        n += 3;
    }
    return (Span){0, n};
}

/* regexp_full_match(line, '\s*') */
static int is_blank(const unsigned char *s, size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
        if (!is_space(s[i])) return 0;
    }
    return 1;
}

/* syslog.IS_5424: ^<\d{1,3}>1 followed by a space. */
static int starts_5424(const unsigned char *s, size_t begin, size_t end) {
    if (begin >= end || s[begin] != '<') return 0;
    size_t digits = digit_run(s, begin + 1, end) - (begin + 1);
    size_t p = begin + 1 + digits;
    return digits >= 1 && digits <= 3 && starts(s, p, end, LIT(">1 "));
}

static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* syslog.PRECUT_TYPED for a BSD stamp (scan_envelope checked its shape:
 * [A-Z][a-z]{2}  ?\d{1,2} \d{2}:\d{2}:\d{2}): the month 1-12 (-1 for a name
 * that is none), the day, and the time of day in microseconds as DuckDB's
 * TRY_CAST(... AS TIME) reads it (-1 where it gives NULL; 24:00:00 is a time). */
static void bsd_parts(const unsigned char *s, Span stamp, int32_t *month, int32_t *day,
                      int64_t *tod) {
    *month = -1;
    for (int m = 0; m < 12; m++) {
        if (memcmp(s + stamp.start, MONTHS + 3 * m, 3) == 0) *month = m + 1;
    }
    /* CAST(trim(substr(stamp, 5, 2)) AS INTEGER): two bytes, spaces trimmed */
    *day = 0;
    for (size_t i = stamp.start + 4; i < stamp.start + 6; i++) {
        if (is_digit(s[i])) *day = *day * 10 + (s[i] - '0');
    }
    const unsigned char *t = s + stamp.end - 8; /* right(stamp, 8): "hh:mm:ss" */
    int hours = (t[0] - '0') * 10 + (t[1] - '0');
    int minutes = (t[3] - '0') * 10 + (t[4] - '0');
    int seconds = (t[6] - '0') * 10 + (t[7] - '0');
    if ((hours <= 23 && minutes <= 59 && seconds <= 59) ||
        (hours == 24 && minutes == 0 && seconds == 0))
        *tod = ((int64_t)hours * 3600 + minutes * 60 + seconds) * 1000000;
    else
        *tod = -1;
}

/* The length of the space separator that starts at s[i] (0 if none): the
 * characters DuckDB's trim() removes, U+0020, U+00A0, U+1680, U+2000-U+200A,
 * U+202F, U+205F and U+3000, in UTF-8 (lines are valid UTF-8 here). */
static size_t space_separator(const unsigned char *s, size_t i, size_t end) {
    if (i >= end) return 0;
    if (s[i] == 0x20) return 1;
    if (end - i >= 2 && s[i] == 0xC2 && s[i + 1] == 0xA0) return 2;
    if (end - i < 3) return 0;
    unsigned a = s[i], b = s[i + 1], c = s[i + 2];
    int three = (a == 0xE1 && b == 0x9A && c == 0x80) ||
                (a == 0xE2 && b == 0x80 && ((c >= 0x80 && c <= 0x8A) || c == 0xAF)) ||
                (a == 0xE2 && b == 0x81 && c == 0x9F) || (a == 0xE3 && b == 0x80 && c == 0x80);
    return three ? 3 : 0;
}

/* The length of the space separator that ends at s[end) and starts at or
 * after ``start`` (0 if none); UTF-8 lead bytes tell where a character starts. */
static size_t space_separator_before(const unsigned char *s, size_t start, size_t end) {
    for (size_t n = 1; n <= 3 && n <= end - start; n++) {
        if (space_separator(s, end - n, end) == n) return n;
    }
    return 0;
}

/* The log prefix of a head's key part (netfilter.TYPED_FIELDS' h_prefix): the
 * key part without its trailing key (IN, else OUT; none: empty), a leading
 * kernel uptime ^\[\s*\d+\.\d+\] removed, then trimmed as trim() does. */
static Span log_prefix(const unsigned char *s, Span keypart) {
    size_t start = keypart.start, end = keypart.end, n = end - start;
    if (n >= 2 && memcmp(s + end - 2, "IN", 2) == 0)
        end -= 2;
    else if (n >= 3 && memcmp(s + end - 3, "OUT", 3) == 0)
        end -= 3;
    else
        return (Span){start, start};
    if (start < end && s[start] == '[') {
        size_t p = start + 1;
        while (p < end && is_space(s[p])) p++;
        size_t whole = digit_run(s, p, end);
        if (whole > p && whole < end && s[whole] == '.') {
            size_t fraction = digit_run(s, whole + 1, end);
            if (fraction > whole + 1 && fraction < end && s[fraction] == ']') start = fraction + 1;
        }
    }
    for (size_t space; (space = space_separator(s, start, end)) > 0;) start += space;
    for (size_t space; (space = space_separator_before(s, start, end)) > 0;) end -= space;
    return (Span){start, end};
}

static inline unsigned hex_value(unsigned char c) {
    return is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* The RFC 5952 text of an address written as eight groups of one to four hex
 * digits (how the kernel writes IPv6) into ``out``: lower case, no leading
 * zeros, the first longest run of two or more zero groups as "::". An empty
 * span for any other text, and for a text that starts "::ffff:" (IPv4-mapped,
 * which netfilter._addresses leaves to ipaddress). netfilter.FULL_IPV6 and
 * _compress_ipv6 are the specification. */
static Span ipv6_compressed(const unsigned char *s, Span address, char out[40]) {
    const Span none = {0, 0};
    unsigned groups[8];
    size_t i = address.start;
    for (int g = 0; g < 8; g++) {
        if (g > 0) {
            if (i >= address.end || s[i] != ':') return none;
            i++;
        }
        size_t first = i;
        unsigned value = 0;
        while (i < address.end && i - first < 4 && is_hex(s[i])) value = value * 16 + hex_value(s[i++]);
        if (i == first) return none;
        groups[g] = value;
    }
    if (i != address.end) return none;
    int run = -1, run_length = 1; /* a run must be two groups or more */
    for (int g = 0; g < 8;) {
        int h = g;
        while (h < 8 && groups[h] == 0) h++;
        if (h - g > run_length) {
            run = g;
            run_length = h - g;
        }
        g = h > g ? h : g + 1;
    }
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    for (int g = 0; g < 8;) {
        if (g == run) {
            out[n++] = ':';
            out[n++] = ':';
            g += run_length;
            continue;
        }
        if (n > 0 && out[n - 1] != ':') out[n++] = ':';
        unsigned value = groups[g++];
        int shift = 12;
        while (shift > 0 && (value >> shift) == 0) shift -= 4;
        for (; shift >= 0; shift -= 4) out[n++] = digits[(value >> shift) & 15];
    }
    if (n >= 7 && memcmp(out, "::ffff:", 7) == 0) return none;
    return (Span){0, n};
}

static inline void set_bit(unsigned char *bits, Py_ssize_t row) {
    bits[row >> 3] |= (unsigned char)(1u << (row & 7));
}

static void put_number(Numbers *column, Py_ssize_t row, int32_t value) {
    column->values[row] = value < 0 ? 0 : value;
    if (value >= 0) set_bit(column->valid, row);
}

static void put_time(Times *column, Py_ssize_t row, int64_t value) {
    column->values[row] = value < 0 ? 0 : value;
    if (value >= 0) set_bit(column->valid, row);
}

/* What scan() returns, in order (netfilter.COMPILED_COLUMNS): name, kind, and
 * the column's place among those of its kind. */
typedef enum { K_TEXT, K_NUMBER, K_TIME, K_TRUTH } Kind;
static const char *const KIND_NAMES[] = {"text", "number", "time", "truth"};

typedef struct {
    const char *name;
    Kind kind;
    int index;
} Returned;

static const Returned COLUMNS[] = {
    {"src", K_TEXT, F_SRC},        {"dst", K_TEXT, F_DST},
    {"ttl", K_TEXT, F_TTL},        {"id", K_TEXT, F_ID},
    {"proto", K_TEXT, F_PROTO},    {"spt", K_TEXT, F_SPT},
    {"dpt", K_TEXT, F_DPT},        {"window", K_TEXT, F_WINDOW},
    {"stamp", K_TEXT, F_STAMP},    {"host", K_TEXT, F_HOST},
    {"program", K_TEXT, F_PROGRAM}, {"head", K_TEXT, F_HEAD},
    {"keypart", K_TEXT, F_KEYPART}, {"value", K_TEXT, F_VALUE},
    {"out", K_TEXT, F_OUT},        {"flags", K_TEXT, T_FLAGS},
    {"prefix", K_TEXT, T_PREFIX},  {"ttl", K_NUMBER, N_TTL},
    {"id", K_NUMBER, N_ID},        {"spt", K_NUMBER, N_SPT},
    {"dpt", K_NUMBER, N_DPT},      {"window", K_NUMBER, N_WINDOW},
    {"month", K_NUMBER, N_MONTH},  {"day", K_NUMBER, N_DAY},
    {"tod", K_TIME, 0},            {"5424", K_TRUTH, B_5424},
    {"blank", K_TRUTH, B_BLANK},   {"src_v4", K_TRUTH, B_SRC_V4},
    {"dst_v4", K_TRUTH, B_DST_V4}, {"src6", K_TEXT, T_SRC6},
    {"dst6", K_TEXT, T_DST6},
};
#define N_COLUMNS (sizeof(COLUMNS) / sizeof(COLUMNS[0]))
_Static_assert(N_COLUMNS == N_TEXTS + N_NUMBERS + 1 + N_TRUTHS, "COLUMNS names every column");

/* Appends s[span) to the column; 0 on success, -1 when it would pass the
 * column's capacity. The capacity is the rows' bytes (last offset minus
 * first): each text is a part of its own line (the flags, the prefix and the
 * IPv6 text no longer than the part they come from), and rows that each end
 * where the next begins add up to exactly that, so -1 means the input changed
 * while it was scanned. */
static int append(Column *column, const unsigned char *s, Span span) {
    size_t n = span.end - span.start;
    if (n > column->cap - column->len) return -1;
    memcpy(column->data + column->len, s + span.start, n);
    column->len += n;
    return 0;
}

PyDoc_STRVAR(scan_doc,
             "scan(offsets, data, offset, length, portable=False)\n--\n\n"
             "The columns named in FIELDS for an Arrow string array's rows\n"
             "offset..offset+length, given its int32 offsets and data buffers: the\n"
             "texts as (offsets, data) pairs, the int32 numbers and the int64 times as\n"
             "(values, validity bitmap) pairs, and the booleans as 1-tuples of a\n"
             "bitmap; all as bytes, in FIELDS' order. ``portable`` looks for the fields\n"
             "without SSE2 (as machines without it do), for tests.");

/* The bytes objects scan() returns, in order: two per text, number and time
 * column, one per truth. They are made first and written in place (no copy). */
enum {
    OUT_TEXTS = 0,
    OUT_NUMBERS = OUT_TEXTS + 2 * N_TEXTS,
    OUT_TIME = OUT_NUMBERS + 2 * N_NUMBERS,
    OUT_TRUTHS = OUT_TIME + 2,
    N_OUT = OUT_TRUTHS + N_TRUTHS
};

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer offsets_view, data_view;
    Py_ssize_t first, length;
    int portable = 0;
    if (!PyArg_ParseTuple(args, "y*y*nn|p", &offsets_view, &data_view, &first, &length, &portable))
        return NULL;
    PyObject *result = NULL;
    PyObject *out[N_OUT] = {NULL};
    if (first < 0 || length < 0 || length >= INT32_MAX ||
        (size_t)offsets_view.len / sizeof(int32_t) < (size_t)first + (size_t)length + 1) {
        PyErr_SetString(PyExc_ValueError, "offsets do not cover the rows asked for");
        goto done;
    }
    const char *raw_offsets = offsets_view.buf;
    int32_t bounds[2];
    memcpy(&bounds[0], raw_offsets + (size_t)first * sizeof(int32_t), sizeof(int32_t));
    memcpy(&bounds[1], raw_offsets + ((size_t)first + (size_t)length) * sizeof(int32_t),
           sizeof(int32_t));
    /* No text is longer in all than the rows' bytes (each is a part of its line,
     * the flags and prefix too); rows the loop finds bad stop it first. */
    size_t text_bytes = bounds[1] > bounds[0] ? (size_t)bounds[1] - (size_t)bounds[0] : 0;
    if (text_bytes > (size_t)data_view.len) text_bytes = (size_t)data_view.len;
    size_t bitmap_bytes = ((size_t)length + 7) / 8;
    for (int f = 0; f < N_OUT; f++) {
        size_t size;
        if (f < OUT_NUMBERS)
            size = f % 2 == 0 ? ((size_t)length + 1) * sizeof(int32_t) : text_bytes;
        else if (f < OUT_TIME)
            size = f % 2 == 0 ? (size_t)length * sizeof(int32_t) : bitmap_bytes;
        else if (f < OUT_TRUTHS)
            size = f % 2 == 0 ? (size_t)length * sizeof(int64_t) : bitmap_bytes;
        else
            size = bitmap_bytes;
        out[f] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
        if (out[f] == NULL) goto done;
    }
    Column columns[N_TEXTS];
    Numbers numbers[N_NUMBERS];
    Times times;
    unsigned char *truths[N_TRUTHS];
    for (int f = 0; f < N_TEXTS; f++) {
        columns[f] = (Column){(int32_t *)PyBytes_AS_STRING(out[OUT_TEXTS + 2 * f]),
                              PyBytes_AS_STRING(out[OUT_TEXTS + 2 * f + 1]), 0, text_bytes};
    }
    for (int f = 0; f < N_NUMBERS; f++) {
        numbers[f] = (Numbers){(int32_t *)PyBytes_AS_STRING(out[OUT_NUMBERS + 2 * f]),
                               (unsigned char *)PyBytes_AS_STRING(out[OUT_NUMBERS + 2 * f + 1])};
    }
    times = (Times){(int64_t *)PyBytes_AS_STRING(out[OUT_TIME]),
                    (unsigned char *)PyBytes_AS_STRING(out[OUT_TIME + 1])};
    for (int f = 0; f < N_TRUTHS; f++) {
        truths[f] = (unsigned char *)PyBytes_AS_STRING(out[OUT_TRUTHS + f]);
    }
    int failed = 0; /* 1: offsets outside the data, 2: a column past its capacity */
    {
        const unsigned char *s = data_view.buf;
        Py_BEGIN_ALLOW_THREADS;
        /* Bitmaps start cleared: only the bits that are set are written. */
        for (int f = 0; f < N_NUMBERS; f++) memset(numbers[f].valid, 0, bitmap_bytes);
        memset(times.valid, 0, bitmap_bytes);
        for (int f = 0; f < N_TRUTHS; f++) memset(truths[f], 0, bitmap_bytes);
        for (int f = 0; f < N_TEXTS; f++) columns[f].offsets[0] = 0;
        int32_t row_offsets[2];
        for (Py_ssize_t row = 0; row < length && !failed; row++) {
            /* memcpy: an Arrow buffer need not be aligned for int32 in every case. */
            memcpy(row_offsets, raw_offsets + ((size_t)first + (size_t)row) * sizeof(int32_t),
                   sizeof(row_offsets));
            if (row_offsets[0] < 0 || row_offsets[1] < row_offsets[0] ||
                (Py_ssize_t)row_offsets[1] > data_view.len) {
                failed = 1;
                break;
            }
            size_t begin = (size_t)row_offsets[0], end = (size_t)row_offsets[1];
            Span spans[N_FIELDS];
            scan_line(s, begin, end, (size_t)data_view.len, portable, spans);
            char flags[4 * N_FLAGS];
            for (int f = 0; f < N_FIELDS; f++) {
                if (append(&columns[f], s, spans[f]) != 0) failed = 2;
            }
            if (append(&columns[T_FLAGS], (const unsigned char *)flags,
                       flag_text(flag_bits(s, spans[F_WINDOW]), flags)) != 0 ||
                append(&columns[T_PREFIX], s, log_prefix(s, spans[F_KEYPART])) != 0)
                failed = 2;
            char address[40];
            for (int a = 0; a < 2; a++) {
                Span text = ipv6_compressed(s, spans[a == 0 ? F_SRC : F_DST], address);
                if (append(&columns[a == 0 ? T_SRC6 : T_DST6], (const unsigned char *)address, text))
                    failed = 2;
            }
            for (int f = 0; f < N_TEXTS; f++) columns[f].offsets[row + 1] = (int32_t)columns[f].len;
            int32_t month = -1, day = -1;
            int64_t tod = -1;
            if (spans[F_STAMP].end > spans[F_STAMP].start && is_upper(s[spans[F_STAMP].start]))
                bsd_parts(s, spans[F_STAMP], &month, &day, &tod);
            put_number(&numbers[N_MONTH], row, month);
            put_number(&numbers[N_DAY], row, day);
            put_time(&times, row, tod);
            if (starts_5424(s, begin, end)) set_bit(truths[B_5424], row);
            put_number(&numbers[N_TTL], row, digits_value(s, spans[F_TTL], 255));
            put_number(&numbers[N_ID], row, digits_value(s, spans[F_ID], 65535));
            for (int p = 0; p < 2; p++) { /* [0-9]{1,5}, then TRY_CAST */
                Span port = spans[p == 0 ? F_SPT : F_DPT];
                int32_t value = port.end - port.start <= 5 ? digits_value(s, port, 65535) : -1;
                put_number(&numbers[p == 0 ? N_SPT : N_DPT], row, value);
            }
            Span window = spans[F_WINDOW]; /* " WINDOW=" then its digits */
            if (window.end > window.start) {
                window.start += 8;
                window.end = digit_run(s, window.start, window.end);
            }
            put_number(&numbers[N_WINDOW], row, digits_value(s, window, 65535));
            if (is_blank(s, begin, end)) set_bit(truths[B_BLANK], row);
            if (canonical_ipv4(s, spans[F_SRC])) set_bit(truths[B_SRC_V4], row);
            if (canonical_ipv4(s, spans[F_DST])) set_bit(truths[B_DST_V4], row);
        }
        Py_END_ALLOW_THREADS;
    }
    if (failed) {
        PyErr_SetString(PyExc_ValueError, failed == 1 ? "offsets outside the data buffer"
                                                      : "data changed while it was scanned");
        goto done;
    }
    /* The texts' data to their length (shrunk in place). _PyBytes_Resize is
     * CPython's own (private, stable from 3.x to 3.13): the buffers were sized
     * for the worst case, which reserves address space (about 19 times the
     * rows' bytes per call) but touches only the pages written. */
    for (int f = 0; f < N_TEXTS; f++) {
        if (_PyBytes_Resize(&out[OUT_TEXTS + 2 * f + 1], (Py_ssize_t)columns[f].len) < 0) goto done;
    }
    result = PyTuple_New(N_COLUMNS);
    if (result == NULL) goto done;
    for (size_t f = 0; f < N_COLUMNS; f++) {
        int index = COLUMNS[f].index;
        PyObject *item;
        switch (COLUMNS[f].kind) {
        case K_TEXT:
            item = PyTuple_Pack(2, out[OUT_TEXTS + 2 * index], out[OUT_TEXTS + 2 * index + 1]);
            break;
        case K_NUMBER:
            item = PyTuple_Pack(2, out[OUT_NUMBERS + 2 * index], out[OUT_NUMBERS + 2 * index + 1]);
            break;
        case K_TIME:
            item = PyTuple_Pack(2, out[OUT_TIME], out[OUT_TIME + 1]);
            break;
        default:
            item = PyTuple_Pack(1, out[OUT_TRUTHS + index]);
        }
        if (item == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, (Py_ssize_t)f, item);
    }
done:
    for (int f = 0; f < N_OUT; f++) Py_XDECREF(out[f]);
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


PyMODINIT_FUNC PyInit__nffields(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    /* What scan() returns, for the Python side to name and check. */
    PyObject *fields = PyTuple_New(N_COLUMNS);
    for (size_t f = 0; fields != NULL && f < N_COLUMNS; f++) {
        PyObject *named = Py_BuildValue("(ss)", COLUMNS[f].name, KIND_NAMES[COLUMNS[f].kind]);
        if (named == NULL) {
            Py_CLEAR(fields);
            break;
        }
        PyTuple_SET_ITEM(fields, (Py_ssize_t)f, named);
    }
    PyObject *flags = PyTuple_New(N_FLAGS);
    if (flags != NULL) {
        for (size_t f = 0; f < N_FLAGS; f++) {
            PyObject *name = PyUnicode_FromString(TCP_FLAGS[f]);
            if (name == NULL) {
                Py_CLEAR(flags);
                break;
            }
            PyTuple_SET_ITEM(flags, (Py_ssize_t)f, name);
        }
    }
    if (fields == NULL || flags == NULL || PyModule_AddObject(m, "FIELDS", fields) < 0) {
        Py_XDECREF(fields);
        Py_XDECREF(flags);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObject(m, "TCP_FLAGS", flags) < 0) {
        Py_DECREF(flags);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
