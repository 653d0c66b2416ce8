/* placeholder so the module library is never empty */
typedef int st_delta_placeholder_t;
