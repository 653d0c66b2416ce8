/* fuzz_s3_xml.c — libFuzzer harness for the XML the S3 backend reads from servers
 * (store/s3_xml.c): every document parser on the same bytes, and the raw parser with a callback
 * that touches every path and text it is given. Seeds: the answers of s3proxy and AWS's
 * documented shapes (scripts/fuzz writes them). Uses the module's private header: the parser is
 * not public API. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_internal.h"

static volatile uint64_t xml_sink;

static int touch(void *arg, const char *path, const char *text, size_t len)
{
    (void)arg;
    xml_sink += strlen(path) + len + (len ? (unsigned char)text[len - 1] : 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_err e;
    s3_xml_parse(data, size, touch, NULL, &e);
    s3_list_page lp;
    if (s3_parse_list(data, size, &lp, &e) == ST_OK) {
        for (size_t i = 0; i < lp.entries.count; i++) xml_sink += strlen(lp.entries.items[i].key);
        s3_list_page_free(&lp);
    }
    s3_uploads_page up;
    if (s3_parse_uploads(data, size, &up, &e) == ST_OK) {
        xml_sink += up.count;
        s3_uploads_page_free(&up);
    }
    free(s3_parse_upload_id(data, size, &e));
    char code[64], msg[256];
    xml_sink += (uint64_t)s3_parse_error(data, size, code, sizeof code, msg, sizeof msg);
    return 0;
}
