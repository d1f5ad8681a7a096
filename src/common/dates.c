/*
 * dates.c - publication dates from metadata strings and from page text.
 *
 * Both directions share one small lexer that turns text into numbers, month
 * names (English, German, French, Spanish, Italian, Portuguese, Dutch;
 * Russian, Ukrainian, Arabic, Hebrew) and separators, and one set of date
 * shapes over those tokens:
 *   2024-06-14   2024/06/14   14.06.2024   June 14, 2024   14 June 2024
 *   14. Juni 2024   14 juin 2024   14 июня 2024   2024年6月14日
 *   and, without a year, June 14 / 14. Juni / 6月14日.
 *
 * In page text a date is only taken where the page says it is the
 * publication date, never merely because a date occurs (a photo caption's
 * "taken on June 1, 2024" is not the article's date):
 *   1. after a label ("Written:", "Published", "date", "Veröffentlicht", ...);
 *   2. in a wire dateline: a line opening with an upper-case place name and a
 *      comma ("SEOUL, June 14 (Yonhap)"). A dateline usually has no year; it
 *      is taken from the text when every full year the text mentions is the
 *      same one (or from the page URL), else the date stays unknown.
 * A date in the page URL ("/2024/06/14/") is used by the cleaner when the
 * text names none.
 * A bare "date" label ranks below a wire dateline, and "Updated" labels count
 * only when nothing better is found.
 *
 * Every date of a text (nfi_month_days, the links stage's date features)
 * is read as if each 2 KB window were lexed whole, but only the tokens
 * around numbers that may be in a date are lexed: short chunks from two
 * tokens before each such number are lexed and tried (window_dates says
 * why that is the same), and only a window where that finds a date has its
 * tokens counted (8 bytes at a time: the lexer keeps 700).
 */
#include "common/common.h"

#include <limits.h>

#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SCAN_HEAD_BYTES 1500 /* labels and datelines live near the top */

enum lex_kind { LEX_NUM, LEX_MONTH, LEX_WORD, LEX_PUNCT, LEX_NEWLINE };

typedef struct lex_tok {
    enum lex_kind kind;
    int value;      /* number value, month 1-12, the punctuation byte, or for a word
                       -1 until kind_of has looked it up in the month names */
    int digits;     /* for numbers */
    size_t start;   /* byte offset */
    size_t len;
    bool all_caps;  /* words */
} lex_tok;

static const struct {
    const char *name;
    int month;
} month_names[] = {
    {"january", 1}, {"jan", 1}, {"februar", 2}, {"february", 2}, {"feb", 2}, {"march", 3}, {"mar", 3},
    {"april", 4}, {"apr", 4}, {"may", 5}, {"june", 6}, {"jun", 6}, {"july", 7}, {"jul", 7},
    {"august", 8}, {"aug", 8}, {"september", 9}, {"sept", 9}, {"sep", 9}, {"october", 10},
    {"oct", 10}, {"november", 11}, {"nov", 11}, {"december", 12}, {"dec", 12},
    /* German */
    {"januar", 1}, {"jänner", 1}, {"märz", 3}, {"mai", 5}, {"juni", 6}, {"juli", 7},
    {"oktober", 10}, {"dezember", 12}, {"okt", 10}, {"dez", 12},
    /* French */
    {"janvier", 1}, {"février", 2}, {"fevrier", 2}, {"mars", 3}, {"avril", 4}, {"juin", 6},
    {"juillet", 7}, {"août", 8}, {"aout", 8}, {"septembre", 9}, {"octobre", 10}, {"novembre", 11},
    {"décembre", 12}, {"decembre", 12},
    /* Spanish */
    {"enero", 1}, {"febrero", 2}, {"marzo", 3}, {"abril", 4}, {"mayo", 5}, {"junio", 6},
    {"julio", 7}, {"agosto", 8}, {"septiembre", 9}, {"setiembre", 9}, {"octubre", 10},
    {"noviembre", 11}, {"diciembre", 12},
    /* Italian */
    {"gennaio", 1}, {"febbraio", 2}, {"aprile", 4}, {"maggio", 5}, {"giugno", 6}, {"luglio", 7},
    {"settembre", 9}, {"ottobre", 10}, {"dicembre", 12},
    /* Portuguese */
    {"janeiro", 1}, {"fevereiro", 2}, {"março", 3}, {"maio", 5}, {"junho", 6}, {"julho", 7},
    {"setembro", 9}, {"outubro", 10}, {"novembro", 11}, {"dezembro", 12},
    /* Dutch */
    {"januari", 1}, {"februari", 2}, {"maart", 3}, {"mei", 5}, {"augustus", 8},
};

static const char *const strong_labels[] = {"written", "published", "posted", "veröffentlicht",
                                            "publié", "publie", "publicado", "pubblicato", "erschienen"};
static const char *const plain_labels[] = {"date", "dated", "datum", "fecha", "stand"};
static const char *const weak_labels[] = {"updated", "aktualisiert", "actualizado", "modifié",
                                          "aggiornato", "actualisé"};

/* Month names of other scripts, as written after a day number (Russian
 * and Ukrainian genitive, Arabic, Hebrew); Hebrew writes "in" (ב) onto
 * the month ("ביוני"), which is skipped. */
static const struct {
    const char *name;
    int month;
} script_months[] = {
    {"января", 1}, {"февраля", 2}, {"марта", 3}, {"апреля", 4}, {"мая", 5}, {"июня", 6}, {"июля", 7},
    {"августа", 8}, {"сентября", 9}, {"октября", 10}, {"ноября", 11}, {"декабря", 12},
    {"січня", 1}, {"лютого", 2}, {"березня", 3}, {"квітня", 4}, {"травня", 5}, {"червня", 6},
    {"липня", 7}, {"серпня", 8}, {"вересня", 9}, {"жовтня", 10}, {"листопада", 11}, {"грудня", 12},
    {"يناير", 1}, {"فبراير", 2}, {"مارس", 3}, {"أبريل", 4}, {"ابريل", 4}, {"إبريل", 4}, {"مايو", 5},
    {"يونيو", 6}, {"يونيه", 6}, {"يوليو", 7}, {"يوليه", 7}, {"أغسطس", 8}, {"اغسطس", 8}, {"سبتمبر", 9},
    {"أكتوبر", 10}, {"اكتوبر", 10}, {"نوفمبر", 11}, {"ديسمبر", 12},
    {"ינואר", 1}, {"פברואר", 2}, {"מרץ", 3}, {"מרס", 3}, {"אפריל", 4}, {"מאי", 5}, {"יוני", 6},
    {"יולי", 7}, {"אוגוסט", 8}, {"ספטמבר", 9}, {"אוקטובר", 10}, {"נובמבר", 11}, {"דצמבר", 12},
};

static int lookup_script_month(const char *s, size_t n)
{
    static const char hebrew_in[] = "\u05D1";
    if (n > 2 && memcmp(s, hebrew_in, 2) == 0 && lookup_script_month(s + 2, n - 2))
        return lookup_script_month(s + 2, n - 2);
    for (size_t i = 0; i < sizeof script_months / sizeof *script_months; i++)
        if (strlen(script_months[i].name) == n && memcmp(script_months[i].name, s, n) == 0)
            return script_months[i].month;
    return 0;
}

static int lookup_month(const char *s, size_t n)
{
    char low[16];
    if (n >= 4 && (unsigned char)s[0] >= 0xD0 && (unsigned char)s[0] <= 0xD9)
        return lookup_script_month(s, n); /* Cyrillic, Hebrew, Arabic */
    if (n < 3 || n >= sizeof low || !strchr("jfmasondgle", nfi_lower_ascii((unsigned char)s[0])))
        return 0; /* most words: no month starts like this */
    for (size_t i = 0; i < n; i++)
        low[i] = (char)nfi_lower_ascii((unsigned char)s[i]);
    low[n] = '\0';
    /* "MÄRZ": fold the few upper-case non-ASCII letters month names use (Ä, É) */
    for (size_t i = 0; i + 1 < n; i++)
        if ((unsigned char)low[i] == 0xC3 && ((unsigned char)low[i + 1] == 0x84 || (unsigned char)low[i + 1] == 0x89))
            low[i + 1] = (char)((unsigned char)low[i + 1] + 0x20);
    for (size_t i = 0; i < sizeof month_names / sizeof *month_names; i++)
        if (month_names[i].name[0] == low[0] && month_names[i].name[1] == low[1] &&
            strcmp(low, month_names[i].name) == 0)
            return month_names[i].month;
    return 0;
}

static bool in_list(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && nfi_str_ieq_prefix(s, n, list[i]))
            return true;
    return false;
}

/* Lexes up to max tokens from text[0,len). Returns the count. */
static size_t lex(const char *text, size_t len, lex_tok *toks, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        unsigned char c = (unsigned char)text[i];
        lex_tok t = {LEX_PUNCT, c, 0, i, 1, false};
        if (c >= '0' && c <= '9') {
            size_t j = i;
            long v = 0;
            while (j < len && text[j] >= '0' && text[j] <= '9' && j - i < 9)
                v = v * 10 + (text[j++] - '0');
            while (j < len && text[j] >= '0' && text[j] <= '9')
                j++;
            t = (lex_tok){LEX_NUM, (int)v, (int)(j - i), i, j - i, false};
            i = j;
        } else if (c >= 0x80 || ((c | 32) >= 'a' && (c | 32) <= 'z')) {
            size_t j = i;
            bool caps = true;
            while (j + 8 <= len) { /* 8 bytes at a time; letter tests without high bits: no carries */
                uint64_t x;
                memcpy(&x, text + j, sizeof x);
                uint64_t high = x & NFI_SWAR_HIGH, low7 = x & ~NFI_SWAR_HIGH;
                uint64_t word = high | nfi_swar_in(low7 | NFI_SWAR_ONES * 32, 'a', 'z');
                uint64_t lower = nfi_swar_in(low7, 'a', 'z') & ~high;
                uint64_t ends = ~word & NFI_SWAR_HIGH;
                unsigned k = ends ? (unsigned)__builtin_ctzll(ends) / 8 : 8;
                caps &= !(lower & (k == 8 ? ~0ull : (1ull << (8 * k)) - 1));
                j += k;
                if (k < 8)
                    break;
            }
            while (j < len) {
                unsigned char d = (unsigned char)text[j];
                if (!(d >= 0x80 || ((d | 32) >= 'a' && (d | 32) <= 'z')))
                    break;
                if (d >= 'a' && d <= 'z')
                    caps = false;
                j++;
            }
            t = (lex_tok){LEX_WORD, -1, 0, i, j - i, caps && j - i >= 2};
            i = j;
        } else if (c == '\n') {
            t.kind = LEX_NEWLINE;
            i++;
        } else if (nfi_is_space(c)) {
            i++;
            continue;
        } else {
            i++;
        }
        toks[n++] = t;
    }
    return n;
}

/* The kind of a token, a word resolved to LEX_MONTH or LEX_WORD on first
 * asking: only words next to a number are ever looked up in the month
 * names, which keeps the lexer one cheap pass over the text. */
static enum lex_kind kind_of(const char *text, lex_tok *t)
{
    if (t->kind == LEX_WORD && t->value < 0) {
        t->value = lookup_month(text + t->start, t->len);
        if (t->value)
            t->kind = LEX_MONTH;
    }
    return t->kind;
}

typedef struct date_match {
    int y, m, d; /* y == 0: no year */
    size_t next; /* token index after the date */
} date_match;

static bool is_p(const lex_tok *t, char c) { return t->kind == LEX_PUNCT && t->value == c; }

static bool plausible(int y, int m, int d)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (y == 0 || (y >= 1900 && y <= 2100)) && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1];
}

/* Tries every date shape at toks[i]. */
/* "de" as in "15 de abril de 2025" (Spanish, Portuguese) */
static bool is_de(const char *text, lex_tok *t)
{
    return kind_of(text, t) == LEX_WORD && t->len == 2 && nfi_str_ieq_prefix(text + t->start, 2, "de");
}

/* A word opening with a CJK date unit (年, 月, 日): "14日に" counts. */
static bool cjk_unit(const char *text, lex_tok *t, const char *unit)
{
    size_t len = strlen(unit);
    return kind_of(text, t) == LEX_WORD && t->len >= len && memcmp(text + t->start, unit, len) == 0;
}

static bool match_date(const char *text, lex_tok *t, size_t n, size_t i, date_match *out)
{
    size_t k = i;
#define NUM(j, lo, hi) ((j) < n && t[j].kind == LEX_NUM && t[j].value >= (lo) && t[j].value <= (hi))
    if (NUM(k, 1900, 2100) && t[k].digits == 4 && k + 4 < n && (is_p(&t[k + 1], '-') || is_p(&t[k + 1], '/')) &&
        NUM(k + 2, 1, 12) && t[k + 3].kind == LEX_PUNCT && t[k + 3].value == t[k + 1].value && NUM(k + 4, 1, 31)) {
        *out = (date_match){t[k].value, t[k + 2].value, t[k + 4].value, k + 5};
        return plausible(out->y, out->m, out->d);
    }
    if (NUM(k, 1, 31) && k + 4 < n && is_p(&t[k + 1], '.') && NUM(k + 2, 1, 12) && is_p(&t[k + 3], '.') &&
        NUM(k + 4, 1900, 2100) && t[k + 4].digits == 4) {
        *out = (date_match){t[k + 4].value, t[k + 2].value, t[k].value, k + 5};
        return plausible(out->y, out->m, out->d);
    }
    if (NUM(k, 1, 12) && k + 3 < n && cjk_unit(text, &t[k + 1], "\u6708") && NUM(k + 2, 1, 31) &&
        (cjk_unit(text, &t[k + 3], "\u65E5") || cjk_unit(text, &t[k + 3], "\u53F7"))) { /* 6月14日, 6月14号 */
        int y = k >= 2 && NUM(k - 2, 1900, 2100) && cjk_unit(text, &t[k - 1], "\u5E74") ? t[k - 2].value : 0;
        *out = (date_match){y, t[k].value, t[k + 2].value, k + 4};
        return plausible(out->y, out->m, out->d);
    }
    if (k < n && NUM(k + 1, 1, 31) && t[k + 1].digits <= 2 && kind_of(text, &t[k]) == LEX_MONTH) {
        size_t j = k + 2;
        if (j < n && is_p(&t[j], ','))
            j++;
        int y = NUM(j, 1900, 2100) && t[j].digits == 4 ? t[j].value : 0;
        *out = (date_match){y, t[k].value, t[k + 1].value, y ? j + 1 : k + 2};
        return plausible(out->y, out->m, out->d);
    }
    if (NUM(k, 1, 31) && t[k].digits <= 2) {
        size_t j = k + 1;
        if (j < n && (is_p(&t[j], '.') || is_de(text, &t[j])))
            j++;
        if (j < n && kind_of(text, &t[j]) == LEX_MONTH) {
            size_t after = j + 1;
            if (after < n && (is_p(&t[after], ',') || is_de(text, &t[after])))
                after++;
            int y = NUM(after, 1900, 2100) && t[after].digits == 4 ? t[after].value : 0;
            *out = (date_match){y, t[j].value, t[k].value, y ? after + 1 : j + 1};
            return plausible(out->y, out->m, out->d);
        }
    }
#undef NUM
    return false;
}

static void format_date(int y, int m, int d, char out[11])
{
    /* callers validated 1900 <= y <= 2100, 1 <= m <= 12, 1 <= d <= 31 */
    unsigned uy = (unsigned)y % 10000u, um = (unsigned)m % 100u, ud = (unsigned)d % 100u;
    out[0] = (char)('0' + uy / 1000);
    out[1] = (char)('0' + uy / 100 % 10);
    out[2] = (char)('0' + uy / 10 % 10);
    out[3] = (char)('0' + uy % 10);
    out[4] = '-';
    out[5] = (char)('0' + um / 10);
    out[6] = (char)('0' + um % 10);
    out[7] = '-';
    out[8] = (char)('0' + ud / 10);
    out[9] = (char)('0' + ud % 10);
    out[10] = '\0';
}

int nf_parse_date(const char *s, char out[11])
{
    lex_tok toks[64];
    size_t n = lex(s, strlen(s), toks, 64);
    for (size_t i = 0; i < n; i++) {
        date_match dm;
        if (match_date(s, toks, n, i, &dm) && dm.y) {
            format_date(dm.y, dm.m, dm.d, out);
            return 1;
        }
    }
    return 0;
}

/* The one year every full year in the text agrees on, or 0. */
static int context_year(const char *text, size_t len)
{
    int year = 0;
    for (size_t i = 0; i + 4 <= len; i++) {
        if (!(text[i] == '1' || text[i] == '2') || (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9'))
            continue;
        int v = 0;
        size_t j = i;
        while (j < len && j - i < 5 && text[j] >= '0' && text[j] <= '9')
            v = v * 10 + (text[j++] - '0');
        if (j - i != 4 || v < 1990 || v > 2100)
            continue;
        if (year && year != v)
            return 0;
        year = v;
        i = j;
    }
    return year;
}

/* A dateline: the line opens with an all-caps word, maybe more words, then
 * a comma, and the date follows within a few tokens. */
static bool is_dateline_at(const char *text, lex_tok *t, size_t line_start, size_t line_no,
                           size_t date_at)
{
    if (date_at <= line_start + 1 || date_at - line_start > 5)
        return false;
    lex_tok *place = &t[line_start];
    if (kind_of(text, place) != LEX_WORD)
        return false;
    /* "SEOUL, ..." anywhere near the top; "Castrobel, ..." only opening the text */
    bool capitalized = (unsigned char)text[place->start] >= 'A' && (unsigned char)text[place->start] <= 'Z';
    if (!place->all_caps && !(capitalized && line_no < 3))
        return false;
    return is_p(&t[date_at - 1], ',');
}

int nf_date_from_url(const char *url, char out[11], int *year)
{
    *year = 0;
    if (!url)
        return 0;
    for (const char *p = url; *p; p++) {
        if (!(*p == '/' || *p == '-' || *p == '_'))
            continue;
        int y = 0, m = 0, d = 0, used = 0;
        if (sscanf(p + 1, "%4d/%2d/%2d%n", &y, &m, &d, &used) == 3 ||
            sscanf(p + 1, "%4d-%2d-%2d%n", &y, &m, &d, &used) == 3) {
            if (used >= 8 && y >= 1990 && plausible(y, m, d)) {
                format_date(y, m, d, out);
                *year = y;
                return 1;
            }
        }
        if (!*year && sscanf(p + 1, "%4d%n", &y, &used) == 1 && used == 4 && y >= 1990 && y <= 2100 &&
            (p[5] == '/' || p[5] == '-'))
            *year = y;
    }
    return 0;
}

static bool any_date_number(const char *text, size_t len);

int nf_find_date(const char *text, size_t len, int year_hint, char out[11])
{
    enum { MAX_TOKS = 1200 };
    size_t head = len < SCAN_HEAD_BYTES ? len : SCAN_HEAD_BYTES;
    if (!any_date_number(text, head)) /* no shape can match: nothing to lex */
        return 0;
    lex_tok toks[MAX_TOKS];
    size_t n = lex(text, head, toks, MAX_TOKS);
    date_match best = {0, 0, 0, 0}, plain = {0, 0, 0, 0}, weak = {0, 0, 0, 0}, dateline = {0, 0, 0, 0};
    size_t line_start = 0, line_no = 0;
    for (size_t i = 0; i < n && !best.m; i++) {
        if (toks[i].kind == LEX_NEWLINE) {
            line_no += line_start < i; /* count non-empty lines */
            line_start = i + 1;
            continue;
        }
        date_match dm;
        /* every shape opens with a number or with a month right before one
         * (as in match_tokens); elsewhere match_date fails without asking
         * any word's kind */
        if ((toks[i].kind != LEX_NUM && !(i + 1 < n && toks[i + 1].kind == LEX_NUM)) ||
            !match_date(text, toks, n, i, &dm))
            continue;
        /* look back over ':' and spaces for a label word */
        size_t j = i;
        while (j > 0 && (is_p(&toks[j - 1], ':') || is_p(&toks[j - 1], '-')))
            j--;
        lex_tok *label = j > 0 ? &toks[j - 1] : NULL;
        if (label)
            kind_of(text, label);
        if (label && label->kind == LEX_WORD && dm.y &&
            in_list(text + label->start, label->len, strong_labels, sizeof strong_labels / sizeof *strong_labels))
            best = dm;
        else if (label && label->kind == LEX_WORD && dm.y && !plain.m &&
                 in_list(text + label->start, label->len, plain_labels, sizeof plain_labels / sizeof *plain_labels))
            plain = dm;
        else if (label && label->kind == LEX_WORD && dm.y && !weak.m &&
                 in_list(text + label->start, label->len, weak_labels, sizeof weak_labels / sizeof *weak_labels))
            weak = dm;
        else if (!dateline.m && is_dateline_at(text, toks, line_start, line_no, i))
            dateline = dm;
        i = dm.next - 1;
    }
    if (!best.m && dateline.m) {
        best = dateline;
        if (!best.y)
            best.y = year_hint ? year_hint : context_year(text, len);
    }
    if (!best.m || !best.y)
        best = plain;
    if (!best.m || !best.y)
        best = weak;
    if (!best.m || !best.y)
        return 0;
    format_date(best.y, best.m, best.d, out);
    return 1;
}

/* The classes of bytes lex tells apart: a letter (or any non-ASCII byte)
 * and a digit continue a run of their class, a space (not a newline)
 * separates, every other byte is a token of its own. */
static bool lex_letter(unsigned char c) { return c >= 0x80 || ((c | 32) >= 'a' && (c | 32) <= 'z'); }
static bool lex_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool lex_space(unsigned char c) { return c != '\n' && nfi_is_space(c); }

/* The number of tokens lex makes of s[0,n) (when it has room for all):
 * each byte that is no space and does not continue a run of letters or
 * digits opens one. 8 bytes at a time. */
static size_t count_tokens(const char *s, size_t n)
{
    size_t count = 0, i = 0;
    uint64_t carry_letter = 0, carry_digit = 0; /* the byte before's class, as byte 0's high bit */
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, sizeof x);
        uint64_t high = x & NFI_SWAR_HIGH, low7 = x & ~NFI_SWAR_HIGH;
        uint64_t letter = high | nfi_swar_in(low7 | NFI_SWAR_ONES * 32, 'a', 'z');
        uint64_t digit = nfi_swar_in(low7, '0', '9') & ~high;
        uint64_t space = (nfi_swar_eq(low7, ' ') | nfi_swar_in(low7, '\t', '\r')) & ~nfi_swar_eq(low7, '\n') & ~high;
        uint64_t other = ~(letter | digit | space) & NFI_SWAR_HIGH;
        uint64_t opens = other | (letter & ~(letter << 8 | carry_letter)) | (digit & ~(digit << 8 | carry_digit));
        count += nfi_swar_count(opens);
        carry_letter = letter >> 56, carry_digit = digit >> 56;
    }
    bool letter = carry_letter != 0, digit = carry_digit != 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool l = lex_letter(c), d = lex_digit(c);
        count += !lex_space(c) && !(l && letter) && !(d && digit);
        letter = l, digit = d;
    }
    return count;
}

/* The first ASCII digit of s[from,n), n when there is none. 16 bytes at a
 * time with SSE2 (signed compares: bytes >= 0x80 are below '0'), then 8. */
static size_t next_digit(const char *s, size_t from, size_t n)
{
    size_t i = from;
#ifdef __SSE2__
    const __m128i below_0 = _mm_set1_epi8('0' - 1), past_9 = _mm_set1_epi8('9' + 1);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, below_0), _mm_cmplt_epi8(x, past_9)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
#endif
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, sizeof x);
        uint64_t digits = nfi_swar_in(x & ~NFI_SWAR_HIGH, '0', '9') & ~(x & NFI_SWAR_HIGH);
        if (digits)
            return i + (size_t)__builtin_ctzll(digits) / 8;
    }
    while (i < n && !lex_digit((unsigned char)s[i]))
        i++;
    return i;
}

/* Where the token `back` tokens before the one opening at s[at] opens (s[0]
 * opens one; fewer tokens there: 0). Runs are maximal, so a run found
 * backwards opens where lex opens it. */
static size_t tokens_back(const char *s, size_t at, int back)
{
    for (; back > 0; back--) {
        while (at > 0 && lex_space((unsigned char)s[at - 1]))
            at--;
        if (at == 0)
            return 0;
        unsigned char c = (unsigned char)s[at - 1];
        if (lex_letter(c))
            while (at > 0 && lex_letter((unsigned char)s[at - 1]))
                at--;
        else if (lex_digit(c))
            while (at > 0 && lex_digit((unsigned char)s[at - 1]))
                at--;
        else
            at--;
    }
    return at;
}

/* The dates of toks[0,n) (lexed from text) that open at a try position
 * (a number, or the token right before one) before token `limit` and not
 * before byte `from` of text, appended to out; returns the byte where the
 * tokens the last date used end (or `from`). */
static size_t match_tokens(const char *text, lex_tok *toks, size_t n, size_t limit, size_t from, uint16_t *out,
                           size_t *n_out, size_t max)
{
    for (size_t i = 0; i < limit && *n_out < max; i++) {
        date_match dm;
        /* every shape opens with a number or with a month right before one */
        if ((toks[i].kind != LEX_NUM && !(i + 1 < n && toks[i + 1].kind == LEX_NUM)) || toks[i].start < from)
            continue;
        if (match_date(text, toks, n, i, &dm)) {
            out[(*n_out)++] = (uint16_t)(dm.m * 100 + dm.d);
            i = dm.next - 1;
            from = toks[i].start + toks[i].len;
        }
    }
    return from;
}

/* Whether the run of digits at w[at] (a number token, ending at *end) may
 * be the number that opens a date or the one right after the month that
 * opens one, by the shapes match_date knows: a year 1900-2100 of 4 digits
 * before '-' or '/' (2024-06-14); a day 1-31 before '.' (14.06.2024, 14.
 * Juni) or before a word opening with 月 (6月14日); a day of 1-2 digits
 * before a month or "de" (14 June, 14 de junio) or after a month (June 14).
 * A date opens at such a number or at the token before it, so a number
 * that is none of these (most: 100, 2,300, 1.5, 2019 alone) needs no
 * lexing around it. */
static bool may_date(const char *w, size_t len, size_t at, size_t *end)
{
    size_t j = at;
    long v = 0;
    while (j < len && lex_digit((unsigned char)w[j]) && j - at < 9) /* the value lex gives */
        v = v * 10 + (w[j++] - '0');
    while (j < len && lex_digit((unsigned char)w[j]))
        j++;
    *end = j;
    size_t digits = j - at, next = j;
    while (next < len && lex_space((unsigned char)w[next]))
        next++;
    unsigned char c = next < len ? (unsigned char)w[next] : '\n'; /* the next token's first byte */
    if (digits == 4 && v >= 1900 && v <= 2100 && (c == '-' || c == '/'))
        return true;
    if (v < 1 || v > 31)
        return false;
    if (c == '.' || c == 0xE6) /* 0xE6: the lead byte of 月 */
        return true;
    if (digits > 2)
        return false;
    if (lex_letter(c)) {
        size_t e = next;
        while (e < len && lex_letter((unsigned char)w[e]))
            e++;
        if (lookup_month(w + next, e - next) || (e - next == 2 && nfi_str_ieq_prefix(w + next, 2, "de")))
            return true;
    }
    size_t p = at, s; /* the word before */
    while (p > 0 && lex_space((unsigned char)w[p - 1]))
        p--;
    for (s = p; s > 0 && lex_letter((unsigned char)w[s - 1]);)
        s--;
    return s < p && lookup_month(w + s, p - s);
}

/* Whether text[0,len) holds a number that may be in a date (may_date):
 * where none does, match_date succeeds at no token of its lexing, so
 * nf_find_date, which only takes what match_date finds, finds nothing
 * (most page heads: a time, a count, a price). */
static bool any_date_number(const char *text, size_t len)
{
    size_t end;
    for (size_t at = 0; (at = next_digit(text, at, len)) < len; at = end)
        if (may_date(text, len, at, &end))
            return true;
    return false;
}

/* The dates of a window lex takes whole (no more than the tokens it
 * keeps), lexed only around its digits (at: the first): a date opens at
 * most one token before a number and reads at most two tokens back (年)
 * and four on from where it opens, and lex's tokens do not depend on where
 * it starts, as long as that is where a token opens. So from each number
 * that may be in a date (may_date; match_date fails at and before any
 * other), two tokens back, a chunk of tokens is lexed and tried up to four
 * tokens before its end; the next digit search starts where trying
 * stopped, and a date that used tokens beyond a chunk keeps the next chunk
 * from trying inside them: the same dates as lexing the whole window. */
static void window_dates(const char *w, size_t len, size_t at, uint16_t *out, size_t *n_out, size_t max)
{
    enum { CHUNK = 12, AHEAD = 5 };
    lex_tok toks[CHUNK];
    size_t from = 0; /* digits searched from at; dates open from byte from */
    while (*n_out < max && (at = next_digit(w, at, len)) < len) {
        size_t end;
        if (!may_date(w, len, at, &end)) {
            at = end;
            continue;
        }
        size_t open = tokens_back(w, at, 2);
        size_t n = lex(w + open, len - open, toks, CHUNK);
        bool whole = n < CHUNK; /* the chunk reaches the window's end */
        size_t limit = whole ? n : n - AHEAD;
        from = match_tokens(w + open, toks, n, limit, from > open ? from - open : 0, out, n_out, max) + open;
        if (whole)
            return;
        at = open + toks[limit].start; /* the first token not tried */
    }
}

/* Windows of 2 KB (not cutting a word), each lexed as a whole would be:
 * the first MAX_TOKS tokens. Tokens are counted only in a window where
 * window_dates, which reads as if every token were kept, finds a date:
 * the tokens a cut drops can make a shape fail at a place, never match
 * there, so a window where reading everything finds no date has none
 * after the cut either. */
size_t nfi_month_days(const char *text, size_t len, uint16_t *out, size_t max)
{
    enum { WINDOW = 2048, MAX_TOKS = 700 };
    size_t n_out = 0;
    for (size_t at = 0; at < len && n_out < max;) {
        size_t end = at + WINDOW < len ? at + WINDOW : len;
        while (end < len && !nfi_is_space((unsigned char)text[end])) /* do not cut a word */
            end++;
        size_t digit = next_digit(text + at, 0, end - at), before = n_out;
        if (digit < end - at) /* every date match_date knows has a number */
            window_dates(text + at, end - at, digit, out, &n_out, max);
        if (n_out > before && count_tokens(text + at, end - at) > MAX_TOKS) {
            /* lex keeps the first MAX_TOKS tokens: lexed whole, as it cuts them */
            lex_tok toks[MAX_TOKS];
            size_t n = lex(text + at, end - at, toks, MAX_TOKS);
            n_out = before;
            match_tokens(text + at, toks, n, n, 0, out, &n_out, max);
        }
        at = end;
    }
    return n_out;
}

int32_t nfi_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

int32_t nfi_ymd_days(const char *s)
{
    int y, m, d, used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10 || m < 1 || m > 12 || d < 1 ||
        d > 31)
        return INT32_MIN;
    return nfi_days_from_civil(y, (unsigned)m, (unsigned)d);
}
