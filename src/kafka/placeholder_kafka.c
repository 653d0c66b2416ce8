/* placeholder so the module library is never empty */
typedef int st_kafka_placeholder_t;
