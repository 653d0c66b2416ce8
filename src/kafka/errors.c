/* errors.c — which client errors no reconnect can fix (see kafka_internal.h). */
#include <string.h>

#include "kafka/kafka_internal.h"

/* A refused login is final. A TLS failure is final only when it is about the certificate: the
 * same __SSL code also reports a handshake cut short by a broker that is restarting. */
bool kafka_err_is_auth_failure(rd_kafka_resp_err_t err, const char *reason)
{
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED)
        return true;
    return err == RD_KAFKA_RESP_ERR__SSL && reason && strstr(reason, "certificate");
}
