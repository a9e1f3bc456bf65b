/* One pass over a page's decoded content stream, in C: the hot part of 100% verification.

   `content.py` documents what is read and why; this file does the same reading as its pure-Python
   reference (tests/scan_reference.py) on the content bytes, so that verification costs a fraction of
   rendering. The reference's semantics are kept exactly, quirks included (a differential fuzz test
   holds the two together):
   - text objects are the ones the reference's regular expression `_TEXT` finds (split out of the
     content, left to right, each match deterministic), decoded through each font's ToUnicode table;
   - the rest of the content is split into tokens at ASCII white space;
   - numbers are converted as Python's float() converts them (a fast exact path for short decimals,
     Python's own converter for everything else);
   - the drawing before the symbol, the symbol's bars and their geometry are judged as the reference
     judges them, and the bars are laid on a row of pixels for zxing-cpp.
   Every read is bounds-checked: any byte string is a valid input. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"
#include <math.h>
#include <string.h>
#include <time.h>

typedef unsigned char uc;

static const unsigned char WS[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['\x0b'] = 1, ['\x0c'] = 1};

/* ---- growable arrays --------------------------------------------------------------------------- */

typedef struct { Py_ssize_t a, b; } Span; /* [a, b) in the content; a < 0: absent */

typedef struct { Span name, size, raw; } Run;

typedef struct {
    int set;             /* `BT /F s Tf l TL ET`: sets the font only */
    Span font, size;     /* the font set (set only) */
    Span x, y;
    Py_ssize_t run0, nrun;  /* its runs: the first one its own, then each further `(...) Tj` */
} Item;

#define ARRAY(T, Name) typedef struct { T *v; Py_ssize_t n, cap; } Name; \
    static int Name##_push(Name *a, T x) { \
        if (a->n == a->cap) { \
            Py_ssize_t cap = a->cap ? 2 * a->cap : 64; \
            T *v = PyMem_Realloc(a->v, (size_t)cap * sizeof(T)); \
            if (!v) { PyErr_NoMemory(); return -1; } \
            a->v = v; a->cap = cap; \
        } \
        a->v[a->n++] = x; return 0; }

ARRAY(Span, Spans)
ARRAY(Run, Runs)
ARRAY(Item, Items)
ARRAY(Py_UCS4, Text)
ARRAY(uc, Bytes)

/* ---- fonts ------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *widths, *first_obj, *chars;  /* as given: the reference reads these */
    double *w;
    Py_ssize_t count;
    long long first;
    int readable;                /* chars is not None */
    Py_ssize_t off[256], len[256];  /* each code's text in `pool`; len < 0: the code itself */
    Py_ssize_t widest;           /* the longest text a code stands for (at least 1) */
    Py_UCS4 *pool;
} Font;

static void Font_dealloc(Font *self) {
    Py_XDECREF(self->widths);
    Py_XDECREF(self->first_obj);
    Py_XDECREF(self->chars);
    PyMem_Free(self->w);
    PyMem_Free(self->pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Font_init(Font *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"widths", "first", "chars", NULL};
    PyObject *widths, *first, *chars;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO", names, &widths, &first, &chars))
        return -1;
    if (self->w || self->pool) {
        PyErr_SetString(PyExc_TypeError, "Font is initialised once");
        return -1;
    }
    PyObject *seq = PySequence_Fast(widths, "widths must be a sequence of numbers");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    self->w = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!self->w) { Py_DECREF(seq); PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1.0 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
        self->w[i] = v;
    }
    Py_DECREF(seq);
    self->count = n;
    int overflow = 0;
    long long f = PyLong_AsLongLongAndOverflow(first, &overflow);
    if (f == -1 && PyErr_Occurred()) return -1;
    /* Codes are 0-255 and widths fewer than 2**40: a first char beyond that matches no code. */
    const long long far = (long long)1 << 41;
    if (overflow > 0 || f > far) f = far;
    if (overflow < 0 || f < -far) f = -far;
    self->first = f;
    for (int c = 0; c < 256; c++) self->len[c] = -1;
    self->widest = 1;
    self->readable = chars != Py_None;
    if (self->readable) {
        if (!PyDict_Check(chars)) { PyErr_SetString(PyExc_TypeError, "chars must be a dict or None"); return -1; }
        Text pool = {0};
        for (int c = 0; c < 256; c++) {
            PyObject *key = PyLong_FromLong(c);
            if (!key) { PyMem_Free(pool.v); return -1; }
            PyObject *v = PyDict_GetItemWithError(chars, key);
            Py_DECREF(key);
            if (!v) {
                if (PyErr_Occurred()) { PyMem_Free(pool.v); return -1; }
                continue;
            }
            self->off[c] = pool.n;
            self->len[c] = 0;
            if (v == Py_None) continue;  /* str.translate: None deletes */
            if (PyLong_Check(v)) {
                long o = PyLong_AsLong(v);
                if ((o == -1 && PyErr_Occurred()) || o < 0 || o > 0x10FFFF) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "character mapping must be in range(0x110000)");
                    PyMem_Free(pool.v); return -1;
                }
                if (Text_push(&pool, (Py_UCS4)o) < 0) { PyMem_Free(pool.v); return -1; }
                self->len[c] = 1;
                continue;
            }
            if (!PyUnicode_Check(v)) {
                PyErr_SetString(PyExc_TypeError, "character mapping must return integer, None or str");
                PyMem_Free(pool.v); return -1;
            }
            Py_ssize_t k = PyUnicode_GET_LENGTH(v);
            for (Py_ssize_t j = 0; j < k; j++)
                if (Text_push(&pool, PyUnicode_READ_CHAR(v, j)) < 0) { PyMem_Free(pool.v); return -1; }
            self->len[c] = k;
            if (k > self->widest) self->widest = k;
        }
        self->pool = pool.v ? pool.v : PyMem_Malloc(sizeof(Py_UCS4));
        if (!self->pool) { PyErr_NoMemory(); return -1; }
    }
    Py_INCREF(widths); Py_INCREF(first); Py_INCREF(chars);
    self->widths = widths; self->first_obj = first; self->chars = chars;
    return 0;
}

static PyMemberDef Font_members[] = {
    {"widths", T_OBJECT, offsetof(Font, widths), READONLY, "glyph widths from FirstChar on, in 1/1000 em"},
    {"first", T_OBJECT, offsetof(Font, first_obj), READONLY, "the code of the first width"},
    {"chars", T_OBJECT, offsetof(Font, chars), READONLY, "code -> text (ToUnicode), or None"},
    {NULL}
};

static PyTypeObject FontType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stmtprod.barcode._scan.Font",
    .tp_basicsize = sizeof(Font),
    .tp_dealloc = (destructor)Font_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A simple font's widths and ToUnicode table, as the content scan uses them.",
    .tp_members = Font_members,
    .tp_init = (initproc)Font_init,
    .tp_new = PyType_GenericNew,
};

/* ---- numbers as Python's float() reads them ------------------------------------------------------ */

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* 0: converted; 1: not a number (float() raises ValueError); -1: a Python error is set. */
static int to_double(const uc *d, Span t, double *out) {
    Py_ssize_t i = t.a, n = t.b;
    int neg = 0;
    if (i < n && (d[i] == '+' || d[i] == '-')) { neg = d[i] == '-'; i++; }
    unsigned long long m = 0;
    int digits = 0, frac = 0, dot = 0, simple = 1;
    for (; i < n; i++) {
        uc c = d[i];
        if (c >= '0' && c <= '9') {
            m = m * 10 + (unsigned)(c - '0');
            digits++;
            frac += dot;
        } else if (c == '.' && !dot) {
            dot = 1;
        } else {
            simple = 0;
            break;
        }
    }
    if (simple && digits > 0 && digits <= 15 && frac <= 22) {
        /* Both exact in a double: one correctly rounded division is what strtod returns. */
        double v = (double)m / POW10[frac];
        *out = neg ? -v : v;
        return 0;
    }
    PyObject *b = PyBytes_FromStringAndSize((const char *)d + t.a, t.b - t.a);
    if (!b) return -1;
    PyObject *f = PyFloat_FromString(b);
    Py_DECREF(b);
    if (!f) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) { PyErr_Clear(); return 1; }
        return -1;
    }
    *out = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}

/* ---- the text objects (the reference's `_TEXT`, matched by hand) ---------------------------------- */

typedef struct {
    const uc *d;
    Py_ssize_t n;
    Spans tokens;
    Items items;
    Runs runs;
} Scan;

static Py_ssize_t lit(const Scan *s, Py_ssize_t p, const char *text, Py_ssize_t len) {
    return p >= 0 && p <= s->n - len && memcmp(s->d + p, text, (size_t)len) == 0 ? p + len : -1;
}

/* `\S+`: greedy; the literal after it always starts with a space, so no shorter match can do. */
static Py_ssize_t word(const Scan *s, Py_ssize_t p, Span *out) {
    if (p < 0) return -1;
    Py_ssize_t q = p;
    while (q < s->n && !WS[s->d[q]]) q++;
    if (q == p) return -1;
    if (out) { out->a = p; out->b = q; }
    return q;
}

/* `/(\S+) (\S+) Tf \S+ TL` */
static Py_ssize_t font_set(const Scan *s, Py_ssize_t p, Span *name, Span *size) {
    p = lit(s, p, "/", 1);
    p = word(s, p, name);
    p = lit(s, p, " ", 1);
    p = word(s, p, size);
    p = lit(s, p, " Tf ", 4);
    p = word(s, p, NULL);
    return lit(s, p, " TL", 3);
}

/* `(?:/(\S+) (\S+) Tf \S+ TL )?\(STRING\) Tj ` where STRING is bytes and backslash pairs. */
static Py_ssize_t show(const Scan *s, Py_ssize_t p, Run *run) {
    run->name.a = run->name.b = run->size.a = run->size.b = -1;
    if (p < s->n && s->d[p] == '/') {
        p = font_set(s, p, &run->name, &run->size);
        p = lit(s, p, " ", 1);
    }
    p = lit(s, p, "(", 1);
    if (p < 0) return -1;
    Py_ssize_t q = p;
    while (q < s->n) {
        uc c = s->d[q];
        if (c == '\\') {
            if (q + 1 >= s->n) break;
            q += 2;
        } else if (c == '(' || c == ')') {
            break;
        } else {
            q++;
        }
    }
    run->raw.a = p; run->raw.b = q;
    return lit(s, q, ") Tj ", 5);
}

/* A text object at p (which starts "BT "): its end, or -1 (then nothing is kept). */
static Py_ssize_t text_object(Scan *s, Py_ssize_t p) {
    Item it;
    memset(&it, 0, sizeof it);
    Py_ssize_t q = p + 3;
    if (q < s->n && s->d[q] == '/') {
        q = font_set(s, q, &it.font, &it.size);
        q = lit(s, q, " ET", 3);
        if (q < 0) return -1;
        it.set = 1;
        it.run0 = s->runs.n;
        return Items_push(&s->items, it) < 0 ? -2 : q;
    }
    q = lit(s, q, "1 0 0 1 ", 8);
    q = word(s, q, &it.x);
    q = lit(s, q, " ", 1);
    q = word(s, q, &it.y);
    q = lit(s, q, " Tm ", 4);
    if (q < 0) return -1;
    Py_ssize_t mark = s->runs.n;
    Run run;
    q = show(s, q, &run);
    if (q < 0) return -1;
    if (Runs_push(&s->runs, run) < 0) return -2;
    for (;;) {
        Run more;
        Py_ssize_t r = show(s, q, &more);
        if (r < 0) break;
        if (Runs_push(&s->runs, more) < 0) return -2;
        q = r;
    }
    q = lit(s, q, "T* ET", 5);
    if (q < 0) { s->runs.n = mark; return -1; }
    it.run0 = mark;
    it.nrun = s->runs.n - mark;
    return Items_push(&s->items, it) < 0 ? -2 : q;
}

static int tokenise(Scan *s, Py_ssize_t p, Py_ssize_t end) {
    while (p < end) {
        while (p < end && WS[s->d[p]]) p++;
        if (p >= end) break;
        Py_ssize_t q = p;
        while (q < end && !WS[s->d[q]]) q++;
        Span t = {p, q};
        if (Spans_push(&s->tokens, t) < 0) return -1;
        p = q;
    }
    return 0;
}

/* Text objects out, the rest into tokens (as `_TEXT.split` then `b" ".join(...).split()`). */
static int split(Scan *s) {
    Py_ssize_t p = 0, from = 0;
    while (p <= s->n - 3) {
        const uc *hit = memchr(s->d + p, 'B', (size_t)(s->n - 2 - p));
        if (!hit) break;
        Py_ssize_t at = hit - s->d;
        if (s->d[at + 1] != 'T' || s->d[at + 2] != ' ') { p = at + 1; continue; }
        Py_ssize_t end = text_object(s, at);
        if (end == -2) return -1;
        if (end < 0) { p = at + 1; continue; }
        if (tokenise(s, from, at) < 0) return -1;
        from = p = end;
    }
    return tokenise(s, from, s->n);
}

static int span_eq(const Scan *s, Span t, const char *text) {
    size_t len = strlen(text);
    return t.a >= 0 && (size_t)(t.b - t.a) == len && memcmp(s->d + t.a, text, len) == 0;
}

static int spans_equal(const Scan *s, Span a, Span b) {
    return a.b - a.a == b.b - b.a && memcmp(s->d + a.a, s->d + b.a, (size_t)(a.b - a.a)) == 0;
}

/* ---- text: fonts, decoding, lines and the strip ---------------------------------------------------- */

typedef struct { const uc *name; Py_ssize_t len; Font *font; } FontEntry;

typedef struct {
    PyObject *dict;
    FontEntry *v;
    Py_ssize_t n;
} Fonts;

static int fonts_open(Fonts *f, PyObject *dict) {
    f->dict = dict; f->v = NULL; f->n = 0;
    if (dict == Py_None) return 0;
    if (!PyDict_Check(dict)) { PyErr_SetString(PyExc_TypeError, "fonts must be a dict"); return -1; }
    Py_ssize_t size = PyDict_GET_SIZE(dict), pos = 0, i = 0;
    f->v = PyMem_Malloc((size_t)(size ? size : 1) * sizeof(FontEntry));
    if (!f->v) { PyErr_NoMemory(); return -1; }
    PyObject *k, *v;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (!PyBytes_Check(k)) continue;
        if (v != Py_None && !PyObject_TypeCheck(v, &FontType)) {
            PyErr_SetString(PyExc_TypeError, "fonts must map names to Font or None");
            return -1;
        }
        f->v[i].name = (const uc *)PyBytes_AS_STRING(k);
        f->v[i].len = PyBytes_GET_SIZE(k);
        f->v[i].font = v == Py_None ? NULL : (Font *)v;
        i++;
    }
    f->n = i;
    return 0;
}

/* fonts.get(name): NULL for None or absent. */
static Font *font_get(const Fonts *f, const Scan *s, Span name) {
    Py_ssize_t len = name.b - name.a;
    for (Py_ssize_t i = 0; i < f->n; i++)
        if (f->v[i].len == len && memcmp(f->v[i].name, s->d + name.a, (size_t)len) == 0)
            return f->v[i].font;
    return NULL;
}

static int octal(uc c) { return c >= '0' && c <= '7'; }

/* A literal string's codes, escapes resolved as the reference's `_unescape` resolves them (Python's
   escape decoder when only octal and n r t b f \ CR LF escapes occur, else its regular expression).
   0: done; 1: the reference raises ValueError (`\8`, `\9` through the expression); -1: no memory. */
static int unescape(const Scan *s, Span raw, Bytes *out) {
    const uc *d = s->d;
    out->n = 0;
    int slash = 0, other = 0;
    for (Py_ssize_t i = raw.a; i < raw.b; i++) {
        if (d[i] != '\\') continue;
        slash = 1;
        if (i + 1 < raw.b) {
            uc c = d[i + 1];
            if (!(octal(c) || c == 'n' || c == 'r' || c == 't' || c == 'b' || c == 'f' || c == '\\' || c == '\r' || c == '\n'))
                other = 1;
        }
    }
    Py_ssize_t i = raw.a;
    if (!slash) {
        for (; i < raw.b; i++) if (Bytes_push(out, d[i]) < 0) return -1;
        return 0;
    }
    while (i < raw.b) {
        uc c = d[i++];
        if (c != '\\' || i >= raw.b) {  /* a lone trailing backslash stays (never found by the text scan) */
            if (Bytes_push(out, c) < 0) return -1;
            continue;
        }
        uc e = d[i++];
        int v;
        if (octal(e)) {
            v = e - '0';
            if (i < raw.b && octal(d[i])) {
                v = (v << 3) + d[i++] - '0';
                if (i < raw.b && octal(d[i])) v = (v << 3) + d[i++] - '0';
            }
            v &= 0xFF;
        } else if (e == 'n') v = '\n';
        else if (e == 'r') v = '\r';
        else if (e == 't') v = '\t';
        else if (e == 'b') v = '\b';
        else if (e == 'f') v = '\f';
        else if (!other) {
            /* Python's escape decoder: \\ is one backslash, backslash-LF continues the line, and
               backslash-CR is not an escape (both bytes stay). */
            if (e == '\\') v = '\\';
            else if (e == '\n') continue;
            else {
                if (Bytes_push(out, '\\') < 0) return -1;
                i--;
                continue;
            }
        } else {
            if (e == '8' || e == '9') return 1;  /* int(b"8", 8) in the reference */
            if (e == '\r' || e == '\n') continue;
            v = e;
        }
        if (Bytes_push(out, (uc)v) < 0) return -1;
    }
    return 0;
}

/* Room for `more` further items in a growable array. */
static int Text_reserve(Text *a, Py_ssize_t more) {
    if (more > PY_SSIZE_T_MAX / 8 - a->n) { PyErr_NoMemory(); return -1; }
    if (a->n + more <= a->cap) return 0;
    Py_ssize_t cap = a->cap ? a->cap : 64;
    while (cap < a->n + more) cap *= 2;
    Py_UCS4 *v = PyMem_Realloc(a->v, (size_t)cap * sizeof(Py_UCS4));
    if (!v) { PyErr_NoMemory(); return -1; }
    a->v = v; a->cap = cap;
    return 0;
}

/* The codes' text through the font's table, written at the end of `t`. */
static int append_text(Text *t, const Font *f, const uc *codes, Py_ssize_t n) {
    if (Text_reserve(t, n * f->widest) < 0) return -1;
    Py_UCS4 *out = t->v + t->n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uc c = codes[i];
        Py_ssize_t len = f->len[c];
        if (len < 0) {
            *out++ = c;
        } else {
            memcpy(out, f->pool + f->off[c], (size_t)len * sizeof(Py_UCS4));
            out += len;
        }
    }
    t->n = out - t->v;
    return 0;
}

/* The font and size in force before a text (the reference's `states`); size.a == -2 is b"0". */
typedef struct { Span font, size; } State;

static int flush_line(PyObject *lines, Text *line) {
    PyObject *str = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, line->v ? line->v : (Py_UCS4 *)"", line->n);
    if (!str) return -1;
    int rc = PyList_Append(lines, str);
    Py_DECREF(str);
    line->n = 0;
    return rc;
}

/* The reference's `_text_lines`: the page's lines (a new list, or None when a font has no plain
   ToUnicode map), and the state before each text into `states`. NULL with *bad set: the reference
   raises ValueError; NULL without: a Python error is set. */
static PyObject *text_lines(const Scan *s, const Fonts *fonts, State *states, int *bad) {
    Span current = {0, 0}, size = {-2, -2};
    Font *font = NULL;
    int readable = 1;
    Bytes codes = {0};
    Text line = {0};
    Span last_y = {-1, -1};
    Py_ssize_t k = 0;
    PyObject *lines = PyList_New(0);
    if (!lines) return NULL;
    for (Py_ssize_t i = 0; i < s->items.n; i++) {
        const Item *it = &s->items.v[i];
        if (it->set) {
            current = it->font; size = it->size;
            font = font_get(fonts, s, current);
            continue;
        }
        states[k].font = current; states[k].size = size; k++;
        if (readable) {  /* consecutive texts on one baseline make one line; texts go straight into it */
            if (last_y.a >= 0 && spans_equal(s, it->y, last_y)) {
                if (Text_push(&line, ' ') < 0) goto fail;
            } else {
                if (last_y.a >= 0 && flush_line(lines, &line) < 0) goto fail;
                last_y = it->y;
            }
        }
        for (Py_ssize_t r = 0; r < it->nrun; r++) {
            const Run *run = &s->runs.v[it->run0 + r];
            if (run->name.a >= 0) {  /* a name is never b"": fetching again finds the same font */
                current = run->name; size = run->size;
                font = font_get(fonts, s, current);
            }
            if (!font || !font->readable) {
                readable = 0;
                continue;
            }
            const uc *raw = s->d + run->raw.a;
            Py_ssize_t n = run->raw.b - run->raw.a;
            if (memchr(raw, '\\', (size_t)n)) {
                int rc = unescape(s, run->raw, &codes);
                if (rc) {
                    if (rc > 0) *bad = 1;
                    goto fail;
                }
                raw = codes.v;
                n = codes.n;
            }
            if (readable && append_text(&line, font, raw, n) < 0) goto fail;
        }
    }
    if (readable && last_y.a >= 0 && flush_line(lines, &line) < 0) goto fail;
    PyMem_Free(codes.v); PyMem_Free(line.v);
    if (!readable) { Py_DECREF(lines); Py_RETURN_NONE; }
    return lines;
fail:
    PyMem_Free(codes.v); PyMem_Free(line.v);
    Py_DECREF(lines);
    return NULL;
}

static int size_value(const Scan *s, Span size, double *out) {
    if (size.a == -2) { *out = 0.0; return 0; }
    return to_double(s->d, size, out);
}

/* A shown string's width in thousandths of the size (the reference's `_Font.advance`). */
static int advance(const Scan *s, const Font *f, Span raw, Bytes *codes, double *out) {
    int rc = unescape(s, raw, codes);
    if (rc) return rc > 0 ? 1 : -1;
    double w = 0.0;
    for (Py_ssize_t i = 0; i < codes->n; i++) {
        long long at = (long long)codes->v[i] - f->first;
        w += at >= 0 && at < f->count ? f->w[at] : 1000.0;
    }
    *out = w;
    return 0;
}

/* The reference's `_reaches`: 1 reaches, 0 not, 2 ValueError, -1 Python error. */
static int reaches(const Scan *s, const Fonts *fonts, const Item *it, State st, double low, double high,
                   double left, double right, Bytes *codes) {
    double x, y;
    int rc = to_double(s->d, it->x, &x);
    if (rc) return rc > 0 ? 2 : -1;
    rc = to_double(s->d, it->y, &y);
    if (rc) return rc > 0 ? 2 : -1;
    Span name = st.font, size = st.size;
    double width = 0.0, tallest = 0.0;
    for (Py_ssize_t r = 0; r < it->nrun; r++) {
        const Run *run = &s->runs.v[it->run0 + r];
        if (run->name.a >= 0) { name = run->name; size = run->size; }
        double sz;
        rc = size_value(s, size, &sz);
        if (rc) return rc > 0 ? 2 : -1;
        if (sz > tallest) tallest = sz;
        const Font *font = font_get(fonts, s, name);
        if (!font) return low < y + 40 && y - 40 < high;
        double adv;
        rc = advance(s, font, run->raw, codes, &adv);
        if (rc) return rc > 0 ? 2 : -1;
        width += adv * sz / 1000;
    }
    return y - 0.3 * tallest < high && y + tallest > low && x < right && x + width > left;
}

/* The reference's `_text_clear`: 1 clear, 0 text in the strip, 2 ValueError, -1 Python error. */
static int text_clear(const Scan *s, const Fonts *fonts, const State *states, const double zone[4]) {
    double low = zone[1] - 1, high = zone[3] + 1, left = zone[0] - 1, right = zone[2] + 1;
    Bytes codes = {0};
    Py_ssize_t k = 0;
    int result = 1;
    for (Py_ssize_t i = 0; i < s->items.n; i++) {
        const Item *it = &s->items.v[i];
        if (it->set) continue;
        State st = states[k++];
        double y;
        int rc = to_double(s->d, it->y, &y);
        if (rc) { result = rc > 0 ? 2 : -1; break; }
        if (!(low - 40 < y && y < high + 40)) continue;
        rc = reaches(s, fonts, it, st, low, high, left, right, &codes);
        if (rc == 1) { result = 0; break; }
        if (rc) { result = rc; break; }
    }
    PyMem_Free(codes.v);
    return result;
}

/* ---- the drawing before the symbol (the reference's `_drawing_clear`) ------------------------------ */

typedef struct { int any; double lo, hi; } Extent;

static void extend(Extent *e, double v) {  /* min() and max() as Python's builtins compare */
    if (!e->any) { e->any = 1; e->lo = e->hi = v; return; }
    if (v < e->lo) e->lo = v;
    if (v > e->hi) e->hi = v;
}

static int overlaps(const double a[4], const double b[4]) {
    return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

static const char *STATE_OPS[] = {"w", "J", "j", "M", "rg", "RG", "g", "G", "k", "K", "q", "Q", "n", "h", NULL};
static const char *PAINT_OPS[] = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", NULL};
static const char *IDENTITY[] = {"1", "0", "0", "1", "0", "0"};

static int one_of(const Scan *s, Span t, const char **ops) {
    for (; *ops; ops++) if (span_eq(s, t, *ops)) return 1;
    return 0;
}

static int is_operand(const Scan *s, Span t) {
    uc c = s->d[t.a];
    return (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '+';
}

/* 1: clear; 0: not; -1: Python error. Tokens [0, count). */
static int drawing_clear(const Scan *s, Py_ssize_t count, const double zone[4]) {
    const Span *tok = s->tokens.v;
    Extent xs = {0}, ys = {0};
    Py_ssize_t sp = 0, i = 0;  /* the operand stack is tokens [sp, i) */
    double *buf = NULL;
    Py_ssize_t bufcap = 0;
    int result = 1;
#define NUM(t, out) do { int rc_ = to_double(s->d, (t), (out)); if (rc_) { result = rc_ > 0 ? 0 : -1; goto done; } } while (0)
    while (i < count) {
        Span t = tok[i];
        if (is_operand(s, t)) {
            if (sp == i && i + 4 < count && span_eq(s, tok[i + 4], "re")) {
                /* A run of rectangles taken in bulk; every operand must be a number. */
                Py_ssize_t end = i + 5;
                while (end + 4 < count && span_eq(s, tok[end + 4], "re")) end += 5;
                Py_ssize_t rects = (end - i) / 5;
                if (rects * 4 > bufcap) {
                    double *nb = PyMem_Realloc(buf, (size_t)rects * 4 * sizeof(double));
                    if (!nb) { PyErr_NoMemory(); result = -1; goto done; }
                    buf = nb; bufcap = rects * 4;
                }
                double sums[4] = {0.0, 0.0, 0.0, 0.0};
                for (int k = 0; k < 4; k++)
                    for (Py_ssize_t r = 0; r < rects; r++) {
                        NUM(tok[i + 5 * r + k], &buf[k * rects + r]);
                        sums[k] += buf[k * rects + r];
                    }
                if (!isfinite(((sums[0] + sums[1]) + sums[2]) + sums[3])) {
                    i++;  /* `nan` or `inf` written out: token by token (t stays on the stack) */
                    continue;
                }
                const double *x = buf, *y = buf + rects, *w = buf + 2 * rects, *h = buf + 3 * rects;
                for (Py_ssize_t r = 0; r < rects; r++) extend(&xs, x[r]);
                for (Py_ssize_t r = 0; r < rects; r++) extend(&xs, x[r] + w[r]);
                for (Py_ssize_t r = 0; r < rects; r++) extend(&ys, y[r]);
                for (Py_ssize_t r = 0; r < rects; r++) extend(&ys, y[r] + h[r]);
                i = sp = end;
                continue;
            }
            i++;
            continue;
        }
        Py_ssize_t depth = i - sp;
        if (span_eq(s, t, "cm")) {
            if (depth != 6) { result = 0; goto done; }
            for (int k = 0; k < 6; k++)
                if (!span_eq(s, tok[sp + k], IDENTITY[k])) { result = 0; goto done; }
        } else if (span_eq(s, t, "m") || span_eq(s, t, "l")) {
            if (depth < 2) { result = 0; goto done; }
            double a, b;
            NUM(tok[i - 2], &a);
            NUM(tok[i - 1], &b);
            extend(&xs, a);
            extend(&ys, b);
        } else if (span_eq(s, t, "c") || span_eq(s, t, "v") || span_eq(s, t, "y")) {
            double v[2];
            for (Py_ssize_t k = sp; k < i; k++) NUM(tok[k], &v[(k - sp) & 1]);  /* all convert, or none counts */
            for (Py_ssize_t k = sp; k < i; k += 2) { double a; NUM(tok[k], &a); extend(&xs, a); }
            for (Py_ssize_t k = sp + 1; k < i; k += 2) { double b; NUM(tok[k], &b); extend(&ys, b); }
        } else if (span_eq(s, t, "re")) {
            if (depth < 4) { result = 0; goto done; }
            double v[4];
            for (int k = 0; k < 4; k++) NUM(tok[i - 4 + k], &v[k]);
            extend(&xs, v[0]); extend(&xs, v[0] + v[2]);
            extend(&ys, v[1]); extend(&ys, v[1] + v[3]);
        } else if (one_of(s, t, PAINT_OPS)) {
            if (xs.any) {
                if (!ys.any) { result = 0; goto done; }  /* min() of nothing raises */
                double box[4] = {xs.lo - 3, ys.lo - 3, xs.hi + 3, ys.hi + 3};
                if (overlaps(box, zone)) { result = 0; goto done; }
            }
            xs.any = ys.any = 0;
        } else if (span_eq(s, t, "n")) {
            xs.any = ys.any = 0;
        } else if (!one_of(s, t, STATE_OPS)) {
            result = 0; goto done;
        }
        i++;
        sp = i;
    }
    result = sp == count;
done:
#undef NUM
    PyMem_Free(buf);
    return result;
}


/* ---- the text prints as it reads (the reference's `drawing_facts` and `text_prints`) ---------------- */

typedef struct { double v[4]; } Box;
ARRAY(Box, Boxes)

/* What the whole drawing (every token) does that could hide a text: `plain` (only the plain operators,
   every operand a finite number, the identity as the only `cm`), `text_safe` (every fill colour a dark
   neutral ink, no stroke wider than `max_stroke`) and the extents of the filled areas. */
typedef struct { int plain, text_safe; Boxes fills; } Facts;

static const char *FILL_OPS[] = {"f", "F", "f*", "B", "B*", "b", "b*", NULL};

/* The reference's `legible_fill`: a neutral ink at least about half as dark as black. */
static int legible_fill(const Scan *s, Span op, const double *v, Py_ssize_t n) {
    if (span_eq(s, op, "g")) return n == 1 && v[0] <= 0.55;
    if (span_eq(s, op, "rg")) return n == 3 && v[0] == v[1] && v[1] == v[2] && v[2] <= 0.55;
    return n == 4 && v[3] >= 0.45 && v[0] <= v[3] && v[1] <= v[3] && v[2] <= v[3];
}

/* 0: done (facts filled in); -1: Python error. */
static int drawing_facts(const Scan *s, double max_stroke, Facts *f) {
    const Span *tok = s->tokens.v;
    Py_ssize_t count = s->tokens.n, sp = 0;
    Extent xs = {0}, ys = {0};
    f->plain = 1; f->text_safe = 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        Span t = tok[i];
        if (is_operand(s, t)) continue;
        Py_ssize_t depth = i - sp;
        double v[6];
        int numbers = depth <= 6;
        for (Py_ssize_t k = 0; numbers && k < depth; k++) {
            int rc = to_double(s->d, tok[sp + k], &v[k]);
            if (rc < 0) return -1;
            if (rc > 0 || !isfinite(v[k])) numbers = 0;
        }
        if (!numbers) { f->plain = 0; return 0; }
        if (span_eq(s, t, "cm")) {
            if (depth != 6) { f->plain = 0; return 0; }
            for (int k = 0; k < 6; k++)
                if (!span_eq(s, tok[sp + k], IDENTITY[k])) { f->plain = 0; return 0; }
        } else if (span_eq(s, t, "m") || span_eq(s, t, "l")) {
            if (depth != 2) { f->plain = 0; return 0; }
            extend(&xs, v[0]); extend(&ys, v[1]);
        } else if (span_eq(s, t, "c") || span_eq(s, t, "v") || span_eq(s, t, "y")) {
            if (depth != (span_eq(s, t, "c") ? 6 : 4)) { f->plain = 0; return 0; }
            for (Py_ssize_t k = 0; k < depth; k += 2) { extend(&xs, v[k]); extend(&ys, v[k + 1]); }
        } else if (span_eq(s, t, "re")) {
            if (depth != 4) { f->plain = 0; return 0; }
            extend(&xs, v[0]); extend(&xs, v[0] + v[2]);
            extend(&ys, v[1]); extend(&ys, v[1] + v[3]);
        } else if (one_of(s, t, PAINT_OPS)) {
            if (depth) { f->plain = 0; return 0; }
            if (xs.any && one_of(s, t, FILL_OPS)) {
                Box b = {{xs.lo, ys.lo, xs.hi, ys.hi}};
                if (Boxes_push(&f->fills, b) < 0) return -1;
            }
            xs.any = ys.any = 0;
        } else if (span_eq(s, t, "n")) {
            if (depth) { f->plain = 0; return 0; }
            xs.any = ys.any = 0;
        } else if (span_eq(s, t, "g") || span_eq(s, t, "rg") || span_eq(s, t, "k")) {
            if (!legible_fill(s, t, v, depth)) f->text_safe = 0;
        } else if (span_eq(s, t, "w")) {
            if (depth != 1) { f->plain = 0; return 0; }
            if (!(v[0] <= max_stroke)) f->text_safe = 0;
        } else if (!one_of(s, t, STATE_OPS)) {
            f->plain = 0; return 0;
        }
        sp = i + 1;
    }
    if (sp != count) f->plain = 0;
    return 0;
}

/* The reference's `text_prints`: 1 every text prints as it reads, 0 not, -1 Python error. */
static int text_prints(const Scan *s, const Fonts *fonts, const State *states, const Facts *f,
                       const double page[4], const double zone[4], double min_pt, double margin) {
    if (!f->plain || !f->text_safe) return 0;
    double left = page[0] + margin, bottom = page[1] + margin, right = page[2] - margin, top = page[3] - margin;
    Bytes codes = {0};
    Py_ssize_t k = 0;
    int result = 1;
    for (Py_ssize_t i = 0; i < s->items.n && result == 1; i++) {
        const Item *it = &s->items.v[i];
        if (it->set) continue;
        State st = states[k++];
        double x, y;
        int rc = to_double(s->d, it->x, &x);
        if (rc == 0) rc = to_double(s->d, it->y, &y);
        if (rc) { result = rc > 0 ? 0 : -1; break; }
        Span name = st.font, size = st.size;
        double width = 0.0, tallest = 0.0;
        for (Py_ssize_t r = 0; r < it->nrun; r++) {
            const Run *run = &s->runs.v[it->run0 + r];
            if (run->name.a >= 0) { name = run->name; size = run->size; }
            double sz, adv;
            rc = size_value(s, size, &sz);
            if (rc) { result = rc > 0 ? 0 : -1; break; }
            const Font *font = font_get(fonts, s, name);
            if (!font || !(sz >= min_pt)) { result = 0; break; }
            if (sz > tallest) tallest = sz;
            rc = advance(s, font, run->raw, &codes, &adv);
            if (rc) { result = rc > 0 ? 0 : -1; break; }
            width += adv * sz / 1000;
        }
        if (result != 1) break;
        double box[4] = {x, y - 0.3 * tallest, x + width, y + tallest};
        if (!(box[0] >= left && box[1] >= bottom && box[2] <= right && box[3] <= top)) { result = 0; break; }
        for (Py_ssize_t j = 0; j < f->fills.n; j++) {
            const double *b = f->fills.v[j].v;
            if (zone[0] <= b[0] && zone[1] <= b[1] && b[2] <= zone[2] && b[3] <= zone[3]) continue;
            if (overlaps(b, box)) { result = 0; break; }
        }
    }
    PyMem_Free(codes.v);
    return result;
}

/* ---- the symbol: bars, geometry and a row of pixels ----------------------------------------------- */

typedef struct {
    double zone[4];
    double left, bottom, height, narrow, position_tolerance, geometry_tolerance, px_per_pt;
    Py_ssize_t quiet_px;
    double text_min_pt, margin_pt, max_stroke_pt;
} Terms;

/* The reference's `_bars` then `_decode`'s row and `_geometry_holds`, on tokens [from, count).
   1: bars found (*row a new bytes object, *holds the geometry); 0: not vouched; -1: Python error. */
static int bars(const Scan *s, Py_ssize_t from, Py_ssize_t count, const Terms *terms, PyObject **row, int *holds) {
    const Span *tok = s->tokens.v;
    Py_ssize_t first = from;
    while (first < count && span_eq(s, tok[first], "n")) first++;
    Py_ssize_t res = 0;
    for (Py_ssize_t i = from; i < count; i++) res += span_eq(s, tok[i], "re");
    Py_ssize_t end = first + 5 * res;
    if (!res || end > count) return 0;
    for (Py_ssize_t i = first + 4; i < end; i += 5) if (!span_eq(s, tok[i], "re")) return 0;
    if (end >= count || !(span_eq(s, tok[end], "f") || span_eq(s, tok[end], "f*"))) return 0;
    for (Py_ssize_t i = end + 1; i < count; i++) if (!span_eq(s, tok[i], "Q")) return 0;
    double *v = PyMem_Malloc((size_t)res * 2 * sizeof(double));
    if (!v) { PyErr_NoMemory(); return -1; }
    double *lefts = v, *rights = v + res;
    double bottom = 0, height = 0, minleft = 0, maxright = 0;
    int result = 0;
    Span last_y = {-1, -1}, last_h = {-1, -1}, last_w = {-1, -1};
    double yv = 0, hv = 0, wv = 0;
    for (Py_ssize_t r = 0; r < res; r++) {
        Py_ssize_t at = first + 5 * r;
        double x;
        int rc;
        /* Bars share a few widths, one bottom and one height: a token like the last one is not converted again. */
        if (last_y.a < 0 || !spans_equal(s, tok[at + 1], last_y)) {
            if ((rc = to_double(s->d, tok[at + 1], &yv))) goto bad;
            last_y = tok[at + 1];
        }
        if (last_w.a < 0 || !spans_equal(s, tok[at + 2], last_w)) {
            if ((rc = to_double(s->d, tok[at + 2], &wv))) goto bad;
            last_w = tok[at + 2];
        }
        if (last_h.a < 0 || !spans_equal(s, tok[at + 3], last_h)) {
            if ((rc = to_double(s->d, tok[at + 3], &hv))) goto bad;
            last_h = tok[at + 3];
        }
        if ((rc = to_double(s->d, tok[at], &x))) goto bad;
        /* Only finite numbers print where they say. */
        if (!isfinite(x) || !isfinite(yv) || !isfinite(wv) || !isfinite(hv)) goto out;
        if (r == 0) { bottom = yv; height = hv; }
        else if (yv != bottom || hv != height) goto out;
        if (wv == 0) goto out;
        double x2 = x + wv;
        lefts[r] = x2 < x ? x2 : x;
        rights[r] = x2 > x ? x2 : x;
        if (r == 0 || lefts[r] < minleft) minleft = lefts[r];
        if (r == 0 || rights[r] > maxright) maxright = rights[r];
        continue;
    bad:
        if (rc < 0) { result = -1; goto out; }
        goto out;  /* not a number: not vouched */
    }
    {
        double top = bottom + height;
        double low = top < bottom ? top : bottom, high = top > bottom ? top : bottom;
        if (height == 0 || low < terms->zone[1] || high > terms->zone[3]) goto out;
        if (minleft < terms->zone[0] || maxright > terms->zone[2]) goto out;
        /* The row: quiet zone, the bars as ink (0) on white (255), quiet zone. */
        Py_ssize_t longest = 0;
        for (Py_ssize_t r = 0; r < res; r++) {
            Py_ssize_t e = (Py_ssize_t)nearbyint((rights[r] - minleft) * terms->px_per_pt) + terms->quiet_px;
            if (e > longest) longest = e;
        }
        Py_ssize_t size = longest + terms->quiet_px;
        if (size <= 0 || size > ((Py_ssize_t)1 << 26)) goto out;
        PyObject *pixels = PyBytes_FromStringAndSize(NULL, size);
        if (!pixels) { result = -1; goto out; }
        uc *px = (uc *)PyBytes_AS_STRING(pixels);
        memset(px, 255, (size_t)size);
        for (Py_ssize_t r = 0; r < res; r++) {
            Py_ssize_t a = (Py_ssize_t)nearbyint((lefts[r] - minleft) * terms->px_per_pt) + terms->quiet_px;
            Py_ssize_t b = (Py_ssize_t)nearbyint((rights[r] - minleft) * terms->px_per_pt) + terms->quiet_px;
            if (a < 0) a = 0;
            if (b > size) b = size;
            if (b > a) memset(px + a, 0, (size_t)(b - a));
        }
        *row = pixels;
        /* Geometry: where the layout puts it, as tall, on the module grid, no bar under a module. */
        double tall = high - low;
        int ok = !(fabs(minleft - terms->left) > terms->position_tolerance
                   || fabs(low - terms->bottom) > terms->position_tolerance
                   || fabs(tall - terms->height) > terms->height * terms->geometry_tolerance);
        double thinnest = terms->narrow * (1 - terms->geometry_tolerance);
        for (Py_ssize_t r = 0; ok && r < res; r++) {
            double g1 = (lefts[r] - minleft) / terms->narrow, g2 = (rights[r] - minleft) / terms->narrow;
            if (fabs(g1 - nearbyint(g1)) > terms->geometry_tolerance || fabs(g2 - nearbyint(g2)) > terms->geometry_tolerance
                    || !(rights[r] - lefts[r] >= thinnest))
                ok = 0;
        }
        *holds = ok;
        result = 1;
    }
out:
    PyMem_Free(v);
    return result;
}

/* ---- the page ------------------------------------------------------------------------------------- */

enum { PAGE_UNREADABLE = 0, PAGE_TEXT_IN_STRIP = 1, PAGE_TEXT_OBJECT_LEFT = 2, PAGE_NOT_VOUCHED = 3, PAGE_BARS = 4 };

static int read_terms(PyObject *obj, Terms *t) {
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "terms must be a tuple (content.scan_terms)");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "(dddd)dddddddnddd;terms: (zone, left, bottom, height, narrow, position tolerance, "
                          "geometry tolerance, px per pt, quiet px, text min pt, margin pt, max stroke pt)",
                          &t->zone[0], &t->zone[1], &t->zone[2], &t->zone[3], &t->left, &t->bottom, &t->height,
                          &t->narrow, &t->position_tolerance, &t->geometry_tolerance, &t->px_per_pt, &t->quiet_px,
                          &t->text_min_pt, &t->margin_pt, &t->max_stroke_pt))
        return -1;
    return 0;
}

/* This process's CPU time, in seconds (for the text's share of the scan). A system call (about 0.6 us
   here), so the reader asks for it on a sample of pages only (`content.TEXT_TIMED_EVERY`). */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static PyObject *page(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    PyObject *terms_obj, *fonts_obj, *page_obj = Py_None;
    int timed = 0;
    double text_seconds = 0.0, page_box[4] = {0, 0, 0, 0};
    Facts facts = {0};
    if (!PyArg_ParseTuple(args, "y*OO|pO", &data, &terms_obj, &fonts_obj, &timed, &page_obj)) return NULL;
    if (page_obj != Py_None && !PyArg_ParseTuple(page_obj, "dddd;page box: (left, bottom, right, top)",
                                                 &page_box[0], &page_box[1], &page_box[2], &page_box[3])) {
        PyBuffer_Release(&data);
        return NULL;
    }
    Terms terms;
    Scan s;
    memset(&s, 0, sizeof s);
    s.d = data.buf;
    s.n = data.len;
    Fonts fonts = {0};
    State *states = NULL;
    PyObject *lines = NULL, *row = NULL, *result = NULL;
    int kind = PAGE_UNREADABLE, holds = 0;
    if (read_terms(terms_obj, &terms) < 0 || fonts_open(&fonts, fonts_obj) < 0 || split(&s) < 0) goto done;
    if (s.items.n) {
        states = PyMem_Malloc((size_t)s.items.n * sizeof(State));
        if (!states) { PyErr_NoMemory(); goto done; }
        int bad = 0;
        double started = timed ? cpu_seconds() : 0.0;
        lines = text_lines(&s, &fonts, states, &bad);
        if (timed) text_seconds += cpu_seconds() - started;
        if (!lines) {
            if (bad) goto answer;
            goto done;
        }
        int clear = text_clear(&s, &fonts, states, terms.zone);
        if (clear < 0) goto done;
        if (clear == 2) { Py_CLEAR(lines); goto answer; }
        if (!clear) { kind = PAGE_TEXT_IN_STRIP; goto answer; }
    } else {
        lines = PyList_New(0);
        if (!lines) goto done;
    }
    {
        Py_ssize_t n = s.tokens.n, at = -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (span_eq(&s, s.tokens.v[i], "BT")) { kind = PAGE_TEXT_OBJECT_LEFT; Py_CLEAR(lines); goto answer; }
            if (span_eq(&s, s.tokens.v[i], "k")) at = i;
        }
        /* The text lines are given only when the text is proven to print as it reads (timed as the text's). */
        double started = timed ? cpu_seconds() : 0.0;
        if (drawing_facts(&s, terms.max_stroke_pt, &facts) < 0) goto done;
        int prints = page_obj == Py_None ? 0 : text_prints(&s, &fonts, states, &facts, page_box, terms.zone,
                                                            terms.text_min_pt, terms.margin_pt);
        if (timed) text_seconds += cpu_seconds() - started;
        if (prints < 0) goto done;
        if (!prints) Py_CLEAR(lines);
        kind = PAGE_NOT_VOUCHED;
        if (at < 5 || !span_eq(&s, s.tokens.v[at - 5], "q")) goto answer;
        static const char *K100[] = {"0", "0", "0", "1"};
        for (int k = 0; k < 4; k++) if (!span_eq(&s, s.tokens.v[at - 4 + k], K100[k])) goto answer;
        int clear = drawing_clear(&s, at - 4, terms.zone);
        if (clear < 0) goto done;
        if (!clear) goto answer;
        int found = bars(&s, at + 1, n, &terms, &row, &holds);
        if (found < 0) goto done;
        if (found) kind = PAGE_BARS;
    }
answer:
    result = Py_BuildValue("iOOOd", kind, lines ? lines : Py_None, row ? row : Py_None, holds ? Py_True : Py_False,
                           text_seconds);
done:
    Py_XDECREF(lines);
    Py_XDECREF(row);
    PyMem_Free(facts.fills.v);
    PyMem_Free(states);
    PyMem_Free(fonts.v);
    PyMem_Free(s.tokens.v);
    PyMem_Free(s.items.v);
    PyMem_Free(s.runs.v);
    PyBuffer_Release(&data);
    return result;
}

static PyObject *floats(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *seq = PySequence_Fast(arg, "floats() takes a sequence of bytes");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (!out) { Py_DECREF(seq); return NULL; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "floats() takes a sequence of bytes");
            goto fail;
        }
        Span t = {0, PyBytes_GET_SIZE(item)};
        double v;
        int rc = to_double((const uc *)PyBytes_AS_STRING(item), t, &v);
        if (rc > 0) {
            PyErr_Format(PyExc_ValueError, "could not convert string to float: %R", item);
            goto fail;
        }
        if (rc < 0) goto fail;
        PyObject *f = PyFloat_FromDouble(v);
        if (!f) goto fail;
        PyList_SET_ITEM(out, i, f);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* ---- the postal bars (the plain case of postal/read.py's `content_letters`) ------------------------ */

static int token_is(const uc *d, Span t, const char *text) {
    size_t len = strlen(text);
    return (size_t)(t.b - t.a) == len && memcmp(d + t.a, text, len) == 0;
}

/* postal_letters(content, mark) -> str | None | False. The letters F A D T of the postal path that
   starts at `mark` (content_letters' `_rectangles`, `_edges` and `_letters`, in one pass), None when
   the content holds no such path, or False when it is not the plain case: one path, of rectangles
   each of finite positive size, drawn left to right (as sorting by left edge leaves them), then
   filled, its bars sharing a tracker band with ascenders or descenders. Then the Python reader reads
   it and gives its answer or its error. */
static PyObject *postal_letters(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data, mark;
    if (!PyArg_ParseTuple(args, "y*y*", &data, &mark)) return NULL;
    const uc *d = data.buf;
    Py_ssize_t n = data.len, m = mark.len;
    PyObject *result = NULL;
    Spans tokens = {0};
    double *v = NULL;
    char *letters = NULL;
    if (m == 0) { result = Py_False; goto answer; }
    const uc *hit = memmem(d, (size_t)n, mark.buf, (size_t)m);
    if (!hit) { result = Py_None; goto answer; }
    Py_ssize_t start = hit - d, from = start + m;
    if (memmem(d + start + 1, (size_t)(n - start - 1), mark.buf, (size_t)m)) { result = Py_False; goto answer; }
    const uc *f = memchr(d + from, 'f', (size_t)(n - from));
    Py_ssize_t stop = f ? (f - d) + 2 : n;
    if (stop > n) stop = n;
    for (Py_ssize_t p = from; p < stop;) {
        while (p < stop && WS[d[p]]) p++;
        if (p >= stop) break;
        Py_ssize_t q = p;
        while (q < stop && !WS[d[q]]) q++;
        Span t = {p, q};
        if (Spans_push(&tokens, t) < 0) goto done;
        p = q;
    }
    const Span *tok = tokens.v;
    Py_ssize_t count = tokens.n, first = 0, rects = 0;
    while (first < count && token_is(d, tok[first], "n")) first++;
    while (first + 5 * rects + 4 < count && token_is(d, tok[first + 5 * rects + 4], "re")) rects++;
    Py_ssize_t end = first + 5 * rects;
    if (!rects || end >= count || !(token_is(d, tok[end], "f") || token_is(d, tok[end], "f*"))) {
        result = Py_False;
        goto answer;
    }
    v = PyMem_Malloc((size_t)rects * 2 * sizeof(double));
    letters = PyMem_Malloc((size_t)rects);
    if (!v || !letters) { PyErr_NoMemory(); goto done; }
    double *bottoms = v, *tops = v + rects, left = 0.0;
    for (Py_ssize_t r = 0; r < rects; r++) {
        double x, y, w, h;
        const Span *t = tok + first + 5 * r;
        int rc = to_double(d, t[0], &x);
        if (!rc) rc = to_double(d, t[1], &y);
        if (!rc) rc = to_double(d, t[2], &w);
        if (!rc) rc = to_double(d, t[3], &h);
        if (rc < 0) goto done;
        if (rc > 0 || !isfinite(x) || !isfinite(y) || !(w > 0 && isfinite(w)) || !(h > 0 && isfinite(h))
                || !isfinite(y + h) || (r > 0 && x < left)) {
            result = Py_False;
            goto answer;
        }
        left = x;
        bottoms[r] = y;
        tops[r] = y + h;
    }
    /* max() and min() as Python's builtins take them: the first value, replaced only by a greater (lesser) one. */
    double band_bottom = bottoms[0], band_top = tops[0], full_bottom = bottoms[0], full_top = tops[0];
    for (Py_ssize_t r = 1; r < rects; r++) {
        if (bottoms[r] > band_bottom) band_bottom = bottoms[r];
        if (bottoms[r] < full_bottom) full_bottom = bottoms[r];
        if (tops[r] < band_top) band_top = tops[r];
        if (tops[r] > full_top) full_top = tops[r];
    }
    double below_band = band_bottom - full_bottom, above_band = full_top - band_top;
    double reach = above_band < below_band ? above_band : below_band;
    if (band_top <= band_bottom || reach <= (band_top - band_bottom) * 0.2) { result = Py_False; goto answer; }
    double eps = reach / 2, above = band_top + eps, below = band_bottom - eps;
    for (Py_ssize_t r = 0; r < rects; r++) letters[r] = "TDAF"[(tops[r] > above) * 2 + (bottoms[r] < below)];
    result = PyUnicode_DecodeASCII(letters, rects, NULL);
    goto done;
answer:
    Py_INCREF(result);
done:
    PyMem_Free(tokens.v);
    PyMem_Free(v);
    PyMem_Free(letters);
    PyBuffer_Release(&data);
    PyBuffer_Release(&mark);
    return result;
}

static PyMethodDef methods[] = {
    {"floats", floats, METH_O,
     "floats(tokens) -> list[float]: each bytes token as float() reads it (ValueError as float() raises)."},
    {"postal_letters", postal_letters, METH_VARARGS,
     "postal_letters(content, mark) -> str | None | False: the letters of the postal path starting at mark,\n"
     "None without one, False when it is not one plain path of rectangles drawn left to right and filled."},
    {"page", page, METH_VARARGS,
     "page(content, terms, fonts, timed=False, page_box=None) -> (kind, lines, row, holds, text_seconds):\n"
     "one page's content read in one pass (text_seconds: CPU time decoding the text and proving it prints,\n"
     "when timed); lines are None unless the text is proven to print as it reads on page_box (left,\n"
     "bottom, right, top).\n"
     "kind: 0 unreadable, 1 text in the strip, 2 a text object left over, 3 not vouched, 4 bars found\n"
     "(row: the bars on a row of pixels, holds: their geometry keeps the contract)."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&FontType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&FontType);
    if (PyModule_AddObject(m, "Font", (PyObject *)&FontType) < 0) { Py_DECREF(&FontType); Py_DECREF(m); return NULL; }
    return m;
}
