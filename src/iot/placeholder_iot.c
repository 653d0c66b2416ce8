/* placeholder so the module library is never empty */
typedef int st_iot_placeholder_t;
