/* test_html.c - HTML extraction: what stays in the text (article paragraphs
 * in order, headings as lines) and what never does (menus, cookie notices,
 * share bars, related stories, comments, ads); metadata; charsets; bad and
 * hostile pages; HTML files through the reader. Every page here is written
 * for the test. */
#include "test_util.h"

#include <zlib.h>

/* ---------------------------------------------------------------- helpers */

static nf_doc extract(const char *html, const char *url)
{
    nf_doc d;
    memset(&d, 0, sizeof d);
    nf_error err;
    nf_extract_options o = {url, NULL, NULL, NULL};
    assert_int_equal(nf_extract_html(html, strlen(html), &o, &d, &err), NF_OK);
    assert_non_null(d.text);
    assert_int_equal(strlen(d.text), d.text_len);
    return d;
}

static int has(const nf_doc *d, const char *s) { return strstr(d->text, s) != NULL; }

#define PARA1 "The city council voted on Tuesday to extend the harbour tram line by four stations, a plan that had been debated for more than a decade."
#define PARA2 "Construction is due to begin next spring, and the council expects the first trams to run on the new section within three years, weather permitting."
#define PARA3 "Opponents argued that the money would be better spent on buses, but the motion passed with a clear majority after a long and heated session."
#define PARA4 "The mayor said the extension would connect two districts that have long been cut off from the centre, and promised regular public updates."

static const char news_page[] =
    "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
    "<title>Council backs tram extension | Harbour Gazette</title>"
    "<meta property=\"og:site_name\" content=\"Harbour Gazette\">"
    "<meta property=\"og:title\" content=\"Council backs tram extension\">"
    "<meta property=\"article:published_time\" content=\"2024-03-05T09:30:00+01:00\">"
    "<meta name=\"author\" content=\"Jane Doe\">"
    "<link rel=\"canonical\" href=\"/news/2024/03/tram-extension\">"
    "<style>.x{color:red}</style><script>var s = '</div><p>not text</p>';</script>"
    "</head><body>"
    "<div id=\"cookie-banner\" class=\"consent\"><p>We use cookies to give you the best experience on our "
    "website. By continuing you accept our cookie policy.</p><button>Accept all</button></div>"
    "<header><nav class=\"main-menu\"><ul><li><a href=\"/\">Home</a></li><li><a href=\"/news\">News</a></li>"
    "<li><a href=\"/sport\">Sport</a></li><li><a href=\"/weather\">Weather</a></li></ul></nav></header>"
    "<main><article><h1>Council backs tram extension</h1>"
    "<div class=\"byline\">By Jane Doe, 5 March 2024</div>"
    "<div class=\"share-bar\"><a href=\"#\">Share on Facebook</a> <a href=\"#\">Share on X</a></div>"
    "<div class=\"article-body\"><p>" PARA1 "</p><p>" PARA2 "</p>"
    "<div class=\"ad-slot\">Advertisement</div>"
    "<h2>A long debate</h2><p>" PARA3 "</p><!-- <p>commented out text</p> -->"
    "<p>" PARA4 "</p></div>"
    "<svg><text>icon text</text></svg>"
    "</article>"
    "<section class=\"related-stories\"><h3>Related stories</h3><ul>"
    "<li><a href=\"/a\">Bus fares to rise in the spring after a long review of the network</a></li>"
    "<li><a href=\"/b\">New bridge opens to cyclists and pedestrians after two years of work</a></li>"
    "<li><a href=\"/c\">Harbour festival returns with more stalls than ever before</a></li></ul></section>"
    "<div id=\"comments\"><div class=\"comment\"><p>I think this is a terrible waste of money and the council "
    "should be ashamed of itself for pushing it through without asking residents.</p></div></div>"
    "</main><footer><p>Copyright 2024 Harbour Gazette. All rights reserved.</p>"
    "<a href=\"/privacy\">Privacy</a> <a href=\"/terms\">Terms</a></footer></body></html>";

/* ------------------------------------------------------------------ tests */

static void test_article_and_boilerplate(void **state)
{
    (void)state;
    nf_doc d = extract(news_page, "https://gazette.example/news/2024/03/tram-extension?ref=home");
    const char *kept[] = {PARA1, PARA2, "A long debate", PARA3, PARA4};
    const char *prev = d.text;
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        const char *at = strstr(d.text, kept[i]);
        assert_non_null(at);
        assert_true(at >= prev); /* in order */
        prev = at;
    }
    assert_true(tu_has_line(d.text, "A long debate")); /* a heading is a line of its own */
    assert_non_null(strstr(d.text, PARA1 "\n\n" PARA2)); /* paragraphs: blank lines between */
    const char *never[] = {"cookie", "Accept all", "Home", "Sport", "Share on", "Advertisement",
                           "Related stories", "Bus fares", "terrible waste", "Copyright", "Privacy",
                           "not text", "commented out", "icon text", "By Jane Doe"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        if (has(&d, never[i]))
            fail_msg("\"%s\" leaked into the text:\n%s", never[i], d.text);
    assert_false(has(&d, "Council backs tram extension")); /* the headline is the title, not text */
    nf_doc_free(&d);
}

static void test_metadata(void **state)
{
    (void)state;
    nf_doc d = extract(news_page, "https://gazette.example/news/2024/03/tram-extension?ref=home");
    assert_string_equal(d.title, "Council backs tram extension");
    assert_string_equal(d.published, "2024-03-05");
    assert_string_equal(d.lang, "en");
    assert_string_equal(d.source, "Harbour Gazette");
    assert_string_equal(d.url, "https://gazette.example/news/2024/03/tram-extension");
    assert_non_null(d.extract);
    assert_string_equal(d.extract->author, "Jane Doe");
    assert_string_equal(d.extract->date_source, "meta");
    assert_string_equal(d.extract->charset, "utf-8");
    assert_true(d.extract->paragraphs_kept >= 5);
    assert_true(d.extract->paragraphs_dropped > 0);
    assert_int_equal(d.extract->bytes_in, strlen(news_page));
    nf_doc_free(&d);
}

static void test_jsonld(void **state)
{
    (void)state;
    /* the body is rendered by script: only JSON-LD carries the article */
    const char page[] =
        "<html><head><title>Storm closes port - Coast Daily</title>"
        "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":[{\"@type\":"
        "\"WebSite\",\"name\":\"Coast Daily\"},{\"@type\":\"NewsArticle\",\"headline\":\"Storm closes port\","
        "\"datePublished\":\"2023-11-02T06:00:00Z\",\"inLanguage\":\"en\",\"author\":[{\"@type\":\"Person\","
        "\"name\":\"A. Writer\"},{\"@type\":\"Person\",\"name\":\"B. Writer\"}],\"publisher\":{\"name\":"
        "\"Coast Daily\"},\"articleBody\":\"The port was closed on Thursday morning as the storm brought winds "
        "of more than one hundred kilometres per hour to the coast.\\nFerries to the islands were cancelled "
        "and harbour officials said the closure would last at least until Friday evening, depending on the "
        "forecast.\\nResidents were asked to stay indoors and to keep away from the sea front, where waves "
        "had already damaged several boats and part of the promenade.\"}]}</script>"
        "</head><body><div id=\"app\"><nav><a href=\"/\">Home</a></nav></div></body></html>";
    nf_doc d = extract(page, NULL);
    assert_string_equal(d.title, "Storm closes port");
    assert_string_equal(d.published, "2023-11-02");
    assert_string_equal(d.extract->date_source, "json-ld");
    assert_string_equal(d.extract->author, "A. Writer, B. Writer");
    assert_string_equal(d.source, "Coast Daily");
    assert_string_equal(d.lang, "en");
    assert_true(d.extract->used_jsonld);
    assert_true(has(&d, "Ferries to the islands were cancelled"));
    assert_non_null(strstr(d.text, "coast.\n\nFerries")); /* its lines become paragraphs */
    nf_doc_free(&d);
}

static void test_dates(void **state)
{
    (void)state;
    const char with_time[] = "<html><body><h1>Museum reopens</h1><time datetime=\"2022-07-14T10:00\">14 July</time>"
                             "<p>" PARA1 "</p><p>" PARA2 "</p></body></html>";
    nf_doc d = extract(with_time, NULL);
    assert_string_equal(d.published, "2022-07-14");
    assert_string_equal(d.extract->date_source, "time");
    nf_doc_free(&d);
    const char no_date[] = "<html><body><p>" PARA1 "</p><p>" PARA2 "</p></body></html>";
    d = extract(no_date, "https://site.example/2021/05/09/story.html");
    assert_string_equal(d.published, "2021-05-09");
    assert_string_equal(d.extract->date_source, "url");
    assert_string_equal(d.url, "https://site.example/2021/05/09/story.html");
    assert_string_equal(d.source, "site.example"); /* no site name: the host */
    nf_doc_free(&d);
    nf_extract_options o = {NULL, NULL, "Tue, 19 Nov 2019 10:00:00 GMT", NULL};
    memset(&d, 0, sizeof d);
    nf_error err;
    assert_int_equal(nf_extract_html(no_date, strlen(no_date), &o, &d, &err), NF_OK);
    assert_string_equal(d.published, "2019-11-19");
    assert_string_equal(d.extract->date_source, "http");
    nf_doc_free(&d);
}

static void test_flat_page_cookie_text(void **state)
{
    (void)state;
    /* no telling classes at all: the notice is caught by its wording, the menu by its links */
    const char page[] =
        "<html><body><div>We use cookies to improve your experience on this website. If you continue "
        "browsing we will assume that you accept them.</div>"
        "<div><a href=\"/1\">World</a> | <a href=\"/2\">Business</a> | <a href=\"/3\">Culture</a> | "
        "<a href=\"/4\">Science</a></div>"
        "<p>" PARA1 "</p><p>" PARA2 "</p><p>" PARA3 "</p></body></html>";
    nf_doc d = extract(page, NULL);
    assert_true(has(&d, PARA1) && has(&d, PARA3));
    assert_false(has(&d, "cookies"));
    assert_false(has(&d, "Business"));
    nf_doc_free(&d);
}

/* Laid out like the scraped pages in ../shared/seeds: an aggregator that
 * republishes a wire report, with its template around it. */
static void test_seed_like_page(void **state)
{
    (void)state;
    const char page[] =
        "<html lang=\"en\"><head><title>Minister discusses visit by phone - World Wire Digest</title></head>"
        "<body><div class=\"top\"><div>Diese Website verwendet Cookies, um Ihnen das beste Erlebnis zu bieten. "
        "Mit der Nutzung stimmen Sie der Cookie-Richtlinie zu.</div>"
        "<ul><li><a href=\"/\">Home</a></li><li><a href=\"/politics\">Politics</a></li><li><a href=\"/world\">"
        "World</a></li><li><a href=\"/tech\">Tech</a></li><li><a href=\"/contact\">Contact</a></li></ul></div>"
        "<div class=\"wrap\"><h1>Minister discusses visit by phone</h1><div>Minister discusses visit by phone</div>"
        "<figure><img src=\"a.jpg\"><figcaption>The file photo shows the two ministers at an earlier press "
        "conference in the capital. (Photo by the press corps. Resale prohibited)</figcaption></figure>"
        "<p>SEOUL, June 14 (Wire) -- The first vice foreign minister spoke by phone on Friday with his counterpart "
        "to discuss a possible visit that officials expect early next week, the ministry said.</p>"
        "<p>The call took place as the visit is widely expected within a few days, while the presidential office "
        "confirmed that the trip is likely and that preparations had begun in both capitals.</p>"
        "<p>The two sides agreed to continue close consultations and to share information as events unfold over "
        "the coming days, according to a statement released after the call.</p>"
        "<p>(END)</p>"
        "<div class=\"nav-links\"><a href=\"/p\">PREV</a> <a href=\"/n\">NEXT</a></div>"
        "<p>For Latest Updates Follow us on Google News</p></div>"
        "<div class=\"bottom\"><p>[email&#160;protected]</p><p>Copyright 2024 World Wire Digest</p></div>"
        "</body></html>";
    nf_doc d = extract(page, NULL);
    assert_true(has(&d, "SEOUL, June 14 (Wire)"));
    assert_true(has(&d, "close consultations"));
    const char *never[] = {"Cookies", "Home", "Politics", "Contact", "file photo", "(END)", "PREV", "NEXT",
                           "Google News", "protected", "Copyright"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        if (has(&d, never[i]))
            fail_msg("\"%s\" leaked into the text:\n%s", never[i], d.text);
    assert_false(has(&d, "Minister discusses visit by phone")); /* the title, repeated, is not text */
    assert_string_equal(d.title, "Minister discusses visit by phone");
    nf_doc_free(&d);
}

static void test_teaser_cards(void **state)
{
    (void)state;
    nfi_buf page;
    nfi_buf_init(&page);
    nfi_buf_puts(&page, "<html><body><div class=\"story\"><p>" PARA1 "</p><p>" PARA2 "</p><p>" PARA3
                       "</p></div><ul class=\"more\">");
    for (int i = 0; i < 6; i++)
        nfi_buf_printf(&page, "<li class=\"card\"><h4><a href=\"/s%d\">Another story headline number %d here</a>"
                             "</h4><div class=\"summary\">A short summary of another story that sits below the "
                             "article, long enough to look like prose to a naive extractor %d.</div></li>",
                      i, i, i);
    nfi_buf_puts(&page, "</ul></body></html>");
    nf_doc d = extract(page.data, NULL);
    assert_true(has(&d, PARA2));
    assert_false(has(&d, "summary of another story"));
    assert_false(has(&d, "Another story headline"));
    nf_doc_free(&d);
    nfi_buf_free(&page);
}

static void test_charsets(void **state)
{
    (void)state;
    nf_error err;
    nf_doc d;
    /* windows-1252 bytes declared by <meta>; 0x93/0x94 are curly quotes there */
    const char latin[] = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">"
                         "</head><body><p>Caf\xE9 owners say \x93" "business is good\x94 this year, and the "
                         "caf\xE9s along the river have never been busier than during this long summer.</p>"
                         "</body></html>";
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(latin, strlen(latin), NULL, &d, &err), NF_OK);
    assert_string_equal(d.extract->charset, "windows-1252");
    assert_true(has(&d, "Caf\xC3\xA9 owners say \xE2\x80\x9C" "business is good\xE2\x80\x9D"));
    nf_doc_free(&d);
    /* Shift_JIS named only by the HTTP header */
#define SJIS_SENTENCE "\x93\xfa\x96\x7b\x82\xcc\x83\x6a\x83\x85\x81\x5b\x83\x58\x82\xc5\x82\xb7\x81\x42"
    const char sjis[] = "<html><body><p>" SJIS_SENTENCE SJIS_SENTENCE SJIS_SENTENCE SJIS_SENTENCE SJIS_SENTENCE
                        "</p></body></html>";
    nf_extract_options o = {NULL, "text/html; charset=Shift_JIS", NULL, NULL};
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(sjis, strlen(sjis), &o, &d, &err), NF_OK);
    assert_true(has(&d, "\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81\xAE")); /* 日本の */
    nf_doc_free(&d);
    /* declared Latin-1, sent as UTF-8: the bytes win */
    const char liar[] = "<html><head><meta charset=\"iso-8859-1\"></head><body><p>Z\xC3\xBCrich \xE2\x80\x93 "
                        "the lake was calm all week, and the boats went out every morning.</p></body></html>";
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(liar, strlen(liar), NULL, &d, &err), NF_OK);
    assert_string_equal(d.extract->charset, "utf-8");
    assert_true(has(&d, "Z\xC3\xBCrich \xE2\x80\x93 the lake"));
    nf_doc_free(&d);
    /* UTF-16LE with a byte order mark */
    const char *ascii = "<html><body><p>Sixteen bits per unit, and every letter of this sentence takes two "
                        "bytes.</p></body></html>";
    size_t n = strlen(ascii);
    char *u16 = calloc(2 * n + 2, 1);
    u16[0] = (char)0xFF;
    u16[1] = (char)0xFE;
    for (size_t i = 0; i < n; i++)
        u16[2 + 2 * i] = ascii[i];
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(u16, 2 * n + 2, NULL, &d, &err), NF_OK);
    assert_string_equal(d.extract->charset, "utf-16le");
    assert_true(has(&d, "Sixteen bits per unit, and every letter"));
    nf_doc_free(&d);
    free(u16);
}

static void test_bad_pages(void **state)
{
    (void)state;
    nf_error err;
    nf_doc d;
    /* binary data is refused, not parsed */
    char bin[2048];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)(i * 7 % 256);
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(bin, sizeof bin, NULL, &d, &err), NF_SKIPPED);
    assert_non_null(strstr(err.message, "binary"));
    nf_doc_free(&d);
    /* empty, truncated and tag soup still give a document */
    const char *pages[] = {"", ("<html><body><p>" PARA1 "</p><p>Cut off in the mid"), "<<<>>><p<<a href=\"",
                           ("<table><tr><td><p>" PARA2 "<td>x</table></i></b></div></p>"),
                           "<svg><svg><svg>deep</svg>", "<!-- never closed", "<script>never closed",
                           "<title>only a title</title>", ("<plaintext><p>" PARA3)};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        memset(&d, 0, sizeof d);
        assert_int_equal(nf_extract_html(pages[i], strlen(pages[i]), NULL, &d, &err), NF_OK);
        assert_non_null(d.text);
        nf_doc_free(&d);
    }
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(pages[1], strlen(pages[1]), NULL, &d, &err), NF_OK);
    assert_true(has(&d, PARA1));
    nf_doc_free(&d);
    /* very deep nesting stays bounded */
    nfi_buf deep;
    nfi_buf_init(&deep);
    for (int i = 0; i < 20000; i++)
        nfi_buf_puts(&deep, "<div>");
    nfi_buf_puts(&deep, PARA1);
    memset(&d, 0, sizeof d);
    assert_int_equal(nf_extract_html(deep.data, deep.len, NULL, &d, &err), NF_OK);
    nf_doc_free(&d);
    nfi_buf_free(&deep);
}

static void write_gz(const char *dir, const char *name, const char *data)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    gzputs(g, data);
    gzclose(g);
}

static void test_reader(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    tu_write(dir, "a.html", news_page, strlen(news_page));
    const char small[] = "<html><body><p>" PARA2 "</p></body></html>";
    tu_write(dir, "b.htm", small, strlen(small));
    write_gz(dir, "c.html.gz", news_page);
    nfi_buf big;
    nfi_buf_init(&big);
    nfi_buf_puts(&big, "<html><body>");
    while (big.len < 5000)
        nfi_buf_puts(&big, "<p>" PARA3 "</p>");
    tu_write(dir, "d.html", big.data, big.len);
    nfi_buf_free(&big);
    for (int deferred = 0; deferred < 2; deferred++) {
        nf_reader *r;
        nf_error err;
        nf_reader_options o = {.max_page_bytes = 4096, .defer_extract = deferred};
        const char *paths[] = {dir};
        assert_int_equal(nf_reader_open(&r, paths, 1, &o, &err), NF_OK);
        const char *want[] = {"a.html", "b.htm", "c.html.gz"};
        size_t n = 0, skipped = 0;
        for (;;) {
            nf_doc d;
            nf_status st = nf_reader_next(r, &d, &err);
            if (st == NF_END)
                break;
            if (st == NF_SKIPPED) { /* d.html is over the 4096-byte page limit */
                assert_non_null(strstr(err.message, "d.html"));
                assert_non_null(strstr(err.message, "larger than 4096"));
                skipped++;
                continue;
            }
            assert_int_equal(st, NF_OK);
            assert_true(n < 3);
            assert_string_equal(d.id, want[n]);
            assert_non_null(d.extract);
            assert_true(deferred ? d.extract->raw != NULL : d.extract->raw == NULL);
            assert_int_equal(nf_doc_extract(&d, NULL, &err), NF_OK);
            assert_null(d.extract->raw);
            assert_true(has(&d, n == 1 ? PARA2 : PARA1));
            n++;
            nf_doc_free(&d);
        }
        assert_int_equal(n, 3);
        assert_int_equal(skipped, 1);
        nf_reader_close(r);
    }
    tu_rmtree(dir);
    free(dir);
}

static void test_clean_takes_html(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    tu_write(dir, "page.html", news_page, strlen(news_page));
    tu_corpus c = tu_clean_path(dir, 1, 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.docs[0].title, "Council backs tram extension");
    assert_string_equal(c.docs[0].published, "2024-03-05");
    assert_non_null(strstr(c.docs[0].text, "harbour tram line"));
    assert_null(strstr(c.docs[0].text, "cookie"));
    tu_corpus_free(&c);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article_and_boilerplate),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_jsonld),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_flat_page_cookie_text),
        cmocka_unit_test(test_seed_like_page),
        cmocka_unit_test(test_teaser_cards),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_bad_pages),
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_clean_takes_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
