/*
 * dedup_index.c - the incremental duplicate index (--index DIR), and its
 * verify / repair / stats tools.
 *
 * Layout: DIR/MANIFEST (text) lists the parameters the index was built with
 * and its segments in order, one line each:
 *     segment NAME DOCS BYTES XXH64 written=YYYY-MM-DDTHH:MM:SSZ
 * Each run that adds documents writes one segment file
 * seg-NNNNNN-RRRRRRRRRRRRRRRR.nfs (sequence number and 64 random bits, so
 * two names never collide, even after a repair renumbered the sequence)
 * holding those documents' ids, hashes, signatures and containment samples
 * plus the verified pairs found in that run (as document numbers counted
 * from the first segment), and a trailing XXH64 of its bytes. A later run
 * loads the segments instead of re-sketching old documents, compares only
 * pairs involving new documents, and appends a segment.
 *
 * Concurrency: a writer takes an exclusive flock on DIR/LOCK before it reads
 * the manifest and keeps it until nf_dedup_free, so a second writer waits
 * for the first to finish and then loads what it added: runs never
 * interleave. The lock file holds the holder's pid, for messages. flock
 * locks die with their process, so a killed writer never blocks the next.
 *
 * Crash safety: a segment is written through nf_outfile (temporary name,
 * fsync, rename, directory fsync); only then is the manifest rewritten the
 * same way. A crash at any point leaves either the old or the new manifest,
 * and every segment the manifest names complete. Leftovers (temporary files,
 * segments no manifest names) are removed by the next writer, under the
 * lock. A named segment whose size, checksum or structure is wrong is
 * corruption, not a torn write: a run refuses the index, naming the segment
 * and pointing to `newsfold index verify` / `repair`.
 *
 * Repair drops bad segments. Since pairs refer to documents by number, the
 * segments after a dropped one are rewritten with their documents
 * renumbered (document records are copied byte for byte; pairs touching a
 * dropped document are dropped too); segments before it are kept as they
 * are.
 */
#include "dedup/dedup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MANIFEST "MANIFEST"
#define LOCKFILE "LOCK"
#define MANIFEST_MAGIC "newsfold-index 1"
#define SEGMENT_MAGIC "NFSEG001"
#define SEGMENT_HEADER 40 /* magic, perms, reserved, docs, pairs, first */
#define PAIR_BYTES 16
#define NO_CHECK UINT64_MAX

static char *path_in(const char *dir, const char *name)
{
    nfi_buf p;
    nfi_buf_init(&p);
    nfi_buf_printf(&p, "%s/%s", dir, name);
    return nfi_buf_take(&p, NULL);
}

static void params_line(const nf_dedup *d, char *out, size_t cap)
{
    /* samples=: how containment samples are chosen; an index with another
     * scheme would underestimate containment, so it is refused */
    snprintf(out, cap, "params method=%s perms=%d ngram=%d hamming=%d bands=%d rows=%d samples=winnow8",
             d->opt.method == NF_DEDUP_SIMHASH ? "simhash" : "minhash", d->opt.perms, d->opt.ngram,
             d->opt.hamming, d->bands, d->rows);
}

static const char *verify_hint(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "run `newsfold index verify %s` for details and `newsfold index repair %s` to drop the damaged part",
             dir, dir);
    return out;
}

/* ------------------------------------------------------------ the lock */

/* Takes DIR/LOCK (LOCK_EX or LOCK_SH), waiting for other holders. A shared
 * lock on a directory we cannot write proceeds unlocked (*fd = -1). */
static nf_status lock_index(const char *dir, int how, int *fd, nf_error *err)
{
    char *path = path_in(dir, LOCKFILE);
    if (!path)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0 && how == LOCK_SH)
        *fd = open(path, O_RDONLY | O_CLOEXEC);
    int open_errno = errno;
    free(path);
    if (*fd < 0)
        return how == LOCK_SH ? NF_OK
                              : nfi_fail(err, NF_ERR_IO, "%s: cannot create the lock file " LOCKFILE ": %s", dir,
                                         strerror(open_errno));
    while (flock(*fd, how) != 0) {
        if (errno != EINTR) {
            nf_status st = nfi_fail(err, NF_ERR_IO, "%s: cannot lock the index: %s", dir, strerror(errno));
            close(*fd);
            *fd = -1;
            return st;
        }
    }
    if (how == LOCK_EX) { /* say who holds it */
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n) {
            /* only messages use the pid: not worth failing for */
        }
    }
    return NF_OK;
}

static void unlock_index(int fd, bool exclusive)
{
    if (fd < 0)
        return;
    if (exclusive && ftruncate(fd, 0) != 0) {
        /* a stale pid only misleads a message */
    }
    close(fd); /* releases the flock */
}

int nf_index_busy(const char *dir, long *holder_pid)
{
    if (holder_pid)
        *holder_pid = 0;
    char *path = path_in(dir, LOCKFILE);
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    free(path);
    if (fd < 0)
        return 0;
    int busy = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        busy = errno == EWOULDBLOCK;
        char text[32] = "";
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        if (busy && holder_pid && n > 0)
            *holder_pid = strtol(text, NULL, 10);
    }
    close(fd);
    return busy;
}

void nfi_index_close(nf_dedup *d)
{
    if (d->index_locked)
        unlock_index(d->index_lock_fd, true);
    d->index_locked = false;
}

/* ------------------------------------------------------------ manifest */

typedef struct seg_entry {
    char name[96];
    char written[32];
    uint64_t docs, size, sum;
} seg_entry;

typedef struct manifest {
    char *text;         /* as read */
    size_t len;
    char params[256];
    int perms;
    seg_entry *segs;
    size_t n_segs, cap_segs;
    nfi_buf problems;   /* unreadable lines, one message per line */
    size_t n_problems;
    uint64_t next_seq;  /* one above the highest segment sequence number */
} manifest;

static void manifest_free(manifest *m)
{
    free(m->text);
    free(m->segs);
    nfi_buf_free(&m->problems);
    memset(m, 0, sizeof *m);
}

static bool parse_segment_line(const char *line, seg_entry *e)
{
    memset(e, 0, sizeof *e);
    int used = 0;
    if (sscanf(line, "segment %95s %" SCNu64 " %" SCNu64 " %" SCNx64 "%n", e->name, &e->docs, &e->size, &e->sum,
               &used) != 4 ||
        strchr(e->name, '/') || strncmp(e->name, "seg-", 4) != 0)
        return false;
    const char *w = strstr(line + used, "written=");
    if (w)
        sscanf(w + 8, "%31s", e->written);
    return true;
}

/* Reads DIR/MANIFEST. NF_END when there is none (a new index). strict: an
 * unreadable segment line is an error; otherwise it is noted in problems. */
static nf_status manifest_read(const char *dir, manifest *m, bool strict, nf_error *err)
{
    memset(m, 0, sizeof *m);
    nfi_buf_init(&m->problems);
    m->next_seq = 1;
    char *path = path_in(dir, MANIFEST);
    errno = 0;
    m->text = path ? nfi_read_file(path, &m->len) : NULL;
    free(path);
    if (!m->text)
        return errno == ENOENT ? NF_END : nfi_fail(err, NF_ERR_IO, "%s/" MANIFEST ": cannot read: %s", dir, strerror(errno));
    char *copy = nfi_strdup(m->text), *save = NULL;
    if (!copy)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    char *line = strtok_r(copy, "\n", &save);
    nf_status st = NF_OK;
    if (!line || strcmp(line, MANIFEST_MAGIC) != 0)
        st = nfi_fail(err, NF_ERR_PARSE, "%s: not a newsfold index (bad manifest header)", dir);
    line = st == NF_OK ? strtok_r(NULL, "\n", &save) : NULL;
    const char *perms = line ? strstr(line, " perms=") : NULL;
    if (st == NF_OK && (!line || strncmp(line, "params ", 7) != 0 || !perms ||
                        (m->perms = atoi(perms + 7)) < 1 || m->perms > NF_SKETCH_MAX_PERMS))
        st = nfi_fail(err, NF_ERR_PARSE, "%s/" MANIFEST ": unreadable options line", dir);
    if (st == NF_OK)
        snprintf(m->params, sizeof m->params, "%s", line);
    for (size_t no = 3; st == NF_OK && (line = strtok_r(NULL, "\n", &save)); no++) {
        seg_entry e;
        if (!parse_segment_line(line, &e)) {
            if (strict) {
                st = nfi_fail(err, NF_ERR_PARSE, "%s/" MANIFEST ": bad line %zu '%.80s'", dir, no, line);
                break;
            }
            nfi_buf_printf(&m->problems, MANIFEST " line %zu is unreadable: '%.80s'%c", no, line, '\0');
            m->n_problems++;
            continue;
        }
        seg_entry *grown = nfi_grow_array(m->segs, &m->cap_segs, m->n_segs + 1, sizeof *grown);
        if (!grown) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        m->segs = grown;
        m->segs[m->n_segs++] = e;
        uint64_t seq = strtoull(e.name + 4, NULL, 10);
        if (seq >= m->next_seq)
            m->next_seq = seq + 1;
    }
    free(copy);
    if (st == NF_OK && m->problems.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

static bool manifest_names(const manifest *m, const char *name)
{
    for (size_t i = 0; m && i < m->n_segs; i++)
        if (strcmp(m->segs[i].name, name) == 0)
            return true;
    return false;
}

/* Files a crashed writer may have left: temporaries and segments the
 * manifest does not name. Counts them; removes them when asked. */
static uint64_t leftovers(const char *dir, const manifest *m, bool remove)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return 0;
    uint64_t count = 0;
    struct dirent *e;
    while ((e = readdir(dd))) {
        size_t n = strlen(e->d_name);
        bool tmp = n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0;
        bool seg = strncmp(e->d_name, "seg-", 4) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".nfs") == 0;
        if (!tmp && !(seg && !manifest_names(m, e->d_name)))
            continue;
        count++;
        char *p = remove ? path_in(dir, e->d_name) : NULL;
        if (p)
            unlink(p);
        free(p);
    }
    closedir(dd);
    return count;
}

/* Whether DIR may become an index: nothing in it but what an index (or a
 * writer that crashed before its first manifest) holds. */
static bool may_hold_index(const char *dir)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return false;
    struct dirent *e;
    bool ok = true;
    while ((e = readdir(dd))) {
        const char *s = e->d_name;
        size_t n = strlen(s);
        if (strcmp(s, ".") && strcmp(s, "..") && strcmp(s, LOCKFILE) && strcmp(s, MANIFEST) &&
            !(n > 4 && strcmp(s + n - 4, ".tmp") == 0) && !(strncmp(s, "seg-", 4) == 0 && n > 4 && strcmp(s + n - 4, ".nfs") == 0))
            ok = false;
    }
    closedir(dd);
    return ok;
}

/* ------------------------------------------------------------ segments */

typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
} reader;

static void take(reader *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        if (out)
            memset(out, 0, n);
        r->p = r->end;
        return;
    }
    if (out)
        memcpy(out, r->p, n);
    r->p += n;
}

static uint32_t take_u32(reader *r)
{
    uint32_t v;
    take(r, &v, sizeof v);
    return v;
}

static uint64_t take_u64(reader *r)
{
    uint64_t v;
    take(r, &v, sizeof v);
    return v;
}

/* A segment file mapped in memory. */
typedef struct seg_file {
    unsigned char *data;
    size_t size;
} seg_file;

static void seg_unmap(seg_file *f)
{
    if (f->data)
        munmap(f->data, f->size);
    memset(f, 0, sizeof *f);
}

/* Maps DIR/NAME and checks its size and checksums against the manifest.
 * NF_ERR_PARSE with what is wrong (no path) when they do not match. */
static nf_status seg_map(const char *dir, const seg_entry *e, seg_file *f, nf_error *err)
{
    memset(f, 0, sizeof *f);
    char *path = path_in(dir, e->name);
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    free(path);
    if (fd < 0)
        return nfi_fail(err, NF_ERR_PARSE, "missing (%s)", strerror(errno));
    struct stat sb;
    nf_status st = NF_OK;
    if (fstat(fd, &sb) != 0)
        st = nfi_fail(err, NF_ERR_PARSE, "cannot be read (%s)", strerror(errno));
    else if ((uint64_t)sb.st_size != e->size)
        st = nfi_fail(err, NF_ERR_PARSE, "is %" PRIu64 " bytes, the manifest says %" PRIu64 " (truncated or overwritten)",
                      (uint64_t)sb.st_size, e->size);
    else if (e->size < SEGMENT_HEADER + 8)
        st = nfi_fail(err, NF_ERR_PARSE, "too short to be a segment (%" PRIu64 " bytes)", e->size);
    if (st == NF_OK) {
        void *map = mmap(NULL, (size_t)e->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
            st = nfi_fail(err, NF_ERR_PARSE, "cannot be read (%s)", strerror(errno));
        else
            *f = (seg_file){map, (size_t)e->size};
    }
    close(fd);
    uint64_t trailer = 0;
    if (st == NF_OK)
        memcpy(&trailer, f->data + f->size - 8, 8);
    if (st == NF_OK && (XXH64(f->data, f->size - 8, 0) != trailer || trailer != e->sum))
        st = nfi_fail(err, NF_ERR_PARSE, "checksum mismatch: the file is damaged");
    if (st != NF_OK)
        seg_unmap(f);
    return st;
}

typedef struct seg_view {
    uint64_t n_docs, n_pairs, first;
    const unsigned char *docs, *docs_end; /* the document records */
    const unsigned char *pairs;           /* n_pairs records of PAIR_BYTES */
} seg_view;

/* Called for each document record of a segment (load appends it). */
typedef nf_status (*doc_fn)(void *ctx, const char *id, const nfi_sketch *s, const uint32_t *sig, uint32_t text_len,
                            int32_t published, uint32_t flags, nf_error *err);

static nf_status walk_docs(reader *r, uint64_t n_docs, int perms, doc_fn fn, void *ctx, nf_error *err)
{
    uint32_t *sig = fn ? malloc((size_t)perms * sizeof *sig) : NULL;
    nfi_buf id;
    nfi_buf_init(&id);
    nf_status st = fn && !sig ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : NF_OK;
    for (uint64_t i = 0; i < n_docs && st == NF_OK; i++) {
        uint32_t id_len = take_u32(r);
        if (r->bad || id_len == 0 || id_len > (size_t)(r->end - r->p) || memchr(r->p, 0, id_len)) {
            st = nfi_fail(err, NF_ERR_PARSE, "document %" PRIu64 " has a bad id", i);
            break;
        }
        id.len = 0;
        if (fn)
            nfi_buf_append(&id, r->p, id_len);
        r->p += id_len;
        nfi_sketch s;
        memset(&s, 0, sizeof s);
        s.exact_lo = take_u64(r);
        s.exact_hi = take_u64(r);
        s.simhash = take_u64(r);
        s.n_shingles = take_u32(r);
        uint32_t text_len = take_u32(r);
        int32_t published = (int32_t)take_u32(r);
        uint32_t flags = take_u32(r);
        s.n_samples = take_u32(r);
        if (r->bad || s.n_samples > (size_t)(r->end - r->p) / 8) {
            st = nfi_fail(err, NF_ERR_PARSE, "document %" PRIu64 " is malformed", i);
            break;
        }
        if (!fn) {
            take(r, NULL, s.n_samples * 8 + (size_t)perms * 4);
        } else if (!(s.samples = malloc((s.n_samples ? s.n_samples : 1) * sizeof *s.samples))) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        } else {
            take(r, s.samples, s.n_samples * sizeof *s.samples);
            take(r, sig, (size_t)perms * sizeof *sig);
        }
        if (st == NF_OK && r->bad)
            st = nfi_fail(err, NF_ERR_PARSE, "document %" PRIu64 " is truncated", i);
        if (st == NF_OK && fn)
            st = id.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory")
                        : fn(ctx, id.data, &s, sig, text_len, published, flags, err);
        free(s.samples);
    }
    free(sig);
    nfi_buf_free(&id);
    return st;
}

/* Checks a mapped segment's structure: header, documents (passed to fn when
 * given), pairs. expect_first / expect_docs: NO_CHECK or what the manifest
 * implies. NF_ERR_PARSE says what is wrong. */
static nf_status seg_parse(const seg_file *f, int perms, uint64_t expect_first, uint64_t expect_docs, seg_view *v,
                           doc_fn fn, void *ctx, nf_error *err)
{
    reader r = {f->data, f->data + f->size - 8, false};
    char magic[8];
    take(&r, magic, 8);
    uint32_t seg_perms = take_u32(&r);
    take_u32(&r); /* reserved */
    memset(v, 0, sizeof *v);
    v->n_docs = take_u64(&r);
    v->n_pairs = take_u64(&r);
    v->first = take_u64(&r);
    if (memcmp(magic, SEGMENT_MAGIC, 8) != 0)
        return nfi_fail(err, NF_ERR_PARSE, "not a segment (bad magic)");
    if (seg_perms != (uint32_t)perms)
        return nfi_fail(err, NF_ERR_PARSE, "built with %u permutations, the index uses %d", seg_perms, perms);
    if (expect_docs != NO_CHECK && v->n_docs != expect_docs)
        return nfi_fail(err, NF_ERR_PARSE, "holds %" PRIu64 " documents, the manifest says %" PRIu64, v->n_docs,
                        expect_docs);
    if (expect_first != NO_CHECK && v->first != expect_first)
        return nfi_fail(err, NF_ERR_PARSE,
                        "numbers its documents from %" PRIu64 " but %" PRIu64
                        " documents precede it (written by a concurrent writer?)",
                        v->first, expect_first);
    if (v->first > UINT32_MAX || v->n_docs > UINT32_MAX - v->first)
        return nfi_fail(err, NF_ERR_PARSE, "document numbers out of range");
    v->docs = r.p;
    nf_status st = walk_docs(&r, v->n_docs, perms, fn, ctx, err);
    if (st != NF_OK)
        return st;
    v->docs_end = v->pairs = r.p;
    if ((size_t)(r.end - r.p) / PAIR_BYTES < v->n_pairs || (size_t)(r.end - r.p) != v->n_pairs * PAIR_BYTES)
        return nfi_fail(err, NF_ERR_PARSE, "%zu bytes of pair records, %" PRIu64 " pairs expected", (size_t)(r.end - r.p),
                        v->n_pairs);
    uint64_t limit = v->first + v->n_docs;
    for (uint64_t k = 0; k < v->n_pairs; k++) {
        uint32_t a = take_u32(&r), b = take_u32(&r), rel = take_u32(&r);
        take(&r, NULL, 4);
        if (a >= limit || b >= limit || a == b || (a < v->first && b < v->first) || rel < NF_REL_EXACT ||
            rel > NF_REL_CONTAINED)
            return nfi_fail(err, NF_ERR_PARSE, "pair record %" PRIu64 " is invalid", k);
    }
    return NF_OK;
}

static nfi_edge pair_at(const seg_view *v, uint64_t k)
{
    const unsigned char *p = v->pairs + k * PAIR_BYTES;
    uint32_t a, b, rel;
    nfi_edge e;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    memcpy(&rel, p + 8, 4);
    memcpy(&e.score, p + 12, 4);
    e.a = a;
    e.b = b;
    e.relation = (uint8_t)rel;
    return e;
}

/* ------------------------------------------------------------ loading */

static nf_status append_doc(void *ctx, const char *id, const nfi_sketch *s, const uint32_t *sig, uint32_t text_len,
                            int32_t published, uint32_t flags, nf_error *err)
{
    return nfi_dedup_append(ctx, id, s, sig, text_len, published, flags | DOC_FROM_INDEX, err);
}

static nf_status load_segment(nf_dedup *d, const char *dir, const seg_entry *e, nf_error *err)
{
    seg_file f;
    seg_view v;
    nf_status st = seg_map(dir, e, &f, err);
    if (st == NF_OK)
        st = seg_parse(&f, d->opt.perms, d->n_docs, e->docs, &v, append_doc, d, err);
    for (uint64_t k = 0; st == NF_OK && k < v.n_pairs; k++) {
        nfi_edge *g = nfi_grow_array(d->index_edges, &d->cap_index_edges, d->n_index_edges + 1, sizeof *g);
        if (!g) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        d->index_edges = g;
        d->index_edges[d->n_index_edges++] = pair_at(&v, k);
    }
    seg_unmap(&f);
    if (st == NF_ERR_PARSE) {
        char what[NF_ERROR_MESSAGE_MAX], hint[NF_ERROR_MESSAGE_MAX];
        snprintf(what, sizeof what, "%s", err ? err->message : "");
        nfi_fail(err, st, "%s/%s: index segment is corrupt: %s; %s", dir, e->name, what,
                 verify_hint(dir, hint, sizeof hint));
    }
    d->index_segments++;
    return st;
}

/* Creates DIR when missing; refuses a directory that holds other things. */
static nf_status prepare_dir(const char *dir, nf_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return nfi_fail(err, NF_ERR_IO, "%s: cannot create index directory: %s", dir, strerror(errno));
        return NF_OK;
    }
    if (!S_ISDIR(sb.st_mode))
        return nfi_fail(err, NF_ERR_ARG, "%s: not a directory", dir);
    if (!may_hold_index(dir))
        return nfi_fail(err, NF_ERR_ARG, "%s: not a newsfold index (no " MANIFEST " and other files), refusing to use it",
                        dir);
    return NF_OK;
}

nf_status nfi_index_load(nf_dedup *d, nf_error *err)
{
    const char *dir = d->opt.index_dir;
    nf_status st = prepare_dir(dir, err);
    if (st == NF_OK && (st = lock_index(dir, LOCK_EX, &d->index_lock_fd, err)) == NF_OK)
        d->index_locked = true;
    if (st != NF_OK)
        return st;
    manifest m;
    st = manifest_read(dir, &m, true, err);
    if (st == NF_END) { /* a new index (or a first run that crashed) */
        leftovers(dir, NULL, true);
        manifest_free(&m);
        return NF_OK;
    }
    char expect[256];
    params_line(d, expect, sizeof expect);
    if (st == NF_OK && strcmp(m.params, expect) != 0)
        st = nfi_fail(err, NF_ERR_ARG, "%s: index built with other options (%s); this run uses %s", dir, m.params,
                      expect);
    if (st == NF_OK)
        leftovers(dir, &m, true);
    for (size_t i = 0; i < m.n_segs && st == NF_OK; i++)
        st = load_segment(d, dir, &m.segs[i], err);
    manifest_free(&m);
    d->n_index_docs = d->n_docs;
    return st;
}

/* ------------------------------------------------------------ writing */

static nf_status write_file(const char *dir, const char *name, const void *data, size_t len, nf_error *err)
{
    char *path = path_in(dir, name);
    nf_outfile *o = NULL;
    nf_status st = path ? nf_outfile_open(&o, path, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    free(path);
    if (st != NF_OK)
        return st;
    if (len && fwrite(data, 1, len, nf_outfile_stream(o)) != len) {
        st = nfi_fail(err, NF_ERR_IO, "%s/%s: write failed: %s", dir, name, strerror(errno));
        nf_outfile_abort(o);
        return st;
    }
    return nf_outfile_commit(o, err);
}

static void put(nfi_buf *b, const void *p, size_t n) { nfi_buf_append(b, p, n); }
static void put_u32(nfi_buf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(nfi_buf *b, uint64_t v) { put(b, &v, sizeof v); }

static void put_header(nfi_buf *b, int perms, uint64_t n_docs, uint64_t n_pairs, uint64_t first)
{
    put(b, SEGMENT_MAGIC, 8);
    put_u32(b, (uint32_t)perms);
    put_u32(b, 0);
    put_u64(b, n_docs);
    put_u64(b, n_pairs);
    put_u64(b, first);
}

static void put_pair(nfi_buf *b, uint32_t a, uint32_t bb, uint32_t relation, float score)
{
    put_u32(b, a);
    put_u32(b, bb);
    put_u32(b, relation);
    put(b, &score, sizeof score);
}

static nf_status read_back(FILE *f, uint64_t off, void *out, size_t len, nf_error *err)
{
    if (len == 0)
        return NF_OK;
    if (fflush(f) != 0 || pread(fileno(f), out, len, (off_t)off) != (ssize_t)len)
        return nfi_fail(err, NF_ERR_IO, "cannot read back a temporary file");
    return NF_OK;
}

static nf_status encode_segment(nf_dedup *d, const nf_dedup_result *res, nfi_buf *b, nf_error *err)
{
    size_t perms = (size_t)d->opt.perms, first = d->n_index_docs;
    size_t n_new_edges = 0;
    for (size_t k = 0; k < res->n_pairs; k++)
        n_new_edges += res->pairs[k].a >= first || res->pairs[k].b >= first;
    put_header(b, d->opt.perms, d->n_docs - first, n_new_edges, first);
    uint32_t *sig = malloc(perms * sizeof *sig);
    nf_status st = sig ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    uint64_t sample_off = 0; /* each document's samples follow the ones before */
    for (size_t i = 0; i < first; i++)
        sample_off += (uint64_t)d->docs[i].n_samples * 8;
    for (size_t i = first; i < d->n_docs && st == NF_OK; i++) {
        const doc_meta *m = &d->docs[i];
        const char *id = res->ids + m->id_off; /* the stage's ids moved to the result */
        put_u32(b, (uint32_t)strlen(id));
        put(b, id, strlen(id));
        put_u64(b, m->exact_lo);
        put_u64(b, m->exact_hi);
        put_u64(b, d->simhashes ? d->simhashes[i] : 0); /* 0 for MinHash */
        put_u32(b, m->n_shingles);
        put_u32(b, m->text_len);
        put_u32(b, (uint32_t)m->published);
        put_u32(b, m->flags & ~(uint32_t)DOC_FROM_INDEX);
        put_u32(b, m->n_samples);
        if (!nfi_buf_reserve(b, (size_t)m->n_samples * 8)) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        st = read_back(d->sample_file, sample_off, b->data + b->len, (size_t)m->n_samples * 8, err);
        b->len += (size_t)m->n_samples * 8;
        sample_off += (uint64_t)m->n_samples * 8;
        if (st == NF_OK)
            st = read_back(d->sig_file, i * perms * sizeof *sig, sig, perms * sizeof *sig, err);
        put(b, sig, perms * sizeof *sig);
    }
    free(sig);
    for (size_t k = 0; k < res->n_pairs && st == NF_OK; k++) {
        const nf_dedup_pair *p = &res->pairs[k];
        if (p->a >= first || p->b >= first)
            put_pair(b, p->a, p->b, (uint32_t)p->relation, (float)p->score);
    }
    if (st == NF_OK && b->oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

/* Appends the trailing checksum and writes the segment under a fresh name. */
static nf_status commit_segment(const char *dir, nfi_buf *seg, uint64_t seq, seg_entry *e, nf_error *err)
{
    uint64_t sum = XXH64(seg->data, seg->len, 0);
    put_u64(seg, sum);
    if (seg->oom)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    uint64_t rnd;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = XXH64(seg->data, seg->len, (uint64_t)time(NULL) ^ (uint64_t)getpid());
    snprintf(e->name, sizeof e->name, "seg-%06" PRIu64 "-%016" PRIx64 ".nfs", seq, rnd);
    e->size = seg->len;
    e->sum = sum;
    return write_file(dir, e->name, seg->data, seg->len, err);
}

static void manifest_line(nfi_buf *b, const seg_entry *e)
{
    nfi_buf_printf(b, "segment %s %" PRIu64 " %" PRIu64 " %016" PRIx64, e->name, e->docs, e->size, e->sum);
    if (e->written[0])
        nfi_buf_printf(b, " written=%s", e->written);
    nfi_buf_putc(b, '\n');
}

nf_status nfi_index_save(nf_dedup *d, const nf_dedup_result *res, nf_error *err)
{
    if (d->n_docs == d->n_index_docs)
        return NF_OK; /* nothing new */
    const char *dir = d->opt.index_dir;
    manifest m;
    nf_status st = manifest_read(dir, &m, true, err); /* under our lock: what we loaded */
    nfi_buf seg, text;
    nfi_buf_init(&seg);
    nfi_buf_init(&text);
    if (st == NF_END) {
        char params[256];
        params_line(d, params, sizeof params);
        nfi_buf_printf(&text, "%s\n%s\n", MANIFEST_MAGIC, params);
        st = NF_OK;
    } else if (st == NF_OK) {
        nfi_buf_append(&text, m.text, m.len);
    }
    seg_entry e;
    memset(&e, 0, sizeof e);
    e.docs = d->n_docs - d->n_index_docs;
    time_t now = time(NULL);
    struct tm tm;
    strftime(e.written, sizeof e.written, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    if (st == NF_OK)
        st = encode_segment(d, res, &seg, err);
    if (st == NF_OK)
        st = commit_segment(dir, &seg, m.next_seq, &e, err);
    if (st == NF_OK) {
        manifest_line(&text, &e);
        st = text.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : write_file(dir, MANIFEST, text.data, text.len, err);
    }
    nfi_buf_free(&text);
    nfi_buf_free(&seg);
    manifest_free(&m);
    return st;
}

/* ------------------------------------------------------------ verify, repair, stats */

void nf_index_report_free(nf_index_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_segments; i++) {
        free(r->segments[i].name);
        free(r->segments[i].written);
        free(r->segments[i].problem);
    }
    free(r->segments);
    for (size_t i = 0; i < r->n_problems; i++)
        free(r->problems[i]);
    free(r->problems);
    free(r->options);
    memset(r, 0, sizeof *r);
}

/* Fills the report's segment list and manifest problems from m. */
static nf_status report_init(nf_index_report *out, const manifest *m, nf_error *err)
{
    out->options = nfi_strdup(m->params);
    out->segments = calloc(m->n_segs ? m->n_segs : 1, sizeof *out->segments);
    out->problems = calloc(m->n_problems ? m->n_problems : 1, sizeof *out->problems);
    bool ok = out->options && out->segments && out->problems;
    for (size_t i = 0; ok && i < m->n_segs; i++) {
        nf_index_segment *s = &out->segments[out->n_segments++];
        s->name = nfi_strdup(m->segs[i].name);
        s->written = nfi_strdup(m->segs[i].written);
        s->docs = m->segs[i].docs;
        s->bytes = m->segs[i].size;
        ok = s->name && s->written;
    }
    const char *p = m->problems.data;
    for (size_t i = 0; ok && i < m->n_problems; i++, p += strlen(p) + 1)
        ok = (out->problems[out->n_problems++] = nfi_strdup(p)) != NULL;
    out->n_bad = m->n_problems;
    out->bytes = m->len;
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

static nf_status note_problem(nf_index_segment *s, nf_index_report *out, const nf_error *why, nf_error *err)
{
    out->n_bad++;
    s->problem = nfi_strdup(why->message);
    return s->problem ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

/* Opens the index for a tool: lock, manifest, report skeleton. */
static nf_status open_for_tool(const char *dir, int how, int *fd, manifest *m, nf_index_report *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    memset(m, 0, sizeof *m);
    *fd = -1;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return nfi_fail(err, NF_ERR_IO, "%s: no such index directory", dir);
    char *mpath = path_in(dir, MANIFEST);
    bool has_manifest = mpath && stat(mpath, &sb) == 0;
    free(mpath);
    if (!has_manifest) /* checked before locking: no LOCK file left in a folder that is no index */
        return nfi_fail(err, NF_ERR_PARSE, "%s: not a newsfold index (no " MANIFEST ")", dir);
    nf_status st = lock_index(dir, how, fd, err);
    if (st == NF_OK)
        st = manifest_read(dir, m, false, err);
    if (st == NF_END)
        st = nfi_fail(err, NF_ERR_PARSE, "%s: not a newsfold index (no " MANIFEST ")", dir);
    if (st == NF_OK)
        st = report_init(out, m, err);
    if (st == NF_OK)
        out->leftovers = leftovers(dir, m, false);
    if (st != NF_OK) {
        unlock_index(*fd, how == LOCK_EX);
        manifest_free(m);
        nf_index_report_free(out);
    }
    return st;
}

nf_status nf_index_verify(const char *dir, nf_index_report *out, nf_error *err)
{
    int fd;
    manifest m;
    nf_status st = open_for_tool(dir, LOCK_SH, &fd, &m, out, err);
    uint64_t first = 0;
    for (size_t i = 0; st == NF_OK && i < m.n_segs; i++) {
        nf_index_segment *s = &out->segments[i];
        nf_error why = {NF_OK, ""};
        seg_file f;
        seg_view v;
        nf_status found = seg_map(dir, &m.segs[i], &f, &why);
        if (found == NF_OK)
            found = seg_parse(&f, m.perms, first, m.segs[i].docs, &v, NULL, NULL, &why);
        seg_unmap(&f);
        first += m.segs[i].docs;
        if (found == NF_OK) {
            s->pairs = v.n_pairs;
            out->docs += v.n_docs;
            out->pairs += v.n_pairs;
            out->bytes += m.segs[i].size;
        } else {
            st = found == NF_ERR_PARSE ? note_problem(s, out, &why, err) : nfi_fail(err, found, "%s", why.message);
        }
    }
    unlock_index(fd, false);
    manifest_free(&m);
    if (st != NF_OK)
        nf_index_report_free(out);
    return st;
}

nf_status nf_index_stats(const char *dir, nf_index_report *out, nf_error *err)
{
    int fd;
    manifest m;
    nf_status st = open_for_tool(dir, LOCK_SH, &fd, &m, out, err);
    for (size_t i = 0; st == NF_OK && i < m.n_segs; i++) {
        nf_index_segment *s = &out->segments[i];
        char *path = path_in(dir, m.segs[i].name);
        unsigned char head[SEGMENT_HEADER];
        struct stat sb;
        FILE *f = path ? fopen(path, "rb") : NULL;
        free(path);
        bool ok = f && fstat(fileno(f), &sb) == 0 && (uint64_t)sb.st_size == m.segs[i].size &&
                  fread(head, 1, sizeof head, f) == sizeof head && memcmp(head, SEGMENT_MAGIC, 8) == 0;
        if (f)
            fclose(f);
        if (ok) {
            memcpy(&s->pairs, head + 24, 8);
            out->docs += s->docs;
            out->pairs += s->pairs;
            out->bytes += s->bytes;
        } else {
            nf_error why = {NF_ERR_PARSE, "missing, truncated or not a segment (run `newsfold index verify`)"};
            st = note_problem(s, out, &why, err);
        }
    }
    unlock_index(fd, false);
    manifest_free(&m);
    if (st != NF_OK)
        nf_index_report_free(out);
    return st;
}

/* ------------------------------------------------------------ repair */

/* Document numbers as the old segments wrote them -> numbers after repair:
 * one range per kept segment. A number falls in the latest range holding it
 * (a later segment numbered over an earlier one saw its own documents
 * there); pairs mostly touch recent segments, so the search runs backwards.
 * Ranges, not a table: a damaged header cannot make repair allocate for
 * documents that do not exist. */
typedef struct renumber_range {
    uint64_t from, n, to;
} renumber_range;

typedef struct renumber {
    renumber_range *r;
    size_t n, cap;
    uint64_t kept; /* documents kept so far */
} renumber;

#define DROPPED UINT32_MAX

static nf_status renumber_add(renumber *rn, const seg_view *v, nf_error *err)
{
    renumber_range *g = nfi_grow_array(rn->r, &rn->cap, rn->n + 1, sizeof *g);
    if (!g)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    rn->r = g;
    rn->r[rn->n++] = (renumber_range){v->first, v->n_docs, rn->kept};
    rn->kept += v->n_docs;
    return NF_OK;
}

static uint32_t renumbered(const renumber *rn, uint32_t old)
{
    for (size_t i = rn->n; i-- > 0;)
        if (old >= rn->r[i].from && old - rn->r[i].from < rn->r[i].n)
            return (uint32_t)(rn->r[i].to + (old - rn->r[i].from));
    return DROPPED;
}

/* Rewrites one sound segment under the new numbering when it changes;
 * e is updated to the file now holding it. *dropped_pairs counts pairs lost. */
static nf_status renumber_segment(const char *dir, const manifest *m, const seg_view *v, const renumber *rn,
                                  uint64_t new_first, seg_entry *e, uint64_t *seq, uint64_t *dropped_pairs,
                                  nf_error *err)
{
    bool same = new_first == v->first;
    uint64_t kept_pairs = 0;
    for (uint64_t k = 0; k < v->n_pairs; k++) {
        nfi_edge p = pair_at(v, k);
        uint32_t a = renumbered(rn, p.a), b = renumbered(rn, p.b);
        bool keep = a != DROPPED && b != DROPPED;
        kept_pairs += keep;
        same = same && keep && a == p.a && b == p.b;
    }
    *dropped_pairs += v->n_pairs - kept_pairs;
    if (same)
        return NF_OK;
    nfi_buf seg;
    nfi_buf_init(&seg);
    put_header(&seg, m->perms, v->n_docs, kept_pairs, new_first);
    put(&seg, v->docs, (size_t)(v->docs_end - v->docs));
    for (uint64_t k = 0; k < v->n_pairs; k++) {
        nfi_edge p = pair_at(v, k);
        uint32_t a = renumbered(rn, p.a), b = renumbered(rn, p.b);
        if (a != DROPPED && b != DROPPED)
            put_pair(&seg, a, b, p.relation, p.score);
    }
    nf_status st = commit_segment(dir, &seg, (*seq)++, e, err);
    nfi_buf_free(&seg);
    return st;
}

/* Removes segment files the new manifest no longer names. */
static void remove_replaced(const char *dir, const manifest *old, const seg_entry *kept, size_t n_kept)
{
    for (size_t i = 0; i < old->n_segs; i++) {
        bool named = false;
        for (size_t j = 0; j < n_kept && !named; j++)
            named = strcmp(kept[j].name, old->segs[i].name) == 0;
        char *p = named ? NULL : path_in(dir, old->segs[i].name);
        if (p)
            unlink(p);
        free(p);
    }
}

nf_status nf_index_repair(const char *dir, nf_index_report *out, nf_error *err)
{
    int fd;
    manifest m;
    nf_status st = open_for_tool(dir, LOCK_EX, &fd, &m, out, err);
    if (st != NF_OK)
        return st;
    renumber rn = {NULL, 0, 0, 0};
    seg_entry *kept = calloc(m.n_segs ? m.n_segs : 1, sizeof *kept);
    size_t n_kept = 0;
    uint64_t seq = m.next_seq, first = 0;
    bool changed = m.n_problems > 0;
    if (!kept)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < m.n_segs; i++) {
        nf_index_segment *s = &out->segments[i];
        nf_error why = {NF_OK, ""};
        seg_file f;
        seg_view v;
        nf_status found = seg_map(dir, &m.segs[i], &f, &why);
        if (found == NF_OK) /* the numbering is checked, but a segment numbered oddly can be renumbered */
            found = seg_parse(&f, m.perms, NO_CHECK, m.segs[i].docs, &v, NULL, NULL, &why);
        if (found == NF_OK && v.first != first) {
            nf_error odd;
            nfi_fail(&odd, NF_ERR_PARSE, "numbers its documents from %" PRIu64 " but %" PRIu64
                     " documents precede it (renumbered)", v.first, first);
            st = note_problem(s, out, &odd, err);
        }
        first += m.segs[i].docs;
        if (found == NF_OK && st == NF_OK) {
            uint64_t new_first = rn.kept;
            kept[n_kept] = m.segs[i];
            st = renumber_add(&rn, &v, err);
            if (st == NF_OK)
                st = renumber_segment(dir, &m, &v, &rn, new_first, &kept[n_kept], &seq, &out->dropped_pairs, err);
            changed |= strcmp(kept[n_kept].name, m.segs[i].name) != 0;
            out->bytes += kept[n_kept].size;
            s->pairs = v.n_pairs;
            out->docs += v.n_docs;
            n_kept++;
        } else if (st == NF_OK && found == NF_ERR_PARSE) {
            st = note_problem(s, out, &why, err);
            s->dropped = 1;
            changed = true;
            out->dropped_docs += m.segs[i].docs;
        } else if (st == NF_OK) {
            st = nfi_fail(err, found, "%s", why.message);
        }
        seg_unmap(&f);
    }
    if (st == NF_OK && changed) {
        nfi_buf text;
        nfi_buf_init(&text);
        nfi_buf_printf(&text, "%s\n%s\n", MANIFEST_MAGIC, m.params);
        for (size_t j = 0; j < n_kept; j++)
            manifest_line(&text, &kept[j]);
        st = text.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : write_file(dir, MANIFEST, text.data, text.len, err);
        nfi_buf_free(&text);
        if (st == NF_OK)
            remove_replaced(dir, &m, kept, n_kept);
    }
    if (st == NF_OK) {
        manifest km = {.segs = kept, .n_segs = n_kept};
        leftovers(dir, &km, true);
        out->pairs = 0;
        for (size_t i = 0; i < m.n_segs; i++)
            out->pairs += out->segments[i].dropped ? 0 : out->segments[i].pairs;
        out->pairs -= out->dropped_pairs;
    }
    free(kept);
    free(rn.r);
    unlock_index(fd, true);
    manifest_free(&m);
    if (st != NF_OK)
        nf_index_report_free(out);
    return st;
}
