/* test_langid.c - language identification on sentences and headlines
 * written for this test in several languages and scripts, and its
 * confidence behaviour. */
#include "test_util.h"

static void test_languages(void **state)
{
    (void)state;
    nf_langid *lid;
    nf_error err;
    assert_int_equal(nf_langid_new(&lid, &err), NF_OK);
    static const struct { const char *lang, *text; } cases[] = {
        {"en", "The harbour master closed the port after the fire, and the ferries were sent to the "
               "northern pier while investigators examined the warehouse."},
        {"de", "Der Hafenmeister schloss den Hafen nach dem Brand, und die Fähren wurden zum nördlichen "
               "Anleger umgeleitet, während Ermittler das Lagerhaus untersuchten."},
        {"fr", "Le capitaine du port a fermé le port après l'incendie, et les ferries ont été envoyés "
               "vers la jetée nord pendant que les enquêteurs examinaient l'entrepôt."},
        {"es", "El capitán del puerto cerró el puerto después del incendio, y los transbordadores "
               "fueron enviados al muelle norte mientras los investigadores examinaban el almacén."},
        {"ru", "Начальник порта закрыл порт после пожара, а паромы были направлены к северному причалу, "
               "пока следователи осматривали склад."},
        {"ko", "항만 관리자는 화재 이후 항구를 폐쇄했고 여객선은 북쪽 부두로 보내졌다."},
        {"ja", "港湾長は火災の後に港を閉鎖し、フェリーは北の桟橋に送られた。"},
        {"zh", "港务长在火灾后关闭了港口，渡轮被派往北码头，调查人员正在检查仓库。"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double conf;
        const char *got = nf_langid_detect(lid, cases[i].text, strlen(cases[i].text), &conf);
        if (strcmp(got, cases[i].lang) != 0)
            fail_msg("expected %s, got %s for case %zu", cases[i].lang, got, i);
        assert_true(conf > 0.5 && conf <= 1.0);
    }
    double conf_short, conf_long;
    nf_langid_detect(lid, "Hafen", 5, &conf_short);
    nf_langid_detect(lid, cases[1].text, strlen(cases[1].text), &conf_long);
    assert_true(conf_short < conf_long);
    double conf_none;
    assert_string_equal(nf_langid_detect(lid, "", 0, &conf_none), "und");
    assert_true(conf_none == 0.0);
    nf_langid_free(lid);
}

/* Headlines (short, no function-word evidence) are CLD2's job. */
static void test_headlines(void **state)
{
    (void)state;
    nf_langid *lid;
    nf_error err;
    assert_int_equal(nf_langid_new(&lid, &err), NF_OK);
    static const struct { const char *lang, *text; } cases[] = {
        {"en", "Harbour fire forces ferries north as investigators search warehouse"},
        {"de", "Großbrand im Hafen: Fähren weichen auf den nördlichen Anleger aus"},
        {"fr", "Incendie au port : les ferries déroutés vers la jetée nord"},
        {"es", "Incendio en el puerto obliga a desviar los transbordadores"},
        {"pt", "Incêndio no porto obriga as balsas a usar o cais do norte da cidade"},
        {"it", "Incendio al porto, i traghetti dirottati sul molo settentrionale"},
        {"ru", "Пожар в порту: паромы направлены к северному причалу"},
        {"nl", "Brand in de haven: veerboten uitgeweken naar de noordelijke pier"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double conf;
        const char *got = nf_langid_detect(lid, cases[i].text, strlen(cases[i].text), &conf);
        if (strcmp(got, cases[i].lang) != 0)
            fail_msg("expected %s, got %s for headline %zu", cases[i].lang, got, i);
        assert_true(conf > 0.0 && conf < 0.97); /* short: never as sure as a long text */
    }
    double conf;
    assert_string_equal(nf_langid_detect(lid, "2024 - 15:30 - 1:0", 18, &conf), "und");
    assert_true(conf == 0.0);
    nf_langid_free(lid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_languages), cmocka_unit_test(test_headlines)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
