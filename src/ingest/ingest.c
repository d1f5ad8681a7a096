/*
 * ingest.c - the document reader: walks inputs, picks a format by file
 * extension, and streams documents one at a time.
 *
 * Design:
 * - Inputs are expanded up front into a list of files (directories walked
 *   recursively, entries sorted by byte order of their names, hidden entries
 *   skipped), so document order, and therefore all output, is reproducible,
 *   and the total size is known for progress and ETA.
 * - Only one file is open at a time and formats stream, so memory stays flat
 *   however large the input: what is held is the file list and one 128-bit
 *   hash per document id (for the duplicate-id check).
 * - Every file goes through zlib's gzread, which reads plain files unchanged,
 *   so ".gz" support costs nothing extra.
 * - Errors are per record: a bad record or unreadable file is reported
 *   through NF_SKIPPED with the file and line, and reading goes on.
 * - Distributed runs (src/mpi) read a span of the file list: plain JSONL
 *   files may start and end at byte offsets, always at line boundaries (a
 *   line belongs to the span its first byte lies in), with line numbers
 *   carried over so messages name the same file:line as a whole read.
 */
#include "ingest/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define DEFAULT_MAX_RECORD (64u << 20)
#define DEFAULT_MAX_PAGE (20u << 20)
#define LINE_BUF_INITIAL (1u << 20)

static const nfi_format *const nfi_formats[] = {&nfi_format_text, &nfi_format_json, &nfi_format_jsonl,
                                              &nfi_format_html, &nfi_format_warc};

typedef struct input_file {
    char *path;
    char *rel;
    uint64_t size;
} input_file;

typedef struct id_set {
    XXH128_hash_t *slots; /* zero hash marks an empty slot */
    size_t cap, count;
} id_set;

struct nf_reader {
    input_file *files;
    size_t n_files, cap_files, next_file;
    nfi_source src;
    const nfi_format *format;
    bool open;
    size_t max_record;
    size_t max_page;
    bool defer_extract;
    uint64_t ignored;
    uint64_t bytes_total, bytes_done_closed;
    id_set ids;
    nfi_buf pending_skip; /* message for a file skipped while walking */
    /* distributed runs (nfi_reader_set_span): a part of the input only */
    nfi_reader_span span;
    bool has_span, no_id_check;
    uint64_t doc_ord, last_lines;
};

/* ------------------------------------------------------------ id set */

void nfi_reader_id_hash(const char *id, uint64_t out[2])
{
    XXH128_hash_t h = XXH3_128bits(id, strlen(id));
    if (!h.low64 && !h.high64) /* zero marks an empty slot */
        h.low64 = 1;
    out[0] = h.low64;
    out[1] = h.high64;
}

static bool id_set_insert(id_set *s, const uint64_t hash[2], bool *was_new)
{
    if ((s->count + 1) * 4 > s->cap * 3) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        XXH128_hash_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return false;
        for (size_t i = 0; i < s->cap; i++) {
            XXH128_hash_t h = s->slots[i];
            if (!h.low64 && !h.high64)
                continue;
            size_t j = h.low64 & (cap - 1);
            while (slots[j].low64 || slots[j].high64)
                j = (j + 1) & (cap - 1);
            slots[j] = h;
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    XXH128_hash_t h = {hash[0], hash[1]};
    size_t j = h.low64 & (s->cap - 1);
    while (s->slots[j].low64 || s->slots[j].high64) {
        if (XXH128_isEqual(s->slots[j], h)) {
            *was_new = false;
            return true;
        }
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = h;
    s->count++;
    *was_new = true;
    return true;
}

/* ------------------------------------------------------------ walking */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool add_file(nf_reader *r, const char *path, const char *rel, uint64_t size)
{
    if (r->n_files == r->cap_files) {
        size_t cap = r->cap_files ? r->cap_files * 2 : 64;
        input_file *f = realloc(r->files, cap * sizeof *f);
        if (!f)
            return false;
        r->files = f;
        r->cap_files = cap;
    }
    input_file *f = &r->files[r->n_files];
    f->path = nfi_strdup(path);
    f->rel = nfi_strdup(rel);
    if (!f->path || !f->rel) {
        free(f->path);
        free(f->rel);
        return false;
    }
    f->size = size;
    r->n_files++;
    r->bytes_total += size;
    return true;
}

static char *join_path(const char *a, const char *b)
{
    nfi_buf p;
    nfi_buf_init(&p);
    nfi_buf_puts(&p, a);
    if (*a && a[strlen(a) - 1] != '/')
        nfi_buf_putc(&p, '/');
    nfi_buf_puts(&p, b);
    return nfi_buf_take(&p, NULL);
}

static nf_status walk_dir(nf_reader *r, const char *dir, const char *rel, int depth, nf_error *err)
{
    if (depth > 64)
        return nfi_fail(err, NF_ERR_IO, "%s: directories nested too deep (symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d)
        return nfi_fail(err, NF_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    nf_status st = NF_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = nfi_fail(err, NF_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            names = nn;
        }
        if (!(names[n++] = nfi_strdup(e->d_name))) {
            n--;
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        char *path = join_path(dir, names[i]);
        char *sub = *rel ? join_path(rel, names[i]) : nfi_strdup(names[i]);
        struct stat sb;
        if (!path || !sub)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        else if (stat(path, &sb) != 0)
            st = nfi_fail(err, NF_ERR_IO, "%s: %s", path, strerror(errno));
        else if (S_ISDIR(sb.st_mode))
            st = walk_dir(r, path, sub, depth + 1, err);
        else if (S_ISREG(sb.st_mode) && !add_file(r, path, sub, (uint64_t)sb.st_size))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        free(path);
        free(sub);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

static nf_status add_input(nf_reader *r, const char *path, nf_error *err)
{
    if (strcmp(path, "-") == 0)
        return add_file(r, "-", "-", 0) ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nfi_fail(err, NF_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return walk_dir(r, path, "", 0, err);
    return add_file(r, path, path, (uint64_t)sb.st_size) ? NF_OK
                                                         : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

nf_status nf_reader_open(nf_reader **out, const char *const *paths, size_t n_paths,
                         const nf_reader_options *options, nf_error *err)
{
    *out = NULL;
    if (!paths || !n_paths)
        return nfi_fail(err, NF_ERR_ARG, "no input given");
    nf_reader *r = calloc(1, sizeof *r);
    if (!r)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    r->max_record = options && options->max_record_bytes ? options->max_record_bytes : DEFAULT_MAX_RECORD;
    r->max_page = options && options->max_page_bytes ? options->max_page_bytes : DEFAULT_MAX_PAGE;
    r->defer_extract = options && options->defer_extract;
    for (size_t i = 0; i < n_paths; i++) {
        nf_status st = add_input(r, paths[i], err);
        if (st != NF_OK) {
            nf_reader_close(r);
            return st;
        }
    }
    *out = r;
    return NF_OK;
}

/* ------------------------------------------------------------ formats */

static const nfi_format *format_for(const char *rel)
{
    size_t n = strlen(rel);
    if (n > 3 && strcmp(rel + n - 3, ".gz") == 0)
        n -= 3;
    if (strcmp(rel, "-") == 0)
        return &nfi_format_jsonl;
    for (size_t f = 0; f < sizeof nfi_formats / sizeof *nfi_formats; f++) {
        for (const char *const *ext = nfi_formats[f]->extensions; *ext; ext++) {
            size_t e = strlen(*ext);
            if (n > e && strncmp(rel + n - e, *ext, e) == 0)
                return nfi_formats[f];
        }
    }
    return NULL;
}

static void close_source(nf_reader *r)
{
    if (!r->open)
        return;
    r->format->close(&r->src);
    gzclose(r->src.gz);
    free(r->src.buf);
    r->bytes_done_closed += r->files[r->next_file - 1].size;
    r->ignored += r->src.ignored;
    r->last_lines = r->src.line;
    memset(&r->src, 0, sizeof r->src);
    r->open = false;
}

/* A plain JSONL file opened at byte offset - 1 of a span's start (the caller
 * checked that the file can be split), so that the line that byte ends can
 * be passed over: reading then starts at the first line starting at or after
 * offset, which is where the part before it stopped. */
static gzFile open_from(const input_file *f, uint64_t offset)
{
    int fd = open(f->path, O_RDONLY);
    if (fd < 0)
        return NULL;
    gzFile gz = lseek(fd, (off_t)(offset - 1), SEEK_SET) >= 0 ? gzdopen(fd, "rb") : NULL;
    if (!gz)
        close(fd);
    return gz;
}

/* Opens the next file; NF_SKIPPED when that file cannot be read at all. */
static nf_status open_next(nf_reader *r, nf_error *err)
{
    size_t index = r->next_file;
    input_file *f = &r->files[r->next_file++];
    const nfi_format *fmt = format_for(f->rel);
    bool from_offset = r->has_span && index == r->span.file && r->span.offset > 0;
    r->doc_ord = 0;
    if (!fmt) {
        r->bytes_done_closed += f->size;
        return nfi_fail(err, NF_SKIPPED, "%s: unsupported file type, skipped", f->path);
    }
    gzFile gz = from_offset                   ? open_from(f, r->span.offset)
                : strcmp(f->path, "-") == 0 ? gzdopen(dup(STDIN_FILENO), "rb")
                                              : gzopen(f->path, "rb");
    if (!gz) {
        r->bytes_done_closed += f->size;
        return nfi_fail(err, NF_SKIPPED, "%s: cannot open: %s", f->path, strerror(errno));
    }
    gzbuffer(gz, 256u << 10);
    memset(&r->src, 0, sizeof r->src);
    r->src.gz = gz;
    r->src.path = f->path;
    r->src.rel = f->rel;
    r->src.max_record = r->max_record;
    r->src.max_page = r->max_page;
    r->src.defer_extract = r->defer_extract;
    r->format = fmt;
    r->open = true;
    nf_status st = fmt->open(&r->src, err);
    if (st != NF_OK) {
        close_source(r);
        return st == NF_END ? NF_OK : NF_SKIPPED;
    }
    if (from_offset) { /* the rest of the line before offset belongs to the part before */
        const char *line;
        size_t len;
        r->src.offset = r->span.offset - 1;
        st = nfi_source_getline(&r->src, &line, &len, err);
        if (st == NF_ERR_IO || st == NF_ERR_NOMEM) {
            close_source(r);
            return st == NF_ERR_NOMEM ? st : NF_SKIPPED;
        }
        r->src.line = r->span.line;
    }
    if (r->has_span && index == r->span.end_file)
        r->src.end = r->span.end_offset;
    return NF_OK;
}

static nf_status check_id(nf_reader *r, nf_doc *doc, nf_error *err)
{
    bool was_new;
    uint64_t h[2];
    nfi_reader_id_hash(doc->id, h);
    if (!id_set_insert(&r->ids, h, &was_new))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (was_new)
        return NF_OK;
    nfi_fail(err, NF_SKIPPED, "%s:%llu: duplicate id \"%s\", record skipped", doc->origin,
            (unsigned long long)doc->record, doc->id);
    nf_doc_free(doc);
    return NF_SKIPPED;
}

nf_status nf_reader_next(nf_reader *r, nf_doc *doc, nf_error *err)
{
    memset(doc, 0, sizeof *doc);
    for (;;) {
        if (!r->open) {
            if (r->next_file >= r->n_files || (r->has_span && r->next_file > r->span.end_file))
                return NF_END;
            nf_status st = open_next(r, err);
            if (st != NF_OK)
                return st;
            if (!r->open)
                continue;
        }
        nf_status st = r->format->next(&r->src, doc, err);
        if (st == NF_END) {
            close_source(r);
            continue;
        }
        if (st == NF_OK) {
            r->doc_ord++;
            st = nfi_doc_repair_utf8(doc, err);
            if (st != NF_OK)
                nf_doc_free(doc);
            else if (!r->no_id_check)
                st = check_id(r, doc, err);
            return st;
        }
        if (st != NF_SKIPPED) /* the rest of this file is unreadable */
            close_source(r);
        return st == NF_ERR_NOMEM ? st : NF_SKIPPED;
    }
}

uint64_t nf_reader_bytes_done(const nf_reader *r)
{
    uint64_t done = r->bytes_done_closed;
    if (r->open && r->src.consumed) { /* a format reading the file itself */
        done += r->src.consumed;
    } else if (r->open && strcmp(r->src.path, "-") != 0) {
        z_off_t off = gzoffset(r->src.gz);
        if (off > 0)
            done += (uint64_t)off;
    }
    return done;
}

uint64_t nf_reader_bytes_total(const nf_reader *r) { return r->bytes_total; }

uint64_t nf_reader_records_ignored(const nf_reader *r) { return r->ignored + (r->open ? r->src.ignored : 0); }

void nf_reader_close(nf_reader *r)
{
    if (!r)
        return;
    close_source(r);
    for (size_t i = 0; i < r->n_files; i++) {
        free(r->files[i].path);
        free(r->files[i].rel);
    }
    free(r->files);
    free(r->ids.slots);
    nfi_buf_free(&r->pending_skip);
    free(r);
}

/* ----------------------------------------------- spans (src/mpi) */

size_t nfi_reader_n_files(const nf_reader *r) { return r->n_files; }

void nfi_reader_file_info(const nf_reader *r, size_t i, uint64_t *size, bool *splittable)
{
    const input_file *f = &r->files[i];
    size_t n = strlen(f->rel);
    *size = f->size;
    *splittable = format_for(f->rel) == &nfi_format_jsonl && strcmp(f->path, "-") != 0 &&
                  !(n > 3 && strcmp(f->rel + n - 3, ".gz") == 0);
}

nf_status nfi_reader_set_span(nf_reader *r, const nfi_reader_span *span, nf_error *err)
{
    uint64_t size;
    bool splittable;
    if (r->next_file || r->open || span->file >= r->n_files || span->end_file < span->file)
        return nfi_fail(err, NF_ERR_ARG, "reader span set too late or out of range");
    if (span->offset && (nfi_reader_file_info(r, span->file, &size, &splittable), !splittable))
        return nfi_fail(err, NF_ERR_ARG, "%s: only plain JSONL files are read from an offset", r->files[span->file].path);
    r->span = *span;
    r->has_span = true;
    r->next_file = span->file;
    return NF_OK;
}

void nfi_reader_position(const nf_reader *r, nfi_reader_pos *pos)
{
    pos->file = r->next_file ? r->next_file - 1 : 0;
    pos->offset = r->src.line_start;
    pos->end = r->src.offset;
    pos->line = r->src.line;
    pos->ord = r->doc_ord;
}

uint64_t nfi_reader_last_lines(const nf_reader *r) { return r->open ? r->src.line : r->last_lines; }

void nfi_reader_check_ids(nf_reader *r, bool on) { r->no_id_check = !on; }

nf_status nfi_reader_seed_id(nf_reader *r, const uint64_t hash[2], nf_error *err)
{
    bool was_new;
    return id_set_insert(&r->ids, hash, &was_new) ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------- source helpers */

/* zlib's gzread reports a gzip stream cut short as a plain end of file and
 * keeps the error aside (Z_BUF_ERROR, "unexpected end of file"); without
 * this check a truncated .gz looks complete, its last record broken. */
nf_status nfi_gz_check_end(gzFile gz, const char *path, nf_error *err)
{
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (zerr != Z_BUF_ERROR)
        return NF_OK;
    return nfi_fail(err, NF_ERR_IO,
                    "%s: truncated gzip stream: it ends unexpectedly at byte %lld of the file; the incomplete end "
                    "is skipped",
                    path, (long long)gzoffset(gz));
}

static nf_status fill(nfi_source *s, nf_error *err)
{
    if (s->buf_pos > 0) {
        memmove(s->buf, s->buf + s->buf_pos, s->buf_len - s->buf_pos);
        s->buf_len -= s->buf_pos;
        s->buf_pos = 0;
    }
    if (s->buf_len == s->buf_cap) {
        size_t cap = s->buf_cap ? s->buf_cap * 2 : LINE_BUF_INITIAL;
        char *b = realloc(s->buf, cap + 1);
        if (!b)
            return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", s->path);
        s->buf = b;
        s->buf_cap = cap;
    }
    int n = gzread(s->gz, s->buf + s->buf_len, (unsigned)(s->buf_cap - s->buf_len));
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(s->gz, &zerr);
        return nfi_fail(err, NF_ERR_IO, "%s: read error after line %llu: %s", s->path,
                       (unsigned long long)s->line, msg);
    }
    if (n == 0) {
        s->eof = true;
        return nfi_gz_check_end(s->gz, s->path, err);
    }
    s->buf_len += (size_t)n;
    return NF_OK;
}

nf_status nfi_source_getline(nfi_source *s, const char **line, size_t *len, nf_error *err)
{
    size_t scanned = 0;
    bool skipping = false;
    uint64_t line_start = s->offset;
    if (s->end && s->offset >= s->end) /* the end of a span: the next line is another part's */
        return NF_END;
    for (;;) {
        char *start = s->buf + s->buf_pos;
        size_t avail = s->buf_len - s->buf_pos;
        char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl || (s->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - start) : avail;
            s->buf_pos += nl ? n + 1 : n;
            s->offset += nl ? n + 1 : n;
            s->line_start = line_start;
            s->line++;
            if (skipping || n > s->max_record)
                return nfi_fail(err, NF_SKIPPED, "%s:%llu: record longer than %zu bytes, skipped",
                               s->path, (unsigned long long)s->line, s->max_record);
            if (n > 0 && start[n - 1] == '\r')
                n--;
            start[n] = '\0';
            *line = start;
            *len = n;
            return NF_OK;
        }
        if (s->eof && skipping) { /* the last line, without a newline, was too long */
            s->line++;
            return nfi_fail(err, NF_SKIPPED, "%s:%llu: record longer than %zu bytes (no newline before the end), skipped",
                            s->path, (unsigned long long)s->line, s->max_record);
        }
        if (s->eof)
            return NF_END;
        if (avail > s->max_record) { /* drop what we have, remember to skip */
            skipping = true;
            s->offset += avail;
            s->buf_pos = s->buf_len;
            avail = 0;
        }
        scanned = avail;
        nf_status st = fill(s, err);
        if (st != NF_OK)
            return st;
    }
}

nf_status nfi_source_slurp(nfi_source *s, char **out, size_t *len, nf_error *err)
{
    nfi_buf b;
    nfi_buf_init(&b);
    char chunk[1 << 16];
    for (;;) {
        int n = gzread(s->gz, chunk, sizeof chunk);
        if (n < 0) {
            int zerr;
            nfi_buf_free(&b);
            return nfi_fail(err, NF_ERR_IO, "%s: read error: %s", s->path, gzerror(s->gz, &zerr));
        }
        if (n == 0 && nfi_gz_check_end(s->gz, s->path, err) != NF_OK) {
            nfi_buf_free(&b);
            return NF_ERR_IO;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > s->max_record) {
            nfi_buf_free(&b);
            return nfi_fail(err, NF_SKIPPED, "%s: larger than %zu bytes, skipped", s->path, s->max_record);
        }
        nfi_buf_append(&b, chunk, (size_t)n);
    }
    *out = nfi_buf_take(&b, len);
    return *out ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", s->path);
}

/* ------------------------------------------------------------ documents */

void nf_doc_free(nf_doc *d)
{
    if (!d)
        return;
    free(d->id);
    free(d->title);
    free(d->text);
    free(d->lang);
    free(d->source);
    free(d->published);
    free(d->url);
    free(d->origin);
    nfi_extract_info_free(d->extract);
    memset(d, 0, sizeof *d);
}

