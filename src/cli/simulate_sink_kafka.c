/* simulate_sink_kafka.c — KAFKA HOOK of `smarttech simulate` (see simulate_sink.h).
 * Placeholder: replace this file with the producer sink. */
#include "cli/simulate_sink.h"

st_code sink_kafka_open(sim_sink **out, const sim_sink_opts *o, st_err *e)
{
    *out = NULL;
    return st_err_set(e, ST_ERR_UNSUPPORTED, "Kafka output (--brokers %s) is not available yet; use --files DIR or stdout",
                      o->brokers ? o->brokers : "");
}
