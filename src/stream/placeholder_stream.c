/* placeholder so the module library is never empty */
typedef int st_stream_placeholder_t;
