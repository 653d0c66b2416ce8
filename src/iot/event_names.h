/* event_names.h — private to src/iot: the static reason-name strings (those of a
 * sensor kind are in its row of sensor_kinds.h). */
#ifndef ST_IOT_EVENT_NAMES_H
#define ST_IOT_EVENT_NAMES_H

#include "iot/event.h"

/* "missing_field:<f>", "wrong_type:<f>", "invalid_field:<f>" for field f. */
const char *iot_name_field_reason(iot_reason r, iot_field f);

#endif
