/*
 * newsfold.h - the public API of libnewsfold.
 *
 * newsfold folds a flood of raw news pages into stories. Data flows one way:
 *
 *   ingest -> clean -> normalize -> sketch -> link -> cluster -> report
 *
 * Each stage takes plain structs and returns plain structs. Every function
 * that can fail returns an nf_status and, when given one, fills an nf_error
 * with a message that names the file and line or record at fault. The library
 * never exits or aborts; it never writes to stdout or stderr.
 *
 * Ownership: a struct returned through an out-parameter belongs to the
 * caller, who releases it with the matching *_free / *_close function.
 * Strings inside a struct belong to that struct.
 *
 * Thread safety: distinct objects may be used from distinct threads. One
 * object (reader, cleaner) is not safe to share between threads unless its
 * comment says so.
 */
#ifndef NEWSFOLD_H
#define NEWSFOLD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* FILE, for nf_outfile_stream */

#ifdef __cplusplus
extern "C" {
#endif

#define NF_VERSION_MAJOR 0
#define NF_VERSION_MINOR 1
#define NF_VERSION_PATCH 0
#define NF_VERSION_STRING "0.1.0"

const char *nf_version(void);

/* ---------------------------------------------------------------- errors */

typedef enum nf_status {
    NF_OK = 0,
    NF_END = 1,          /* reader: no more documents */
    NF_SKIPPED = 2,      /* reader: one record was skipped; error says why */
    NF_ERR_ARG = -1,     /* invalid argument */
    NF_ERR_IO = -2,      /* file could not be opened or read */
    NF_ERR_NOMEM = -3,   /* allocation failed */
    NF_ERR_PARSE = -4,   /* malformed input */
    NF_ERR_RESOURCE = -5 /* a data file the library needs is missing */
} nf_status;

#define NF_ERROR_MESSAGE_MAX 512

typedef struct nf_error {
    nf_status code;
    char message[NF_ERROR_MESSAGE_MAX];
} nf_error;

/* --------------------------------------------------------------- ingest */

/* One input document. Any field but text may be NULL. */
typedef struct nf_doc {
    char *id;        /* given, or the path relative to the input root */
    char *title;
    char *text;      /* valid UTF-8 after ingest (bad bytes become U+FFFD) */
    size_t text_len;
    char *lang;      /* as given by the input, ISO 639-1 when known */
    char *source;
    char *published; /* as given by the input */
    char *url;
    char *origin;    /* the file it came from ("-" for stdin) */
    uint64_t record; /* 1-based line (JSONL) or record (JSON array) number */
    size_t invalid_utf8; /* bytes sequences replaced while reading */
    int source_from_path; /* 1 when source was derived from the directory */
    struct nf_extract_info *extract; /* HTML and WARC input only, else NULL */
} nf_doc;

void nf_doc_free(nf_doc *doc);

typedef struct nf_reader nf_reader;

typedef struct nf_reader_options {
    size_t max_record_bytes; /* larger records are skipped; 0 = 64 MiB */
    size_t max_page_bytes;   /* larger HTML pages / WARC payloads are skipped; 0 = 20 MiB */
    int defer_extract;       /* 1: HTML comes back unextracted; see nf_doc_extract */
} nf_reader_options;

/*
 * Opens a reader over files and directories (walked recursively, in byte
 * order of names, so the document order is reproducible). "-" reads JSONL
 * from stdin. Recognised: .txt .json .jsonl .html .htm .warc, each
 * optionally .gz (HTML pages and WARC records are extracted to text, see
 * nf_extract_html).
 * Unknown extensions are skipped and reported through nf_reader_next.
 */
nf_status nf_reader_open(nf_reader **out, const char *const *paths, size_t n_paths,
                         const nf_reader_options *options, nf_error *err);

/*
 * Reads the next document into *doc (which the caller then owns).
 * Returns NF_OK, NF_END, or NF_SKIPPED when a record or file was skipped
 * (err says which and why; call again to go on). Other values are fatal.
 */
nf_status nf_reader_next(nf_reader *reader, nf_doc *doc, nf_error *err);

/* Bytes of input consumed so far and in all (for progress; total is 0 when
 * unknown, e.g. for stdin). Compressed files count their on-disk size. */
uint64_t nf_reader_bytes_done(const nf_reader *reader);
uint64_t nf_reader_bytes_total(const nf_reader *reader);
/* Records passed over on purpose, not as errors (WARC requests, metadata,
 * non-HTML responses ...): counted, never reported one by one. */
uint64_t nf_reader_records_ignored(const nf_reader *reader);
void nf_reader_close(nf_reader *reader);

/*
 * Parses one JSON object (a JSONL line or an element of a JSON array) into
 * *doc. origin and record are copied into the doc and used in messages.
 */
nf_status nf_doc_from_json(const char *json, size_t len, const char *origin, uint64_t record,
                           nf_doc *doc, nf_error *err);

/* ------------------------------------------------------------ HTML pages */

/* What the HTML extractor knew about a page (nf_doc.extract). */
typedef struct nf_extract_info {
    char *author;            /* byline, when the page names one */
    char *fetched;           /* WARC-Date / HTTP Date as given, or NULL */
    char charset[40];        /* encoding the page was decoded from */
    const char *date_source; /* static: "json-ld", "meta", "time", "url", "http" or NULL */
    uint64_t bytes_in;       /* page bytes before decoding (HTTP payload for WARC) */
    uint64_t offset;         /* WARC: byte offset of the record */
    int from_warc;           /* 1: the page came from a WARC record */
    uint32_t paragraphs_kept, paragraphs_dropped;
    int used_jsonld;         /* 1: a JSON-LD articleBody guided or gave the text */
    int lang_detected;       /* 1: lang came from detection, not the page */
    /* set while extraction is deferred (nf_reader_options.defer_extract) */
    char *raw;
    size_t raw_len;
    char *content_type; /* HTTP Content-Type, for its charset */
    char *last_modified;
} nf_extract_info;

typedef struct nf_langid nf_langid;

typedef struct nf_extract_options {
    const char *url;           /* where the page came from, or NULL */
    const char *content_type;  /* HTTP Content-Type (charset), or NULL */
    const char *last_modified; /* HTTP Last-Modified: a last-resort date, or NULL */
    nf_langid *langid;         /* when set, detects lang if the page declares none */
} nf_extract_options;

/*
 * Extracts the main text and metadata of one HTML page (any encoding):
 * fills doc's title, text (paragraphs separated by blank lines, headings on
 * lines of their own), url (canonical when given), published (YYYY-MM-DD),
 * lang, source (site name) and extract (author, statistics); id, origin and
 * record are left to the caller. Returns NF_OK, NF_SKIPPED when the page
 * cannot be parsed (err says why) or NF_ERR_NOMEM. Reentrant.
 */
nf_status nf_extract_html(const char *page, size_t len, const nf_extract_options *options,
                          nf_doc *doc, nf_error *err);

/* Extraction of a batch of unextracted pages on several threads, with one
 * language identifier each (none when detect_lang is 0). nf_extractor_run
 * sets status[i] (NF_OK, or NF_SKIPPED with errors[i] naming the page) for
 * every page; it returns an error only when memory runs out. The result
 * does not depend on the thread count. */
typedef struct nf_extractor nf_extractor;
nf_status nf_extractor_new(nf_extractor **out, int threads, int detect_lang, nf_error *err);
nf_status nf_extractor_run(nf_extractor *x, nf_doc *docs, size_t n, nf_status *status, nf_error *errors,
                           nf_error *err);
void nf_extractor_free(nf_extractor *x);

/* Extracts a document the reader returned unextracted (defer_extract);
 * NF_OK and nothing done for any other document. Documents are independent,
 * so several may be extracted on different threads at once. */
nf_status nf_doc_extract(nf_doc *doc, nf_langid *langid, nf_error *err);

/* --------------------------------------------------------- clean/normalize */

enum nf_token_kind { NF_TOKEN_WORD = 0, NF_TOKEN_NUMBER = 1, NF_TOKEN_IDEOGRAPHIC = 2 };
enum nf_token_flags {
    NF_TOKEN_CAPITALIZED = 1, /* first letter upper-case in the text */
    NF_TOKEN_SENTENCE_START = 2, /* first word of a line or sentence */
    NF_TOKEN_NON_LATIN = 4       /* letters outside Latin script */
};

/*
 * A token. start/len are byte offsets into the cleaned text; norm and stem
 * are offsets into the owning nf_clean_doc's pool (NUL-terminated there).
 * norm is NFKC + case folded; stem is the Snowball stem of norm where the
 * language has a stemmer, else equal to norm.
 */
typedef struct nf_token {
    uint32_t start, len;
    uint32_t norm, norm_len;
    uint32_t stem, stem_len;
    uint8_t kind;
    uint8_t flags;
} nf_token;

typedef struct nf_removed_line {
    uint32_t line;      /* 1-based line number in the input text */
    const char *reason; /* static string, e.g. "navigation" */
    char *text;
} nf_removed_line;

typedef struct nf_clean_doc {
    nf_doc doc;             /* the input document; doc.text is the raw text */
    char *title;            /* given title, or derived from the text */
    char *text;             /* cleaned text: kept lines, blank lines collapsed */
    size_t text_len;
    char lang[12];          /* ISO 639-1/3 code, "und" when unknown */
    double lang_confidence; /* 1.0 when given by the input */
    int lang_detected;      /* 1 when lang came from detection */
    char published[11];     /* YYYY-MM-DD, or "" when unknown */
    nf_removed_line *removed;
    size_t n_removed;
    nf_token *tokens;
    size_t n_tokens;
    char *pool; /* token strings */
    size_t pool_len;
    uint64_t *units; /* token_hashes only: duplicate detection's units, see nf_clean_options */
    size_t n_units;
    uint64_t norms_hash[2]; /* token_hashes only: XXH3-128 (low, high) of the norms, each
                               followed by a space */
} nf_clean_doc;

void nf_clean_doc_free(nf_clean_doc *cd);

typedef struct nf_cleaner nf_cleaner;

typedef struct nf_clean_options {
    int detect_lang;   /* 1: detect even when the input gives lang */
    int threads;       /* workers used by nf_clean_batch; 0 = 1 */
    int keep_boilerplate; /* 1: report but do not drop boilerplate lines */
    int stem;          /* 1 (default through nf_clean_options_default); 0: stem = norm */
    int dates;         /* 1 (default): find the publication date; 0: published = "" unless given */
    int lang;          /* 1 (default): identify the language; 0: lang as given, else "und"
                          (no detection even with detect_lang); segmentation is per character
                          by script either way, so tokens do not depend on it except for the
                          English apostrophe rule */
    int token_count_only; /* 1: only n_tokens is set (tokens and pool stay NULL), for callers
                             that write the count alone; 0 (default): every token, with norm
                             and stem */
    int token_hashes; /* 1: what duplicate detection (nf_dedup_add) needs instead of tokens:
                         tokens, pool and text stay NULL (n_tokens and text_len are set),
                         units holds one 64-bit
                         hash per unit (XXH3-64 of a token's norm; for a script written
                         without spaces, a hash of each character) and norms_hash the hash
                         of the normalized text; no stems */
} nf_clean_options;

void nf_clean_options_default(nf_clean_options *options);

nf_status nf_cleaner_new(nf_cleaner **out, const nf_clean_options *options, nf_error *err);
void nf_cleaner_free(nf_cleaner *cleaner);

/*
 * Cleans and normalizes a batch of documents, taking ownership of each
 * docs[i] (moved into out[i].doc; docs[i] is zeroed). Lines repeated across
 * documents of the same source within the batch count as site template.
 * The result is identical for any thread count.
 */
nf_status nf_clean_batch(nf_cleaner *cleaner, nf_doc *docs, size_t n, nf_clean_doc *out,
                         nf_error *err);

/*
 * nf_clean_batch in two steps, for callers that hand cleaned documents on
 * in slices so that only one slice of them is alive at a time (a cleaned
 * document with its tokens takes about ten times its text):
 * nf_clean_learn reads a batch (taking nothing) and keeps the lines its
 * sources repeat; nf_clean_slice then cleans any run of that batch, taking
 * ownership as nf_clean_batch does, with the template learned from the
 * whole batch. nf_clean_learn(docs, n) then nf_clean_slice over [0, n) in
 * any cut gives out[] exactly as nf_clean_batch(docs, n) does.
 * NF_CLEAN_SLICE is the slice the library's own callers use.
 */
#define NF_CLEAN_SLICE 256
nf_status nf_clean_learn(nf_cleaner *cleaner, const nf_doc *docs, size_t n, nf_error *err);
nf_status nf_clean_slice(nf_cleaner *cleaner, nf_doc *docs, size_t n, nf_clean_doc *out,
                         nf_error *err);
/*
 * The two steps over a whole batch: nf_clean_learn over docs[0, n), then
 * nf_clean_slice over each run of NF_CLEAN_SLICE documents (the last may be
 * shorter) into out (room for NF_CLEAN_SLICE, or n where smaller), handing
 * each slice to fn, which may take fields over; each cleaned document is
 * freed after fn returns. A status other than NF_OK from a step or from fn
 * stops the batch and is returned. Takes ownership of the documents of
 * each slice it cleans (as nf_clean_slice does, zeroing them in docs);
 * those of slices it did not reach stay the caller's.
 */
typedef nf_status (*nf_clean_slice_fn)(void *ctx, nf_clean_doc *cleaned, size_t n, nf_error *err);
nf_status nf_clean_each_slice(nf_cleaner *cleaner, nf_doc *docs, size_t n, nf_clean_doc *out,
                              nf_clean_slice_fn fn, void *ctx, nf_error *err);

/* ------------------------------------------------------------ dedup */

typedef enum nf_dedup_method { NF_DEDUP_MINHASH = 0, NF_DEDUP_SIMHASH = 1 } nf_dedup_method;

typedef enum nf_relation {
    NF_REL_UNIQUE = 0,    /* no copy found (or too short to tell) */
    NF_REL_CANONICAL = 1, /* the representative of a group of copies */
    NF_REL_EXACT = 2,     /* same normalized text as the canonical */
    NF_REL_NEAR = 3,      /* similar text (Jaccard / Hamming above threshold) */
    NF_REL_CONTAINED = 4  /* most of this document lies inside another */
} nf_relation;

const char *nf_relation_name(nf_relation r);

typedef struct nf_dedup_options {
    nf_dedup_method method;
    double threshold;    /* Jaccard for MinHash (default 0.6) */
    double containment;  /* containment threshold (default 0.8) */
    int ngram;           /* shingle size (default 5 units) */
    int perms;           /* MinHash signature length (default 128) */
    int hamming;         /* SimHash: max Hamming distance (default 3) */
    int exact_verify;    /* verify candidates with exact Jaccard of shingle sets */
    size_t mem_limit;    /* bytes for the sort buffers (default 512 MiB) */
    int threads;
    const char *tmp_dir; /* for spilled runs and signatures (default $TMPDIR) */
    const char *index_dir; /* persistent incremental index, or NULL */
} nf_dedup_options;

void nf_dedup_options_default(nf_dedup_options *o);

/* LSH banding for a Jaccard threshold and K permutations: minimizes the
 * weighted false positive (0.05) and false negative (0.95) probability mass;
 * false positives only cost a verification. */
void nf_lsh_params(double threshold, int perms, int *bands, int *rows);

typedef struct nf_dedup_record {
    const char *id;
    uint32_t canonical; /* index (into the result's docs) of the group's canonical */
    nf_relation relation;
    double score;       /* to the canonical: estimated Jaccard, containment, 1 for exact */
    const char *reason; /* why a document is unique without comparison, or NULL */
    int from_index;     /* 1: a document loaded from --index, not from this run */
} nf_dedup_record;

typedef struct nf_dedup_pair {
    uint32_t a, b; /* indices into docs, a < b; for contained: a lies in b unless swapped */
    nf_relation relation;
    double score;
} nf_dedup_pair;

typedef struct nf_dedup_result {
    nf_dedup_record *docs; /* index documents first, then this run's, in input order */
    size_t n_docs;
    nf_dedup_pair *pairs;  /* every verified pair */
    size_t n_pairs;
    size_t candidates;     /* candidate pairs looked at */
    int bands, rows;
    char *ids;             /* storage of the id strings */
} nf_dedup_result;

typedef struct nf_dedup nf_dedup;

nf_status nf_dedup_new(nf_dedup **out, const nf_dedup_options *options, nf_error *err);
/* Sketches a batch of cleaned documents (on options.threads threads); the
 * documents may be freed afterwards. */
nf_status nf_dedup_add(nf_dedup *d, const nf_clean_doc *docs, size_t n, nf_error *err);
/* Finds, verifies and groups duplicates; with an index, also saves it.
 * Called once: the stage hands its ids and sorted keys on to the result. */
nf_status nf_dedup_finish(nf_dedup *d, nf_dedup_result *out, nf_error *err);
void nf_dedup_free(nf_dedup *d);
void nf_dedup_result_free(nf_dedup_result *r);

/* ------------------------------------------------------------ index */

/*
 * The incremental duplicate index kept in nf_dedup_options.index_dir: a
 * MANIFEST naming segment files, one per run that added documents.
 *
 * A writer (nf_dedup_new with index_dir) holds an exclusive lock on
 * DIR/LOCK from nf_dedup_new to nf_dedup_free; a second writer blocks in
 * nf_dedup_new until the first is done, so runs never interleave (see
 * nf_index_busy to tell a user why it waits). verify and stats take the lock
 * shared, repair exclusively. Segments and the manifest are written to a
 * temporary name, fsync'ed and renamed: a crash loses at most the run in
 * progress.
 */
typedef struct nf_index_segment {
    char *name;       /* file name inside DIR */
    char *written;    /* UTC time of the run that wrote it, "" when unknown */
    uint64_t docs;    /* documents, as the manifest records */
    uint64_t pairs;   /* verified pairs stored (0 when unreadable) */
    uint64_t bytes;   /* size, as the manifest records */
    char *problem;    /* NULL when sound, else what is wrong with it */
    int dropped;      /* repair: 1 when this segment was dropped */
} nf_index_segment;

typedef struct nf_index_report {
    char *options;              /* the options the index was built with */
    nf_index_segment *segments; /* in manifest order */
    size_t n_segments;
    char **problems;            /* problems of the manifest itself */
    size_t n_problems;
    size_t n_bad;               /* bad segments + manifest problems: 0 when all is sound */
    uint64_t docs, pairs;       /* held by the sound segments */
    uint64_t bytes;             /* manifest and segment files */
    uint64_t leftovers;         /* temporary or unlisted files of a crashed writer */
    uint64_t dropped_docs;      /* repair: documents dropped */
    uint64_t dropped_pairs;     /* repair: pairs dropped with them */
} nf_index_report;

/* Checks the manifest and every segment (sizes, checksums, structure,
 * numbering). NF_OK when the check ran, whatever it found: out->n_bad says
 * whether the index is sound. An error when DIR is not an index at all. */
nf_status nf_index_verify(const char *dir, nf_index_report *out, nf_error *err);
/* Drops every segment verify finds bad (and manifest lines it cannot read),
 * renumbers the segments after them, removes leftovers, and reports what was
 * dropped in out (segments[i].dropped, dropped_docs). The index verifies
 * afterwards. */
nf_status nf_index_repair(const char *dir, nf_index_report *out, nf_error *err);
/* Counts from the manifest and segment headers, without checksums. */
nf_status nf_index_stats(const char *dir, nf_index_report *out, nf_error *err);
void nf_index_report_free(nf_index_report *r);
/* 1 when another process holds the index lock (a writer, or a repair);
 * *holder_pid gets its process id when known, else 0. */
int nf_index_busy(const char *dir, long *holder_pid);

/* ------------------------------------------------------------ output files */

/*
 * An output file that appears complete or not at all: written under a
 * temporary name beside path, then nf_outfile_commit flushes, fsyncs, renames
 * it over path and fsyncs the directory. A crash leaves the previous file (or
 * none) and at worst a hidden ".NAME.XXXXXX.tmp" beside it. commit and abort
 * both free the handle; abort removes the temporary.
 */
typedef struct nf_outfile nf_outfile;
nf_status nf_outfile_open(nf_outfile **out, const char *path, nf_error *err);
FILE *nf_outfile_stream(nf_outfile *o);
const char *nf_outfile_path(const nf_outfile *o);
nf_status nf_outfile_commit(nf_outfile *o, nf_error *err);
void nf_outfile_abort(nf_outfile *o);

/*
 * A directory of outputs that changes all at once: every file is written
 * into a hidden staging directory beside dir (created with its parents when
 * missing), and nf_outdir_commit swaps that directory with dir in one
 * rename, so a reader or a crash sees all the previous files or all the new
 * ones, never a mix. Other entries of dir are kept. Where the file system
 * cannot swap directories, the files are renamed in one after another.
 * name is a plain file name; the FILE* belongs to the outdir (do not close
 * it). commit and abort both free the handle; abort removes what was staged.
 */
typedef struct nf_outdir nf_outdir;
nf_status nf_outdir_open(nf_outdir **out, const char *dir, nf_error *err);
nf_status nf_outdir_file(nf_outdir *d, const char *name, FILE **f, nf_error *err);
nf_status nf_outdir_commit(nf_outdir *d, nf_error *err);
void nf_outdir_abort(nf_outdir *d);

/* ------------------------------------------------------- cross-lingual */

/*
 * A language-neutral view of a document (a "pivot"): what survives
 * translation. Terms are mapped to English through bilingual dictionaries
 * (Debian's FreeDict) and stemmed; names are transliterated to ASCII and
 * reduced to a spelling-tolerant key ("Pjöngjang" and "Pyongyang" agree);
 * numbers drop their separators ("2,300" = "2.300"); dates become month-day
 * keys ("June 14" = "14. Juni").
 */
typedef enum nf_pivot_kind {
    NF_PIVOT_TERM = 0,
    NF_PIVOT_NAME = 1,
    NF_PIVOT_NUMBER = 2,
    NF_PIVOT_DATE = 3
} nf_pivot_kind;

/* 12 bytes a feature (packed; hash at offset 0, 4-byte aligned): a whole
 * run's pivots wait in memory for the links stage's finish. */
typedef struct __attribute__((packed, aligned(4))) nf_pivot_feature {
    uint64_t hash;  /* of kind and key: equal across languages for equal content; the kind
                       (nf_pivot_kind) is its low two bits (nf_pivot_kind_of) */
    uint32_t count; /* occurrences in the document */
} nf_pivot_feature;

static inline nf_pivot_kind nf_pivot_kind_of(uint64_t hash) { return (nf_pivot_kind)(hash & 3); }

typedef struct nf_pivot {
    nf_pivot_feature *features; /* sorted by hash, unique */
    size_t n_features;
    char *names;     /* display forms of the names (as written), NUL-separated */
    char *name_keys; /* their ASCII keys, NUL-separated, same order */
    size_t n_names;
    uint32_t *paragraph_ends; /* sequence offsets closing each paragraph */
    void *sequence;           /* the features in text order, as indices into features (for alignment):
                                 uint16_t where n_features <= NF_PIVOT_NARROW (nearly every document),
                                 else uint32_t; nf_pivot_place reads either */
    uint32_t *surface;        /* per feature, the byte offset and length of the words behind its first
                                 occurrence (2 per feature; length 0: none, as for dates); NULL
                                 unless nf_links_options.keep_surface */
    double term_share;        /* share of the words behind names and terms that yield a term: how much
                                 the dictionaries cover (about 1 for English, 0 without a dictionary) */
    size_t n_sequence, n_paragraphs;
} nf_pivot;

#define NF_PIVOT_NARROW 65536 /* most features a pivot whose sequence is 16-bit may have */

/* Element k of p's sequence (an index into p->features). */
static inline uint32_t nf_pivot_place(const nf_pivot *p, size_t k)
{
    if (p->n_features <= NF_PIVOT_NARROW)
        return ((const uint16_t *)p->sequence)[k];
    return ((const uint32_t *)p->sequence)[k];
}

typedef struct nf_links_options {
    double threshold;         /* translation decision on the calibrated score (default 0.5) */
    int threads;
    const char *dict_dir;     /* FreeDict dictd files, edict, cedict_ts.u8 (default /usr/share/dictd,
                                 /usr/share/edict/edict and scripts/cedict.sh's place) */
    const char *cache_dir;    /* compiled dictionaries (default $XDG_CACHE_HOME/newsfold) */
    const char *lexicon_file; /* the user's own word pairs: TSV lang, word, english */
    int candidates;           /* per document, the best candidates scored (default 10) */
    int keep_surface;         /* 1: each pivot keeps where the words behind its features are
                                 (nf_pivot.surface, for explanations); 0 (default): surface is NULL */
} nf_links_options;

void nf_links_options_default(nf_links_options *o);

/* The score components of one pair, for explanations (newsfold compare). */
typedef struct nf_link_explain {
    double cosine;                       /* weighted cosine over all features */
    double terms, names, numbers, dates; /* weighted cosine per feature kind */
    double alignment;                    /* share of paragraphs aligned in order */
    double order;                        /* shared features in the same order (LCS share) */
    double length_ratio;
    double shared;                       /* features both have (dates aside): the amount of evidence */
    double coverage;                     /* the smaller share of dictionary terms among the two
                                            documents' features: how much terms can say */
    double logit;                        /* the score before the logistic */
    double score;                        /* calibrated, in [0,1] */
} nf_link_explain;

typedef struct nf_link {
    uint32_t a, b; /* document indices in the order added, a < b */
    double score;
} nf_link;

typedef struct nf_links_result {
    nf_link *links; /* translation pairs (different languages), sorted by (a, b) */
    size_t n_links;
} nf_links_result;

typedef struct nf_links nf_links;

nf_status nf_links_new(nf_links **out, const nf_links_options *options, nf_error *err);
/* Builds the pivots of a batch (on options.threads threads) and keeps them,
 * with each document's language; the documents may be freed afterwards. */
nf_status nf_links_add(nf_links *l, const nf_clean_doc *docs, size_t n, nf_error *err);
/* Says that no document will be added any more (a batch caller, after its
 * last nf_links_add): frees what only adding needs, the per-thread pivot
 * builders (a 16 MB word cache each) and the dictionaries, so the finish's
 * peak memory holds neither. Optional;
 * nf_links_add then fails with NF_ERR_ARG, nf_links_dictionary_languages
 * still answers. Calling it twice is harmless. */
nf_status nf_links_end_adding(nf_links *l, nf_error *err);
/* Finds translation pairs among all documents added (IDF over them all). */
nf_status nf_links_finish(nf_links *l, nf_links_result *out, nf_error *err);
/* The pivot of the i-th document added, valid until nf_links_free. */
const nf_pivot *nf_links_pivot(const nf_links *l, size_t i);
/* Scores one pair of added documents, with its components. */
nf_status nf_links_explain(const nf_links *l, size_t a, size_t b, nf_link_explain *out, nf_error *err);
/* Languages that have a dictionary loaded (ISO 639-1), NULL-terminated. */
const char *const *nf_links_dictionary_languages(const nf_links *l);
void nf_links_result_free(nf_links_result *r);
void nf_links_free(nf_links *l);

/*
 * Translation groups (`newsfold links --groups`): the versions of one text,
 * joined by translation links and by the copies dedup found, each group
 * with its most likely original as canonical (the document with the most
 * translation links, then the earliest published, then the smallest id,
 * then the first added). O(documents + links); the same for any order of
 * links and any thread count.
 */
typedef struct nf_links_group_order {
    const char *const *ids;  /* per document, or NULL */
    const int32_t *published; /* per document as yyyymmdd, INT32_MAX when unknown; or NULL */
} nf_links_group_order;

typedef struct nf_links_group_doc {
    uint32_t group;       /* group number, 0.. in order of each group's first document */
    uint32_t canonical;   /* index of the group's canonical document */
    const char *relation; /* "unique", "canonical", "translation", or the copy's dedup relation
                             ("exact", "near", "contained"); static storage */
    double score;         /* 1 for the canonical; a copy's dedup score; a translation's link score
                             to the canonical (else its best link) */
} nf_links_group_doc;

typedef struct nf_links_groups {
    nf_links_group_doc *docs; /* per document, in the order added */
    size_t n_docs, n_groups;
} nf_links_groups;

/* Groups n documents; copies (from nf_dedup_finish on the same documents in
 * the same order) and order may be NULL. */
nf_status nf_links_group(const nf_links_result *links, const nf_dedup_result *copies, size_t n,
                         const nf_links_group_order *order, nf_links_groups *out, nf_error *err);
void nf_links_groups_free(nf_links_groups *g);

/* ------------------------------------------------ events and storylines */

/*
 * Events: different reports of one happening. Documents are clustered in one
 * streaming pass in published order (ties by id); each joins the best live
 * event or starts a new one. Times carry the time of day when the input
 * gives one. Documents without a date take the date of a document they are
 * hard-linked to, else none: they keep their place in the input and the
 * stream clock there (see docs/events.md). Storylines link events that share
 * salient names and terms within storyline_days. Everything is deterministic:
 * the same documents in the same order give the same result for any threads.
 * Defaults (nf_events_options_default) were tuned on data, docs/events.md:
 * threshold 0.38 (headlines with a time of day: probability 0.5 from
 * headline_model; other headlines 0.05), weights title/body/names/pivot
 * 0.10/0.50/0.40/0, across languages names 1.0 + pivot 0.3, time 0.5 of
 * the score decaying over 3 days, window 3 days, 12 candidates, storylines
 * 30 days at 0.115 with names weight 0.7, burst-aware weights over 2 days
 * with weight 3. String options (prefer_lang,
 * tmp_dir) must stay valid until nf_events_finish returns.
 */
typedef struct nf_events_options {
    double threshold;        /* a document whose best score is below starts a new event */
    double threshold_short;  /* a dated headline (a document with almost no body) joins when its probability reaches this */
    double threshold_undated_short; /* an undated headline joins when its weighted score reaches this */
    double headline_model[7]; /* logistic model of that probability: intercept, title (or body) cosine, names
                                 cosine, pivot cosine, pivot cosine when the event has no report in the
                                 headline's language, ln(1 + hours since the event's last report), other
                                 language (docs/events.md) */
    double w_title, w_body, w_names, w_pivot; /* same-language score: weights of the cosines */
    double w_cross_names, w_cross_pivot; /* score when the event has no report in the document's language */
    double time_weight;      /* share of the score that decays with the days to the event */
    double time_scale;       /* days for that share to fall by a factor e */
    int window_days;         /* an event without a new report for longer leaves the live set */
    int candidates;          /* events fully scored per document, found through the inverted index */
    int storyline_days;      /* longest gap between linked events (default 30) */
    double storyline_threshold;
    double storyline_w_names; /* storyline score: weight of the names cosine, the rest is terms */
    double merge_threshold;  /* events of two languages join after the stream when the larger of
                                their names and pivot profile cosines reaches this (0: never) */
    double merge_days;       /* ... and the later starts at most this many days after the
                                earlier's last report */
    double burst_days;       /* burst-aware weights: width of the window around a document with a
                                time of day whose document frequencies are compared with the whole
                                run's (0: off; docs/events.md) */
    double burst_weight;     /* a term's weight is idf + burst_weight x ln(window rate / run rate) when
                                that rate rises in the window */
    int max_entities;        /* per event (default 10) */
    const char *prefer_lang; /* headline from a report in this language when there is one */
    int threads;             /* feature extraction in nf_events_add */
    const char *tmp_dir;     /* where document features are spilled (default $TMPDIR) */
} nf_events_options;

void nf_events_options_default(nf_events_options *o);

typedef enum nf_event_role {
    NF_ROLE_ORIGINAL = 0,    /* the first report of the event */
    NF_ROLE_COPY = 1,        /* exact, near or contained duplicate of another report (its canonical) */
    NF_ROLE_TRANSLATION = 2, /* translation of an earlier report */
    NF_ROLE_REPORT = 3       /* another report of the same event */
} nf_event_role;

const char *nf_event_role_name(nf_event_role r);

typedef struct nf_event_doc { /* one per document, in the order added */
    const char *id, *title, *lang, *source, *url; /* owned by the result; title, source, url may be NULL */
    char published[11];      /* as found by the cleaner, "" when unknown */
    char date[11];           /* the date used for ordering, "" when no document had one */
    int date_inferred;       /* 1: date taken from a linked or neighbouring document */
    uint32_t event;          /* index into events */
    nf_event_role role;
    double score;            /* score with which it joined (1 for hard links, 0 when it started the event) */
    uint32_t linked_to;      /* copies: their canonical; translations: the earlier report; else UINT32_MAX */
} nf_event_doc;

typedef struct nf_entity {
    const char *name;        /* the most used written form */
    const char *key;         /* transliterated, spelling-tolerant ASCII key */
    uint32_t sources;        /* independent reports (copies and translations count once) */
    uint32_t mentions;       /* documents */
} nf_entity;

typedef struct nf_event {
    uint32_t storyline;      /* index into storylines */
    uint32_t headline_doc;   /* the most central report (in prefer_lang when possible) */
    char first_seen[11], last_seen[11];
    uint32_t *docs;          /* members in stream order (date, then id) */
    size_t n_docs;
    uint32_t n_sources;      /* distinct sources; documents without one count one each */
    char **languages;        /* by number of reports, then code */
    size_t n_languages;
    nf_entity *entities;     /* by sources, then mentions, then name */
    size_t n_entities;
} nf_event;

typedef struct nf_storyline {
    uint32_t *events;        /* in time order */
    size_t n_events;
    char first_seen[11], last_seen[11];
    size_t n_docs;
} nf_storyline;

typedef struct nf_events_result {
    nf_event_doc *docs;
    size_t n_docs;
    nf_event *events;        /* numbered in order of creation (= time order of their first report) */
    size_t n_events;
    nf_storyline *storylines; /* numbered in order of their first event */
    size_t n_storylines;
    size_t candidates_scored, max_live_events; /* statistics */
    char *strings;           /* storage of the strings */
} nf_events_result;

typedef struct nf_events nf_events;

nf_status nf_events_new(nf_events **out, const nf_events_options *options, nf_error *err);
/* Extracts the features of a batch (titles, terms, names, numbers) on
 * options.threads threads and keeps them; the documents may then be freed. */
nf_status nf_events_add(nf_events *ev, const nf_clean_doc *docs, size_t n, nf_error *err);
/* Duplicate groups of the same documents, in the same order: every member of
 * a group joins the event of its earliest member (a hard link). */
nf_status nf_events_set_dedup(nf_events *ev, const nf_dedup_result *dedup, nf_error *err);
/* Translation pairs (indices in the order added) are hard links too, except
 * where either document is a headline (fewer than 24 tokens of text) or
 * their dates lie more than storyline_days apart: such a link is left to
 * the event decision. */
nf_status nf_events_add_links(nf_events *ev, const nf_link *links, size_t n, nf_error *err);
/* The language-neutral features of document i (e.g. nf_links_pivot), scored
 * in their own channel. p must stay valid until nf_events_finish returns. */
nf_status nf_events_set_pivot(nf_events *ev, size_t i, const nf_pivot *p, nf_error *err);
/* Clusters everything added into events and storylines. */
nf_status nf_events_finish(nf_events *ev, nf_events_result *out, nf_error *err);
void nf_events_free(nf_events *ev);
void nf_events_result_free(nf_events_result *r);

/* A self-contained HTML report (inline CSS, no script, responsive, print
 * styles) of storylines, events and their documents; all text escaped.
 * *out is NUL-terminated and belongs to the caller (free). */
typedef struct nf_report_options {
    const char *title;       /* page title (default "newsfold report") */
    int max_docs;            /* documents listed per event (0 = all) */
} nf_report_options;

nf_status nf_report_html(const nf_events_result *r, const nf_report_options *options, char **out,
                         size_t *len, nf_error *err);

/* ------------------------------------------------------------------ fold */

/*
 * The fold: the whole pipeline (clean -> dedup -> links -> events and
 * storylines) behind one incremental API. `newsfold run`, `newsfold serve`
 * and the MPI driver all fold through it; none of them orchestrates the
 * stages itself.
 *
 *   nf_fold_open      options: stages on/off, thresholds, window, threads,
 *                     an optional progress callback
 *   nf_fold_add       a batch of raw documents, in any order of arrival; the
 *                     fold takes them over, cleans them and feeds each stage
 *   nf_fold_finish    the final result, equal to a batch run over the same
 *                     documents in the same order, byte for byte once encoded
 *
 * Live folds (options.live = 1) answer every nf_fold_add with each added
 * document's assignment as known now (duplicate group, event, storyline,
 * role) and with the earlier documents whose assignment changed (an event
 * merged, a canonical changed), so a store can keep up. The assignments
 * are those nf_fold_finish would give if called at that moment: the fold
 * keeps every document's sketch, pivot and event features and re-folds that
 * state on each call, which costs O(documents so far) per call; callers that
 * receive single documents should group them into batches. Non-live folds
 * keep only what the stages need (bounded memory, spilled to tmp_dir) and
 * answer nf_fold_add with assignments marked NF_ASSIGN_PENDING.
 */
typedef struct nf_fold nf_fold;

/* Called from the calling thread: stage is "clean", "dedup", "links" or
 * "events"; total is 0 when unknown. */
typedef void (*nf_progress_fn)(void *ctx, const char *stage, uint64_t done, uint64_t total);

typedef struct nf_fold_options {
    size_t size;             /* sizeof(nf_fold_options), set by nf_fold_options_default: lets
                              * the struct grow without breaking callers built against an older one */
    nf_clean_options clean;
    nf_dedup_options dedup;
    nf_links_options links;
    nf_events_options events;
    int dedup_on;            /* 1 (default): find copies; 0: no copy links */
    int links_on;            /* 1 (default): find translations and pivots; 0: none */
    int live;                /* 1: assignments on every nf_fold_add (see above) */
    int threads;             /* for every stage; 0 = 1 */
    nf_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} nf_fold_options;

void nf_fold_options_default(nf_fold_options *o);

enum { NF_ASSIGN_PENDING = 1 }; /* nf_assignment.flags: not known before nf_fold_finish */

/* One document's place in the fold. Strings belong to the update they came in. */
typedef struct nf_assignment {
    uint32_t doc;            /* index in the order added, from 0 */
    const char *id;
    const char *canonical;   /* id of its duplicate group's canonical (its own id when unique) */
    nf_relation relation;
    double score;            /* to the canonical */
    uint32_t event;          /* index into the current events (E<event+1> in the outputs) */
    uint32_t storyline;
    nf_event_role role;
    const char *of;          /* copies: their canonical; translations: the earlier report; else NULL */
    double event_score;
    unsigned flags;          /* NF_ASSIGN_* */
} nf_assignment;

typedef struct nf_fold_update {
    nf_assignment *added;    /* the documents of this call, in order */
    size_t n_added;
    nf_assignment *changed;  /* earlier documents whose assignment changed, by doc */
    size_t n_changed;
    size_t n_docs, n_events, n_storylines; /* the whole fold, now */
    size_t skipped;          /* documents of this call refused (duplicate id ...); each named in message */
    char *strings;           /* storage of the strings */
} nf_fold_update;

void nf_fold_update_free(nf_fold_update *u);

typedef struct nf_fold_result {
    nf_events_result events; /* per document in the order added: event, storyline, role */
    nf_dedup_result dedup;   /* per document: group; n_docs is 0 when the stage was off */
    nf_links_result links;   /* translation pairs */
} nf_fold_result;

void nf_fold_result_free(nf_fold_result *r);
/* Document i's assignment in a result (strings point into r); the same
 * fields documents.jsonl gives it. */
void nf_fold_assignment(const nf_fold_result *r, size_t i, nf_assignment *out);

nf_status nf_fold_open(nf_fold **out, const nf_fold_options *options, nf_error *err);
/* Takes over docs[0..n) (each is zeroed). update may be NULL. A document
 * whose id was added before is refused (update->skipped, err names it) and
 * the rest are added; the call then returns NF_SKIPPED. Any other error
 * (memory, a temporary file) leaves the fold unusable: only nf_fold_close. */
nf_status nf_fold_add(nf_fold *f, nf_doc *docs, size_t n, nf_fold_update *update, nf_error *err);
/* Live folds: the result as of the last nf_fold_add (NULL before the first),
 * valid until the next call on f. */
const nf_fold_result *nf_fold_current(const nf_fold *f);
/* Documents added so far. */
size_t nf_fold_size(const nf_fold *f);
/* Ends input and computes the final result. After it only nf_fold_close. */
nf_status nf_fold_finish(nf_fold *f, nf_fold_result *out, nf_error *err);
void nf_fold_close(nf_fold *f);

/* ------------------------------------------------------------- encoders */

/*
 * JSONL encoders for every record newsfold writes (one module,
 * src/report/report_jsonl.c), shared by the command, the service and the
 * tests. Each appends one JSON object and a newline to a growable buffer;
 * a buffer whose allocation failed sets oom and ignores further appends.
 */
typedef struct nf_buffer {
    char *data; /* NUL-terminated past len */
    size_t len, cap;
    int oom;
} nf_buffer;

void nf_buffer_free(nf_buffer *b);
void nf_buffer_append(nf_buffer *b, const void *p, size_t n);
void nf_buffer_puts(nf_buffer *b, const char *s);
void nf_buffer_printf(nf_buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s (n bytes of UTF-8) as a JSON string literal, quotes included; the
 * _cstr form writes null for NULL. */
void nf_json_append(nf_buffer *b, const char *s, size_t n);
void nf_json_append_cstr(nf_buffer *b, const char *s);

/* documents.jsonl / events.jsonl / storylines.jsonl of `newsfold run`. */
void nf_jsonl_document(nf_buffer *b, const nf_fold_result *r, size_t doc);
void nf_jsonl_event(nf_buffer *b, const nf_fold_result *r, size_t event);
void nf_jsonl_storyline(nf_buffer *b, const nf_fold_result *r, size_t storyline);
/* One assignment (the service's answer per document). */
void nf_jsonl_assignment(nf_buffer *b, const nf_assignment *a);
/* One page of `newsfold extract`: id, url, title, published, lang, site,
 * author, text, fetched, stats. */
void nf_jsonl_extract(nf_buffer *b, const nf_doc *d);
/* One cleaned document of `newsfold clean` (token_list: every token). */
void nf_jsonl_clean_doc(nf_buffer *b, const nf_clean_doc *cd, int token_list);
/* `newsfold dedup`: the record of document i, and verified pair k. */
void nf_jsonl_dedup_record(nf_buffer *b, const nf_dedup_result *r, size_t i);
void nf_jsonl_dedup_pair(nf_buffer *b, const nf_dedup_result *r, size_t k);
/* `newsfold links`: one translation pair; with --groups, one member of a
 * group of versions (relation: "canonical", "exact", "translation" ...). */
void nf_jsonl_link(nf_buffer *b, const char *id_a, const char *id_b, double score, const char *lang_a,
                   const char *lang_b);
void nf_jsonl_group_member(nf_buffer *b, const char *id, const char *canonical, const char *relation, double score,
                           const char *lang);

/* ------------------------------------------------------------ evaluation */

/* Agreement of a predicted clustering with a gold one over n items, each
 * given as a cluster label per item (any uint32 values). */
typedef struct nf_cluster_scores {
    size_t n, gold_clusters, pred_clusters;
    double pair_precision, pair_recall, pair_f1;
    double bcubed_precision, bcubed_recall, bcubed_f1;
    double ari; /* adjusted Rand index */
} nf_cluster_scores;

nf_status nf_cluster_eval(const uint32_t *gold, const uint32_t *pred, size_t n, nf_cluster_scores *out,
                          nf_error *err);

/* Where a clustering goes wrong most: gold clusters by the B-cubed recall
 * they lose (split over several predicted clusters) and predicted clusters
 * by the B-cubed precision they lose (merging several gold clusters), in
 * items (the loss of item x is 1 - its share). Up to k of each with a
 * loss, worst first (ties by label); `parts` counts the other side's
 * clusters met. */
typedef struct nf_cluster_error {
    uint32_t label;          /* gold label (split) or predicted label (merged) */
    size_t size, parts;
    double loss;
} nf_cluster_error;

nf_status nf_cluster_worst(const uint32_t *gold, const uint32_t *pred, size_t n, size_t k,
                           nf_cluster_error *split, size_t *n_split, nf_cluster_error *merged,
                           size_t *n_merged, nf_error *err);

/* Cluster labels of documents read from files, for scoring: a gold file
 * ({"documents": {id: {key: label}}}), JSONL records (id, the key field,
 * title) or TSV (id, then the key column of a header, else the second).
 * nf_labels_read adds to l (zeroed first), so several files can be read
 * into one; a repeated id keeps its first label; JSONL lines without an id
 * are counted in lines_ignored. */
#define NF_NO_LABEL UINT32_MAX
typedef struct nf_labels {
    char **id;        /* per item, in file order */
    char **title;     /* per item: the record's "title", or NULL */
    uint32_t *label;  /* per item: label number, NF_NO_LABEL when it has none */
    size_t n;
    char **name;      /* per label number: its text */
    uint32_t n_names;
    size_t lines_ignored, first_ignored;
    struct nfi_labels_index *index; /* private */
} nf_labels;

nf_status nf_labels_read(nf_labels *l, const char *path, const char *key, nf_error *err);
/* The item with this id, or SIZE_MAX. */
size_t nf_labels_find(const nf_labels *l, const char *id);
void nf_labels_free(nf_labels *l);

/* ------------------------------------------------------ building blocks */

/* Language identification. Returns an ISO code ("und" when unknown) and a
 * confidence in [0,1]. One nf_langid per thread. */
nf_status nf_langid_new(nf_langid **out, nf_error *err);
void nf_langid_free(nf_langid *lid);
const char *nf_langid_detect(nf_langid *lid, const char *text, size_t len, double *confidence);

/* Repairs invalid UTF-8: returns a newly allocated valid copy (NUL-terminated)
 * and the number of invalid sequences replaced by U+FFFD. */
char *nf_utf8_repair(const char *s, size_t len, size_t *out_len, size_t *n_invalid);

/* Finds an explicit publication date in text (a labelled date such as
 * "Written: 2024-06-22", or a wire dateline "SEOUL, June 14 (Yonhap)" whose
 * year comes from year_hint, or else from the text when unambiguous).
 * Returns 1 and writes YYYY-MM-DD into out[11], else 0. */
int nf_find_date(const char *text, size_t len, int year_hint, char out[11]);

/* A date in a URL path ("/2024/06/14/", "-2024-06-14"): returns 1 and writes
 * out[11]; *year gets a year seen in the path even when no full date is. */
int nf_date_from_url(const char *url, char out[11], int *year);

/* Normalizes a date given in metadata ("2024-06-14T10:00:00Z", "14 June 2024",
 * ...) to YYYY-MM-DD; returns 1 on success. */
int nf_parse_date(const char *s, char out[11]);

/* ------------------------------------------------------------ mpi */

/*
 * Distributed dedup, links and fold over Open MPI (src/mpi/, docs/distributed.md). Built only
 * when CMake finds MPI; otherwise nf_mpi_available() is 0 and every other
 * call fails with NF_ERR_ARG "built without MPI".
 *
 * Every rank calls nf_mpi_dedup_run with the same input: the ranks split it
 * (by file, and plain JSONL files by byte range at line boundaries), find
 * among themselves the batches the single process would make, and clean and
 * sketch each batch on one rank; then nf_mpi_dedup_write finishes across
 * the ranks (keys, candidates and groups by hash partition; with index_dir
 * or exact_verify the sketch items are gathered on rank 0, which finishes
 * alone). The output is byte-identical to nf_dedup_add over the same
 * batches in one process, for any N. MPI calls are made only from the
 * thread that called nf_mpi_init.
 */
typedef struct nf_mpi nf_mpi;
typedef struct nf_mpi_dedup nf_mpi_dedup;

typedef struct nf_mpi_stats {
    uint64_t batches, batches_cleaned; /* read / cleaned and sketched on this rank */
    uint64_t docs_cleaned, docs_scanned;
    uint64_t bytes_sent, bytes_received; /* batch payloads (sketch items, pivots) sent to / received by rank 0 */
    uint64_t bytes_exchanged;            /* all-to-all records sent (ids, positions) */
    /* CPU seconds of this process: scan and plan, reading + cleaning +
     * sketching its batches, sending / collecting items, finish (rank 0) */
    double cpu_plan, cpu_read, cpu_collect, cpu_finish;
} nf_mpi_stats;

/* The input of a distributed run, the same on every rank. */
typedef struct nf_mpi_input {
    const char *const *paths;
    size_t n_paths;
    /* the single process's batch rule: a batch closes once it holds
     * batch_docs documents or its text reaches batch_bytes (both > 0) */
    size_t batch_docs, batch_bytes;
    size_t max_record; /* nf_reader_options.max_record_bytes */
    /* each skipped record, named with file and line, is passed here by the
     * one rank that reads it (may be NULL) */
    void (*warn)(void *ctx, const char *message);
    void *warn_ctx;
} nf_mpi_input;

/* The whole job's counts (the same on every rank after a run). */
typedef struct nf_mpi_totals {
    uint64_t docs, skipped, bytes, ignored;
} nf_mpi_totals;

int nf_mpi_available(void);
/* MPI_Init_thread (funneled); one per process. */
nf_status nf_mpi_init(nf_mpi **out, nf_error *err);
int nf_mpi_rank(const nf_mpi *m);
int nf_mpi_size(const nf_mpi *m);
/* MPI_Finalize and free. */
void nf_mpi_finalize(nf_mpi *m);
/* Stops every rank of the job (MPI_Abort with code): what a rank calls after
 * a fatal error, so that no other rank waits for it forever. Does not return
 * when MPI is running. */
void nf_mpi_abort(nf_mpi *m, int code);

nf_status nf_mpi_dedup_new(nf_mpi_dedup **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_dedup_options *options, nf_error *err);
/* Reads, cleans and sketches the input across the ranks (collective). A
 * failure on one rank leaves the others inside MPI: the caller then calls
 * nf_mpi_abort. */
nf_status nf_mpi_dedup_run(nf_mpi_dedup *md, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err);
/* Only with index_dir or exact_verify (rank 0 finishes alone; otherwise
 * NF_ERR_ARG: use nf_mpi_dedup_write). Rank 0: the result of the whole
 * input (as nf_dedup_finish). Other ranks: out is left empty (n_docs 0). */
nf_status nf_mpi_dedup_finish(nf_mpi_dedup *md, nf_dedup_result *out, nf_error *err);
/* After finish (index_dir or exact_verify only), collective: *out gets
 * this rank's shard of the documents' JSONL records (nf_jsonl_dedup_record, index documents left out), the
 * records of the documents this rank read; the shards of ranks 0..N-1
 * concatenated are the single process's output. Rank 0 formats and sends
 * them one shard at a time. out is the caller's (nf_buffer_free). */
nf_status nf_mpi_dedup_shard(nf_mpi_dedup *md, const nf_dedup_result *res, nf_buffer *out, nf_error *err);
/* After run, collective: finishes across the ranks and writes the output
 * through write: which 0 the documents' JSONL records (the single
 * process's bytes, in order, on rank 0; shard: each rank its own
 * documents'), which 1 (pairs != 0) the verified pairs', on rank 0.
 * Without index_dir and exact_verify no rank gathers the sketches (the
 * candidate search, verification and grouping are shared,
 * docs/distributed.md); with them rank 0 finishes alone
 * (nf_mpi_dedup_finish). Replaces finish and shard. */
typedef nf_status (*nf_mpi_write_fn)(void *ctx, int which, const char *data, size_t len, nf_error *err);
nf_status nf_mpi_dedup_write(nf_mpi_dedup *md, int pairs, int shard, nf_mpi_write_fn write, void *ctx,
                             nf_error *err);
void nf_mpi_dedup_stats(const nf_mpi_dedup *md, nf_mpi_stats *out);
void nf_mpi_dedup_free(nf_mpi_dedup *md);

/*
 * Distributed links (`newsfold links --mpi`): the same input split; each
 * rank cleans its batches and builds their pivots (and, with groups, their
 * dedup sketches) on its threads and keeps its pivots; the ranks finish
 * together (document frequencies, candidate search, scoring and the
 * best-match decision spread by feature, pair and document; rank 0 gets
 * the ids and the links; with groups the dedup sketches go to rank 0,
 * which runs that finish alone). The result on rank 0 is
 * byte-identical to nf_links_add (and nf_dedup_add) over the same batches in
 * one process, for any N. groups: the dedup options of --groups, or NULL.
 */
typedef struct nf_mpi_links nf_mpi_links;
/* What rank 0 keeps of a gathered document for the output. */
typedef struct nf_mpi_doc {
    const char *id, *lang;
    const char *published; /* YYYY-MM-DD or "" */
} nf_mpi_doc;

nf_status nf_mpi_links_new(nf_mpi_links **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_links_options *links, const nf_dedup_options *groups, nf_error *err);
/* Collective; a failure leaves the other ranks inside MPI: nf_mpi_abort. */
nf_status nf_mpi_links_run(nf_mpi_links *ml, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err);
/* Collective: nf_links_finish's result over every document, on rank 0
 * (and rank 0 alone runs nf_dedup_finish into dedup, when groups and dedup
 * is not NULL); other ranks: empty results. */
nf_status nf_mpi_links_finish(nf_mpi_links *ml, nf_links_result *links, nf_dedup_result *dedup, nf_error *err);
/* Rank 0 after run: the documents in input order (valid until free). */
size_t nf_mpi_links_size(const nf_mpi_links *ml);
nf_mpi_doc nf_mpi_links_doc(const nf_mpi_links *ml, size_t i);
void nf_mpi_links_stats(const nf_mpi_links *ml, nf_mpi_stats *out);
void nf_mpi_links_free(nf_mpi_links *ml);

/*
 * The distributed fold (`newsfold run --mpi`): the same input split; each
 * rank cleans its batches and computes every stage's per-document item on
 * its threads (dedup sketch, pivot, event features: never the texts); the
 * ranks finish dedup and links together (sketches and pivots stay on their
 * ranks) and rank 0 runs the event stream over the event features, the
 * pivots' feature hashes and counts, the dedup groups and the links: the
 * result on rank 0 is byte-identical to nf_fold_add over the same batches
 * in one process, for any N (its dedup result has no pairs). options as
 * nf_fold_open's (live must be 0; no dedup index_dir or exact_verify).
 */
typedef struct nf_mpi_fold nf_mpi_fold;

nf_status nf_mpi_fold_new(nf_mpi_fold **out, nf_mpi *m, const nf_fold_options *options, nf_error *err);
/* Collective; a failure leaves the other ranks inside MPI: nf_mpi_abort. */
nf_status nf_mpi_fold_run(nf_mpi_fold *mf, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err);
/* Collective. Rank 0: the result of nf_fold_finish over every document;
 * other ranks: an empty result. */
nf_status nf_mpi_fold_finish(nf_mpi_fold *mf, nf_fold_result *out, nf_error *err);
void nf_mpi_fold_stats(const nf_mpi_fold *mf, nf_mpi_stats *out);
void nf_mpi_fold_free(nf_mpi_fold *mf);

#ifdef __cplusplus
}
#endif
#endif /* NEWSFOLD_H */
