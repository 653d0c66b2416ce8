/* web_assets.h — the dashboard's page, script, style and the vendored uPlot, compiled into the
 * binary from web/ by cmake/embed_web.cmake (the generated web_assets.c). */
#ifndef ST_DASH_WEB_ASSETS_H
#define ST_DASH_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* "/index.html", "/vendor/uplot/uPlot.iife.min.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_assets_count;

#endif
