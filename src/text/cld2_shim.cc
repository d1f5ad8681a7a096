/*
 * cld2_shim.cc - the C entry point to CLD2 (Debian libcld2), the only C++
 * in the library. CLD2 is a C++ API; this file turns one call into a plain
 * C function so that langid.c stays C. CLD2 keeps no state between calls
 * and its model is compiled into the shared library, so the call is
 * reentrant and needs no setup. No exception crosses into C: CLD2 throws
 * none on this path, and anything unexpected is reported as "unknown".
 */
#include <cstdio> /* FILE, which compact_lang_det.h uses without including */
#include <cstring>

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>

extern "C" int nfi_cld2_detect(const char *text, int len, char codes[3][8], int percent[3], int *reliable);

/* Writes the CLD2 codes of the three most likely languages of text (valid
 * UTF-8), best first ("un" when unknown), their shares of the text in
 * percent and whether CLD2 considers the answer reliable. Returns 1, or 0
 * on failure. */
extern "C" int nfi_cld2_detect(const char *text, int len, char codes[3][8], int percent[3], int *reliable)
{
    try {
        CLD2::Language top3[3];
        int text_bytes;
        double scores3[3];
        bool is_reliable = false;
        CLD2::CLDHints hints = {NULL, NULL, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
        CLD2::ExtDetectLanguageSummary(text, len, true, &hints, CLD2::kCLDFlagBestEffort, top3, percent, scores3,
                                       NULL, &text_bytes, &is_reliable);
        for (int i = 0; i < 3; i++) {
            const char *c = CLD2::LanguageCode(top3[i]);
            size_t n = strlen(c) < 7 ? strlen(c) : 7;
            memcpy(codes[i], c, n);
            codes[i][n] = '\0';
        }
        *reliable = is_reliable;
        return 1;
    } catch (...) {
        return 0;
    }
}
